#!/usr/bin/env bash
# Throughput of `archive` end to end under injected 429s, `--rpm auto` against `--rpm unlimited`.
#   scripts/bench_429.sh [LINES] [RATES...]    (default 1000 lines, rates 0 0.1 0.3)
# A fresh mock-llm (200 ms latency plus up to 100 ms, `--fault 429:rate=P`, retry-after 1 s,
# fixed seed) for every run; LINES distinct generated lines, `--dedup off`, default
# concurrency (16); prints lines/s from the summary. Needs `cargo build --release`
# (CARGO_TARGET_DIR honoured).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${CARGO_TARGET_DIR:-target}/release/log-archiver
[[ -x $bin ]] || { echo "build first: cargo build --release" >&2; exit 1; }
lines=${1:-1000}
shift || true
rates=("${@:-0 0.1 0.3}")
read -r -a rates <<<"${rates[*]}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

for i in $(seq "$lines"); do
    echo "2026-12-05T10:00:00 ERROR [worker-$((i % 7))] request $i failed: code $((i * 31 % 1000))"
done >"$work/app.log"

printf '%-6s %-10s %8s %8s %10s %6s\n' "429s" "rpm" "lines" "elapsed" "lines/s" "429s"
for rate in "${rates[@]}"; do
    for rpm in auto unlimited; do
        faults=()
        [[ $rate != 0 ]] && faults=(--fault "429:rate=$rate")
        "$bin" mock-llm --port 0 --latency 200ms --latency-spread 100ms --seed 15 \
            "${faults[@]}" >"$work/mock.out" &
        mock=$!
        for _ in $(seq 300); do grep -q listening "$work/mock.out" 2>/dev/null && break; sleep 0.1; done
        url=$(sed -n 's/^mock LLM listening on //p' "$work/mock.out")
        [[ -n $url ]] || { echo "mock-llm did not start:" >&2; cat "$work/mock.out" >&2; exit 1; }
        rm -f "$work"/report.txt*
        ANTHROPIC_BASE_URL=$url ANTHROPIC_API_KEY=bench "$bin" archive "$work/app.log" \
            --llm anthropic --report "$work/report.txt" --dedup off --rpm "$rpm" \
            --progress off --json >"$work/summary.json" 2>"$work/archive.err" ||
            { echo "archive failed:" >&2; cat "$work/archive.err" >&2; }
        kill "$mock"; wait "$mock" 2>/dev/null || true
        python3 - "$rate" "$rpm" "$work/summary.json" <<'PY'
import json, sys
rate, rpm, path = sys.argv[1:]
s = json.load(open(path))
c = s["counters"]
print(f"{rate:<6} {rpm:<10} {c['archived']:>8} {s['elapsed_secs']:>7.1f}s "
      f"{c['archived'] / s['elapsed_secs']:>10.1f} {c['rate_limited']:>6}   {s.get('rate_limit') or ''}")
PY
    done
done
