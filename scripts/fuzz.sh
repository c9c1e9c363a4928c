#!/usr/bin/env bash
# Fuzzes the report parser and the input reader with cargo-fuzz (libFuzzer), each target for a
# bounded time: the first argument or FUZZ_SECONDS, 60 seconds by default. The targets live in
# fuzz/ (a package of its own); their seeds are in fuzz/seeds/<target>/, what they learn is kept
# in fuzz/corpus/<target>/, and a crashing input is saved in fuzz/artifacts/<target>/.
#
# Needs a nightly toolchain (cargo-fuzz builds with nightly-only flags); installs cargo-fuzz if
# it is missing. Exits non-zero if the build fails or any target crashes (a panic, a failed
# assertion, an overflow, a timeout of 10 s on one input, or more than 2 GB of memory).
#
#   scripts/fuzz.sh                           # 60 s per target
#   scripts/fuzz.sh 300                       # 5 minutes per target
#   FUZZ_TARGETS=report_parser scripts/fuzz.sh 30
#   FUZZ_SANITIZER=address scripts/fuzz.sh    # with AddressSanitizer (default: none)
set -euo pipefail

seconds="${1:-${FUZZ_SECONDS:-60}}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: the time per target must be a whole number of seconds, not '$seconds'" >&2
    exit 2
fi
read -r -a targets <<<"${FUZZ_TARGETS:-report_parser report_round_trip input_reader structured_reader}"
# The code under test is safe Rust: panics, failed assertions and arithmetic overflow (debug
# assertions are on) are what is hunted, so no sanitizer by default.
sanitizer="${FUZZ_SANITIZER:-none}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_dir="$root/fuzz"
cd "$root"

if ! command -v rustup >/dev/null || ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz needs a nightly Rust toolchain and none is installed." >&2
    echo "fuzz.sh: install one with 'rustup toolchain install nightly', then run this again." >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing; installing it (a few minutes, once)" >&2
    cargo install cargo-fuzz --locked
fi

flags=(--sanitizer "$sanitizer" --debug-assertions)
echo "fuzz.sh: building the fuzz targets (nightly, sanitizer: $sanitizer)" >&2
cargo +nightly fuzz build "${flags[@]}"
# Run the binaries just built, so every target fuzzes the same build.
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="$fuzz_dir/target/$host/release"

failed=()
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    artifacts="$fuzz_dir/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    if [[ -d "$fuzz_dir/seeds/$target" ]]; then
        seeds=("$fuzz_dir/seeds/$target")
    fi
    echo "fuzz.sh: fuzzing $target for ${seconds}s" >&2
    # New inputs go to the first corpus directory; the seeds are only read.
    if ! "$bin_dir/$target" -artifact_prefix="$artifacts/" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "$corpus" ${seeds[@]+"${seeds[@]}"}; then
        failed+=("$target")
    fi
done

if ((${#failed[@]} > 0)); then
    echo "fuzz.sh: FAILED: ${failed[*]}" >&2
    for target in "${failed[@]}"; do
        echo "fuzz.sh:   $target: the failing input is in $fuzz_dir/artifacts/$target/; replay it with" >&2
        echo "fuzz.sh:   cargo +nightly fuzz run ${flags[*]} $target fuzz/artifacts/$target/<file>" >&2
    done
    exit 1
fi
echo "fuzz.sh: no crash in ${targets[*]} (${seconds}s each); corpora in $fuzz_dir/corpus/" >&2
