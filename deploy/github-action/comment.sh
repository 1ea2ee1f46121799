#!/usr/bin/env bash
# Posts DIR/gate.md on pull request PR, or updates the comment it posted before (found by
# its marker), so a pull request carries one gate comment. A token that may not write
# (a pull request from a fork) gets a warning, not a failure.
set -uo pipefail
marker='<!-- koprogo-perf gate -->'
body="$DIR/comment.md"
{
  echo "$marker"
  cat "$DIR/gate.md"
} >"$body"
repo="$GITHUB_REPOSITORY"
warn() {
  echo "::warning::koprogo-perf: cannot comment on pull request #$PR (the token needs pull-requests: write; a fork's has it not); the summary is on the job page"
  exit 0
}
comments=$(gh api "repos/$repo/issues/$PR/comments" --paginate) || warn
id=$(jq -rs --arg m "$marker" '[.[][] | select(.body | startswith($m))] | last | .id // empty' <<<"$comments") || warn
if [ -n "$id" ]; then
  gh api -X PATCH "repos/$repo/issues/comments/$id" -F body=@"$body" >/dev/null || warn
else
  gh api "repos/$repo/issues/$PR/comments" -F body=@"$body" >/dev/null || warn
fi
echo "gate summary posted on pull request #$PR"
