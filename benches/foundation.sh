#!/usr/bin/env bash
# Foundation benchmarks, side by side in one run (numbers for the closing note, not tests):
#   cargo build --release && bash benches/foundation.sh [SECONDS]
# - embedded cluster startup and scale-100 seed time
# - against ONE `koprogo-perf serve` process (scale 1, its own embedded cluster):
#   `load --scenario health` (20 users) vs `wrk -t1 -c20` on /api/v1/health, and their ratio;
#   `wrk -t1 -c10` on GET /api/v1/buildings with a syndic token (KoproGo's figure: ~2,300 req/s);
#   `load` api-load with 100 users (req/s, p99) and the server's peak RSS under it.
# Needs wrk (Debian package wrk), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
. benches/lib.sh
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
OUT=$(mktemp -d /tmp/kp-bench.XXXXXX)

echo "== scale-100 seed on a fresh embedded cluster"
$BIN seed --scale 100 2>&1 | grep -E 'embedded PostgreSQL|^seeded' | sed 's/^/  /'

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
LOGIN_RATE_LIMIT_MAX=1000000 $BIN serve --bind 127.0.0.1:$PORT --scale 1 >"$OUT/serve.log" 2>&1 &
SERVE=$!
trap 'kill -INT $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; rm -rf "$OUT"' EXIT
wait_up "$URL"
echo "== one serve process at $URL (pid $SERVE)"

$BIN load --host "$URL" --scenario health --vus 20 --ramp-up 0s --duration ${SECS}s --out "$OUT/health" >/dev/null 2>&1
goose_rps=$(field "$OUT/health/run.json" 'd["totals"]["rps"]')
wrk_rps=$(wrk -t1 -c20 -d${SECS}s "$URL/api/v1/health" | awk '/Requests\/sec/ {print $2}')
echo "  GET /health: koprogo-perf load (20 users) $goose_rps req/s; wrk -t1 -c20 $wrk_rps req/s; ratio load/wrk $(python3 -c "print(f'{$goose_rps/$wrk_rps:.2f}')")"

TOKEN=$(curl -sf -X POST "$URL/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"syndic@grandplace.be","password":"syndic123"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
b_rps=$(wrk -t1 -c10 -d${SECS}s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/buildings" | awk '/Requests\/sec/ {print $2}')
echo "  GET /buildings (syndic token): wrk -t1 -c10 $b_rps req/s"

$BIN load --host "$URL" --login syndic@grandplace.be:syndic123 --login syndic@sablon.be:syndic123 \
  --login syndic@meir.be:syndic123 --vus 100 --duration 30s --out "$OUT/api" >/dev/null 2>&1
echo "  api-load, 100 users, 30 s: $(field "$OUT/api/run.json" 'd["totals"]["rps"]') req/s, p99 $(field "$OUT/api/run.json" 'd["totals"]["latency_us"]["p99"]/1000') ms, errors $(field "$OUT/api/run.json" 'd["totals"]["errors"]')"
echo "  serve peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$SERVE/status)"
