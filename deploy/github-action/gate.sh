#!/usr/bin/env bash
# Runs the load RUNS times through koprogo-perf gate --runs, gated against DIR/baseline
# when one was found and against the thresholds; writes DIR/gate.md (also appended to
# $GITHUB_STEP_SUMMARY by gate), DIR/gate.xml (JUnit), DIR/report.html, and the outputs
# exit-code and verdict. It never fails itself: the last step of the action does, from
# exit-code. Relative paths (scenario, thresholds) are the repository's.
set -uo pipefail
finish() {
  local code=$1 verdict
  case "$code" in
    0) verdict=pass ;;
    1) verdict=fail ;;
    *) verdict=error ;;
  esac
  if [ ! -s "$DIR/gate.md" ]; then
    printf '## ❌ koprogo-perf gate could not run (exit %s)\n\nSee the job log.\n' "$code" >"$DIR/gate.md"
    [ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat "$DIR/gate.md" >>"$GITHUB_STEP_SUMMARY"
  fi
  {
    echo "exit-code=$code"
    echo "verdict=$verdict"
  } >>"$GITHUB_OUTPUT"
  exit 0
}
scenario_file="$SCENARIO"
if [ -n "$FROM_OPENAPI" ]; then
  koprogo-perf scenario --from-openapi "$FROM_OPENAPI" --out "$DIR/openapi.toml" --force || finish 2
  scenario_file="$DIR/openapi.toml"
fi
thresholds_file="$THRESHOLDS"
if [ -z "$thresholds_file" ]; then
  thresholds_file="$DIR/thresholds.toml"
  echo 'thresholds = ["error_rate < 1%"]' >"$thresholds_file"
fi
args=(gate --runs "$RUNS" --thresholds "$thresholds_file" --junit "$DIR/gate.xml"
  --format markdown --out "$DIR/gate.md")
if [ "$BASELINE_FOUND" = true ]; then
  args+=(--baseline "$DIR/baseline")
fi
logins=()
if [ -z "${KOPROGO_PERF_LOGINS:-}" ]; then
  logins=(--logins-file "$DIR/logins.txt")
fi
# GATE_ARGS and LOAD_ARGS are lists of flags: split on purpose.
# shellcheck disable=SC2086
koprogo-perf "${args[@]}" $GATE_ARGS -- load --host "$HOST" --scenario "$scenario_file" \
  "${logins[@]}" --quiet $LOAD_ARGS --out "$DIR/runs"
code=$?
if [ "$BASELINE_FOUND" != true ] && [ -s "$DIR/gate.md" ]; then
  note=$'\n> No baseline of the baseline branch yet: thresholds only. A run there uploads one.\n'
  echo "$note" >>"$DIR/gate.md"
  [ -n "${GITHUB_STEP_SUMMARY:-}" ] && echo "$note" >>"$GITHUB_STEP_SUMMARY"
fi
if [ -f "$DIR/runs/run-1/run.json" ]; then
  report=(report "$DIR/runs/run-1" --format html --out "$DIR/report.html")
  [ "$BASELINE_FOUND" = true ] && report+=(--baseline "$DIR/baseline")
  koprogo-perf "${report[@]}" || echo "::warning::koprogo-perf: the HTML report failed"
fi
finish "$code"
