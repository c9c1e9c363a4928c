#!/usr/bin/env bash
# Create (or reuse) the virtualenv holding the Python interoperability peers.
#
#   tests/interop/setup_venv.sh [DIR]    (DIR defaults to <repo>/target/interop-venv)
#
# Installs tests/interop/requirements.txt into DIR unless DIR already holds a stamp for the same
# requirements. The last line printed on stdout is the path of the venv's python; everything
# else goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${1:-$root/target/interop-venv}"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
requirements="$here/requirements.txt"
stamp="$dir/.requirements.sha256"
python="$dir/bin/python"

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ -x "$python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "interop venv up to date: $dir" >&2
    echo "$python"
    exit 0
fi

# Debian splits ensurepip (needed by `python3 -m venv`) into the python3-venv package.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "python3 lacks the venv module; install python3-venv" >&2
        exit 1
    fi
    echo "installing python3-venv" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update && apt-get install -y python3-venv; } >&2
fi

if [[ ! -x "$python" ]]; then
    if [[ -d "$dir" && ! -f "$dir/pyvenv.cfg" && -n "$(ls -A "$dir")" ]]; then
        echo "refusing to turn non-empty $dir into a venv" >&2
        exit 1
    fi
    echo "creating venv: $dir" >&2
    python3 -m venv --clear "$dir" >&2
fi

rm -f "$stamp"
"$python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2
echo "$want" >"$stamp"
echo "$python"
