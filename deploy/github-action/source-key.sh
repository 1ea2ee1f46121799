#!/usr/bin/env bash
# A key for the cached koprogo-perf build: a hash of the sources cargo install compiles
# (the action's own checkout has no .git to take a commit from).
set -euo pipefail
cd "$GITHUB_ACTION_PATH"
key=$(find Cargo.toml Cargo.lock src migrations profiles scenarios templates -type f -print0 |
  sort -z | xargs -0 sha256sum | sha256sum | cut -c1-20)
echo "key=$key" >>"$GITHUB_OUTPUT"
