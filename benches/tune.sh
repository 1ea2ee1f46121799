#!/usr/bin/env bash
# tune-db's effect on scale-100 data, side by side in one run (numbers, not tests):
#   cargo build --release && bash benches/tune.sh [SECONDS]
# On a private PostgreSQL cluster: seed scale 100; load api-load (100 users) against the
# reference server on the untuned database; tune-db --apply (its EXPLAIN before/after
# table is printed); the same load on the tuned database.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}
. benches/lib.sh
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
DIR=$(mktemp -d /tmp/kp-tune-bench.XXXXXX); chown postgres "$DIR"
PORT=$(free_port)
runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" -l "$DIR/log" -w start >/dev/null
trap 'runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1; rm -rf "$DIR"' EXIT
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

$BIN seed --database-url "$URL" --scale 100 | head -n1
run_load() { # $1 label, $2 out dir
  local sport; sport=$(free_port)
  LOGIN_RATE_LIMIT_MAX=1000000 $BIN serve --database-url "$URL" --bind 127.0.0.1:$sport --scale 100 >/dev/null 2>&1 & local pid=$!
  wait_up "http://127.0.0.1:$sport"
  $BIN load --host "http://127.0.0.1:$sport" --login syndic@grandplace.be:syndic123 --login syndic@sablon.be:syndic123 \
    --login syndic@meir.be:syndic123 --vus 100 --duration ${SECS}s --out "$2" >/dev/null 2>&1
  kill -INT $pid; wait $pid || true
  echo "  $1: $(field "$2/run.json" 'd["totals"]["rps"]') req/s, p99 $(field "$2/run.json" 'd["totals"]["latency_us"]["p99"]/1000') ms, errors $(field "$2/run.json" 'd["totals"]["errors"]')"
}
echo "== api-load, 100 users, ${SECS} s"
run_load untuned "$DIR/untuned"
$BIN tune-db --database-url "$URL" --apply \
  --restart-cmd "runuser -u postgres -- $PGBIN/pg_ctl -D $DIR/data -w restart >/dev/null" | sed -n '/EXPLAIN/,$p'
run_load tuned "$DIR/tuned"
