#!/usr/bin/env bash
# Peer comparison: the same workload (N distinct log lines, each explained through MCP sampling by a
# mock LLM and appended to a report) through the official Python MCP SDK (FastMCP server +
# ClientSession client, mcp==1.30.0) and through `log-archiver archive`, against one shared
# `log-archiver mock-llm`. Prints lines/s of both stacks and the ratio ours/python.
#
#   benches/peer/run.sh                                   # 0 ms latency, 10000 lines, C=16
#   benches/peer/run.sh --latency 0,200ms --lines 10000,200 --concurrency 16,64
#   benches/peer/run.sh --repeat 3 --keep                 # median of 3; keep logs and reports
#
# Options (passed to peer_bench.py compare; see `peer_bench.py compare --help`):
#   --latency L[,L...]       mock LLM latency per answer (0, 200ms, 1s); default 0
#   --lines N[,N...]         lines per run: one count, or one per latency; default 10000 (log-archiver
#                            gets through 2000 in a quarter of a second, where start-up and noise weigh)
#   --concurrency C[,C...]   calls in flight, for both stacks; default 16
#   --py-sessions S          Python client sessions (default: one per call in flight)
#   --connections N          log-archiver's --connections (default: its own, 4)
#   --repeat K, --timeout S  runs per setting (median shown); seconds allowed per run (600)
#
# Needs target/release/log-archiver (build it with `cargo build --release`; this script builds
# nothing) and python3 with venv. The Python packages, pinned in benches/peer/requirements.txt (the
# same pins as tests/interop/requirements.txt), go into target/peer-venv on first use.
# Everything runs on loopback; every process started is stopped at the end, also on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
binary="$root/target/release/log-archiver"
venv="$root/target/peer-venv"
requirements="$here/requirements.txt"

if [[ ! -x "$binary" ]]; then
    echo "error: $binary is missing; build it first: cargo build --release" >&2
    exit 1
fi
if [[ -n "$(find "$root/src" "$root/Cargo.toml" "$root/Cargo.lock" -newer "$binary" -print -quit 2>/dev/null)" ]]; then
    echo "warning: sources are newer than $binary; consider: cargo build --release" >&2
fi

# The venv, reused while the pins are unchanged.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        echo "error: python3 lacks the venv module; install python3-venv" >&2
        exit 1
    fi
    echo "setting up $venv from $requirements" >&2
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" >&2
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2
    echo "$want" >"$stamp"
fi

mkdir -p "$root/target/tmp"
# peer_bench.py bounds each run (--timeout, 600 s by default) and stops everything it started, also
# on failure; on Ctrl-C or SIGTERM the trap asks it to stop (SIGTERM) and waits for it.
"$venv/bin/python" "$here/peer_bench.py" compare --bin "$binary" --workdir "$root/target/tmp" "$@" &
bench=$!
trap 'kill -TERM "$bench" 2>/dev/null || true; wait "$bench" 2>/dev/null || true' INT TERM
set +e
wait "$bench"
status=$?
set -e
trap - INT TERM
exit "$status"
