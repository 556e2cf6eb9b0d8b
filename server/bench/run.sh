#!/usr/bin/env bash
# The load tests of server/README.md, by hand (not part of make test): a release build
# of keyscope-server on a fresh SQLite store, one key made by the library, then wrk on
# introspection (cached secret, cached token) and on the token endpoint (cached secret).
# Usage: server/bench/run.sh [SECONDS]   (needs wrk, curl and python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
cargo build -q --release -p keyscope-server --bins --examples
T=target/$CARGO_BUILD_TARGET/release
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

eval "$("$T/examples/bench_key" "$WORK/keys.db")"            # exports KEYSCOPE_BENCH_AUTH
"$T/keyscope-server" --db "$WORK/keys.db" --listen 127.0.0.1:0 >"$WORK/ready" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
URL=$(sed 's/^listening on //' "$WORK/ready")
KEYSCOPE_BENCH_TOKEN=$(curl -sf -X POST -H "Authorization: $KEYSCOPE_BENCH_AUTH" \
  -d grant_type=client_credentials "$URL/auth/v2/token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
export KEYSCOPE_BENCH_TOKEN

echo "== checked runs (every answer must be 200, introspection active)"
KEYSCOPE_BENCH_CHECK=1 wrk -t2 -c64 -d3s -s server/bench/introspect.lua "$URL/auth/v2/introspect" | tail -1
KEYSCOPE_BENCH_CHECK=1 wrk -t2 -c64 -d3s -s server/bench/token.lua "$URL/auth/v2/token" | tail -1
echo "== POST /auth/v2/introspect"
wrk -t2 -c64 -d"${DURATION}s" --latency -s server/bench/introspect.lua "$URL/auth/v2/introspect"
echo "== POST /auth/v2/token"
wrk -t2 -c64 -d"${DURATION}s" --latency -s server/bench/token.lua "$URL/auth/v2/token"
echo "== server: $(wc -l <"$WORK/server.log") log lines; load $(cut -d' ' -f1-3 /proc/loadavg)"
curl -s "$URL/metrics" | grep -E '^keyscope_(http_requests_rejected_busy_total|log_lines_dropped_total) '
