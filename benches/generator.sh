#!/usr/bin/env bash
# The load generator's efficiency, side by side in one run against ONE `serve` process:
#   cargo build --release && bash benches/generator.sh [SECONDS] [ROUNDS]
# - GET /api/v1/health at full speed: `load --scenario health --vus 20` vs `wrk -t1 -c20`,
#   alternated ROUNDS times (noise hits both alike), and the load/wrk ratio of each round;
# - then `load --rate` at half of wrk's best rate: the p50/p99 it reports (from the
#   intended send and from the actual send), next to wrk's p50/p99 at full speed (wrk has
#   no fixed-rate mode; Debian ships no wrk2).
# Pass --profile to also record `perf` on the generator during one full-speed run and
# print its top functions (where the generator's CPU goes).
# Needs wrk (Debian package wrk), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=0
if [ "${1:-}" = "--profile" ]; then PROFILE=1; shift; fi
SECS=${1:-10}
ROUNDS=${2:-3}
. benches/lib.sh
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
OUT=$(mktemp -d /tmp/kp-gen.XXXXXX)

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
LOGIN_RATE_LIMIT_MAX=1000000 $BIN serve --bind 127.0.0.1:$PORT --scale 1 >"$OUT/serve.log" 2>&1 &
SERVE=$!
trap 'kill -INT $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; rm -rf "$OUT"' EXIT
wait_up "$URL"
echo "== GET /api/v1/health against one serve process (pid $SERVE), $SECS s per run"

best_wrk=0
for round in $(seq "$ROUNDS"); do
  $BIN load --host "$URL" --scenario health --vus 20 --ramp-up 0s --duration ${SECS}s --quiet \
    --out "$OUT/full-$round" >/dev/null 2>&1
  load_rps=$(field "$OUT/full-$round/run.json" 'd["totals"]["rps"]')
  wrk -t1 -c20 -d${SECS}s --latency "$URL/api/v1/health" >"$OUT/wrk-$round.txt"
  wrk_rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-$round.txt")
  best_wrk=$(python3 -c "print(max($best_wrk, $wrk_rps))")
  echo "  round $round: load $load_rps req/s, wrk $wrk_rps req/s, ratio $(python3 -c "print(f'{$load_rps/$wrk_rps:.2f}')")"
done
wrk_p50=$(awk '/ 50%/ {print $2}' "$OUT/wrk-$ROUNDS.txt")
wrk_p99=$(awk '/ 99%/ {print $2}' "$OUT/wrk-$ROUNDS.txt")

RATE=$(python3 -c "print(int($best_wrk/2))")
$BIN load --host "$URL" --scenario health --vus 20 --ramp-up 0s --duration ${SECS}s --quiet \
  --rate "$RATE" --out "$OUT/rate" >/dev/null 2>&1
echo "== load --rate $RATE (half of wrk's best) with 20 users at most:"
echo "  achieved $(field "$OUT/rate/run.json" 'd["rate"]["achieved"]') req/s, late $(field "$OUT/rate/run.json" 'd["rate"]["late"]'), missed $(field "$OUT/rate/run.json" 'd["rate"]["missed"]')"
echo "  p50/p99 from the intended send: $(field "$OUT/rate/run.json" 'd["totals"]["latency_us"]["p50"]') / $(field "$OUT/rate/run.json" 'd["totals"]["latency_us"]["p99"]') µs"
echo "  p50/p99 from the actual send:   $(field "$OUT/rate/run.json" 'd["totals"]["latency_uncorrected_us"]["p50"]') / $(field "$OUT/rate/run.json" 'd["totals"]["latency_uncorrected_us"]["p99"]') µs"
echo "  wrk -t1 -c20 at full speed:     $wrk_p50 / $wrk_p99"

if [ "$PROFILE" = 1 ]; then
  $BIN load --host "$URL" --scenario health --vus 20 --ramp-up 0s --duration ${SECS}s --quiet \
    --out "$OUT/prof" >/dev/null 2>&1 &
  LOAD=$!
  sleep 2
  perf record -F 499 -g -p "$LOAD" -o "$OUT/perf.data" -- sleep $((SECS - 3)) >/dev/null 2>&1 || true
  wait $LOAD || true
  echo "== where the generator's CPU goes (perf, self time, top 25)"
  perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | head -25
fi
