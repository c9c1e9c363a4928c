#!/usr/bin/env bash
# A self-contained demo on loopback: the mock LLM, the MCP server and the client, no API key.
#   scripts/demo.sh [LOG_FILE]    (default fixtures/sample.log; needs a built binary)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=target/release/log-archiver
[[ -x $bin ]] || bin=target/debug/log-archiver
[[ -x $bin ]] || { echo "build first: cargo build --release" >&2; exit 1; }
log=${1:-fixtures/sample.log}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

"$bin" mock-llm --port 0 --latency 50ms >"$work/mock.out" &
"$bin" serve --port 0 --report "$work/incident_report.txt" 2>"$work/serve.err" &
for _ in $(seq 100); do
    grep -q listening "$work/mock.out" 2>/dev/null && grep -q listening "$work/serve.err" 2>/dev/null && break
    sleep 0.1
done
mock_url=$(sed -n 's/^mock LLM listening on //p' "$work/mock.out")
server_url=$(sed -n 's/^Log-Archiver MCP server listening on //p' "$work/serve.err")

mapfile -t lines <"$log"
ANTHROPIC_BASE_URL=$mock_url ANTHROPIC_API_KEY=demo "$bin" explain --server "$server_url" "${lines[@]}"
echo
cat "$work/incident_report.txt"
