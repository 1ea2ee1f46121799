#!/usr/bin/env bash
# The action's first step (action.yml): checks the inputs, one ::error:: line each and
# exit 2 as the tool's bad input; makes the working directory; decides whether these
# runs become the next baseline (on the baseline branch, not for a pull request).
set -euo pipefail
fail() {
  echo "::error::koprogo-perf action: $*"
  exit 2
}
case "$RUNS" in
  '' | *[!0-9]* | 0) fail "runs: \`$RUNS\` is not a whole number of 1 or more" ;;
esac
case "$SEED_SCALE" in
  '' | *[!0-9]*) fail "seed-scale: \`$SEED_SCALE\` is not a whole number (0: do not seed)" ;;
esac
if [ "$SEED_SCALE" = 0 ] && [ -z "$LOGINS" ]; then
  fail "seed-scale 0 (no seed) needs logins: the EMAIL:PASSWORD entries the runs log in with, from a secret"
fi
if [ "$SEED_SCALE" != 0 ] && [ -z "$ADMIN" ]; then
  fail "seed-scale $SEED_SCALE needs admin: the superadmin's EMAIL:PASSWORD, from a secret (or seed-scale 0 and logins)"
fi
dir="${RUNNER_TEMP:-/tmp}/koprogo-perf"
rm -rf "$dir"
mkdir -p "$dir"
chmod 700 "$dir"
branch="${BASELINE_BRANCH:-${DEFAULT_BRANCH:-main}}"
record=false
case "$EVENT" in
  pull_request | pull_request_target) ;;
  *) if [ "${GITHUB_REF:-}" = "refs/heads/$branch" ]; then record=true; fi ;;
esac
{
  echo "dir=$dir"
  echo "baseline-branch=$branch"
  echo "record=$record"
} >>"$GITHUB_OUTPUT"
