#!/usr/bin/env bash
# Seeds the running backend through its API as its superadmin (KOPROGO_PERF_ADMIN, never
# on a command line), writing the syndics' logins to a 0600 file the runs read. A second
# run of the same scale creates nothing twice. seed-scale 0: nothing to do (the logins
# input is used).
set -euo pipefail
umask 077
if [ "$SEED_SCALE" = 0 ]; then
  echo "seed-scale 0: not seeding; the runs log in with the logins input"
  exit 0
fi
koprogo-perf seed --host "$HOST" --scale "$SEED_SCALE" --logins-out "$DIR/logins.txt"
