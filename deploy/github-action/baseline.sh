#!/usr/bin/env bash
# Downloads the newest unexpired artifact NAME uploaded by a run on BRANCH (the runs of
# the baseline branch, each with its run.json) into DIR/baseline. None yet, or no
# permission to read it: found=false, and the gate checks thresholds only.
set -uo pipefail
found=false
mkdir -p "$DIR/baseline"
notice() {
  echo "::notice::koprogo-perf: $*"
  echo "found=$found" >>"$GITHUB_OUTPUT"
  exit 0
}
if ! listing=$(gh api -X GET "repos/$GITHUB_REPOSITORY/actions/artifacts" -f name="$NAME" -f per_page=100); then
  notice "cannot list the artifacts (the token needs actions: read): no baseline, thresholds only"
fi
id=$(jq -r --arg branch "$BRANCH" \
  '[.artifacts[] | select(.expired | not) | select(.workflow_run.head_branch == $branch)]
   | sort_by(.created_at) | last | .id // empty' <<<"$listing")
if [ -z "$id" ]; then
  notice "no artifact $NAME from branch $BRANCH yet: no baseline, thresholds only (a run on $BRANCH uploads one)"
fi
if ! gh api "repos/$GITHUB_REPOSITORY/actions/artifacts/$id/zip" >"$DIR/baseline.zip" ||
  ! unzip -q -o "$DIR/baseline.zip" -d "$DIR/baseline"; then
  notice "cannot download artifact $NAME ($id): no baseline, thresholds only"
fi
if [ -z "$(find "$DIR/baseline" -name run.json -print -quit)" ]; then
  notice "artifact $NAME ($id) holds no run.json: no baseline, thresholds only"
fi
found=true
echo "baseline: artifact $NAME ($id) from $BRANCH"
echo "found=$found" >>"$GITHUB_OUTPUT"
