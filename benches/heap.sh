#!/usr/bin/env bash
# What heap profiling costs the server, side by side in one run:
#   cargo build --release && bash benches/heap.sh [SECONDS] [ROUNDS] [VUS] [--massif]
# Each round starts `serve` (its own embedded cluster, scale 1, seeded afresh) with
# `load --server-cmd` three ways, one after the other — plain, `--heap-profile`
# (heaptrack) and, with --massif, under `valgrind --tool=massif` (the guide's command) —
# and loads it with api-load for SECONDS of steady state; the ways alternate round by
# round, so that drift of a shared machine falls on all alike. It prints each run's
# req/s, p99 and server RSS, each profiler's ratios to the plain run of its round, the
# heap figures of the last heaptrack run and the most disk heaptrack's data took.
# Needs heaptrack and zstd (and valgrind for --massif), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
MASSIF=0
ARGS=()
for a in "$@"; do
  if [ "$a" = "--massif" ]; then MASSIF=1; else ARGS+=("$a"); fi
done
SECS=${ARGS[0]:-20}
ROUNDS=${ARGS[1]:-3}
VUS=${ARGS[2]:-20}
. benches/lib.sh
OUT=$(mktemp -d /tmp/kp-heap.XXXXXX)
# The embedded cluster runs as postgres, under this directory.
chmod 755 "$OUT"
trap 'rm -rf "$OUT"' EXIT
SERVE_BIN=$(realpath "$BIN")
WAYS="plain heaptrack"
[ "$MASSIF" = 1 ] && WAYS="$WAYS massif"

# run WAY ROUND: one measured run; its run directory is $OUT/WAY-ROUND.
run() {
  local way=$1 round=$2 port cmd extra=()
  port=$(free_port)
  cmd="$SERVE_BIN serve --bind 127.0.0.1:$port --scale 1"
  case $way in
    heaptrack) extra=(--heap-profile) ;;
    massif) cmd="valgrind --tool=massif --massif-out-file=$OUT/massif-$round.out $cmd" ;;
  esac
  mkdir -p "$OUT/tmp-$way-$round"
  TMPDIR="$OUT/tmp-$way-$round" LOGIN_RATE_LIMIT_MAX=1000000 \
    $BIN load --host "http://127.0.0.1:$port" --server-cmd "$cmd" --server-start-timeout 600s \
    --login syndic@grandplace.be:syndic123 --vus "$VUS" --ramp-up 2s --duration "${SECS}s" \
    --quiet "${extra[@]}" --out "$OUT/$way-$round" >"$OUT/$way-$round.log" 2>&1 &
  local pid=$! most=0 now
  # The most heaptrack's compressed data took (its private directories under TMPDIR).
  while kill -0 $pid 2>/dev/null; do
    now=$(du -sbc "$OUT/tmp-$way-$round"/koprogo-perf-heap-* 2>/dev/null | tail -1 | cut -f1 || true)
    [ "${now:-0}" -gt "$most" ] && most=$now
    sleep 1
  done
  wait $pid || { tail -n 5 "$OUT/$way-$round.log"; return 1; }
  echo "$most" >"$OUT/$way-$round.disk"
}

echo "== serve, api-load, $VUS users, ${SECS} s steady state per run, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  # Alternate the order: plain first in odd rounds, last in even ones.
  ways=$WAYS
  [ $((round % 2)) = 0 ] && ways=$(echo "$WAYS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for way in $ways; do run "$way" "$round"; done
  for way in $WAYS; do
    d="$OUT/$way-$round/run.json"
    printf '  round %s %-9s %8.1f req/s  p99 %7.2f ms  server RSS %6.1f MB' "$round" "$way" \
      "$(field "$d" 'd["totals"]["rps"]')" "$(field "$d" 'd["totals"]["latency_us"]["p99"]/1000')" \
      "$(field "$d" 'd["resources"]["server"]["peak_rss_bytes"]/1e6')"
    if [ "$way" != plain ]; then
      printf '  (req/s ×%s, p99 ×%s)' \
        "$(python3 -c "print(f'{$(field "$d" 'd["totals"]["rps"]')/$(field "$OUT/plain-$round/run.json" 'd["totals"]["rps"]'):.2f}')")" \
        "$(python3 -c "print(f'{$(field "$d" 'd["totals"]["latency_us"]["p99"]')/$(field "$OUT/plain-$round/run.json" 'd["totals"]["latency_us"]["p99"]'):.2f}')")"
    fi
    echo
  done
done
d="$OUT/heaptrack-$ROUNDS/run.json"
echo "== heaptrack, round $ROUNDS: peak heap $(field "$d" 'round(d["heap"]["peak_bytes"]/1e6, 2)') MB during the steady state," \
  "$(field "$d" 'd["heap"]["allocations_per_request"]') allocations per request," \
  "top site $(field "$d" 'd["heap"]["sites"][0]["function"]')"
echo "   most disk its data took: $(python3 -c "print(round(max([$(cat "$OUT"/heaptrack-*.disk | paste -sd, -)])/1e6, 1))") MB" \
  "for $(field "$d" 'd["totals"]["requests"] + d["warmup_requests"]') requests"
