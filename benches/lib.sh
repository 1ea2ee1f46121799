# Helpers shared by the bench scripts (sourced, from the repository root).

# The release binary, or a message to build it first.
BIN=${CARGO_TARGET_DIR:-target}/release/koprogo-perf
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (up to 20 s) until URL/api/v1/health answers; the next step says if it never did.
wait_up() { for _ in $(seq 100); do curl -sf "$1/api/v1/health" >/dev/null && break; sleep 0.2; done; }

# field FILE EXPR: EXPR evaluated in Python on the JSON file FILE, bound to d.
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"; }
