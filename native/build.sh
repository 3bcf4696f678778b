#!/bin/sh
# Builds the Rust NIF library and copies it to priv/, where
# barnacle_native loads it from. Run from the repository root (rebar3's
# pre-compile hook and the Makefile do).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if ! command -v cargo >/dev/null 2>&1; then
    echo "barnacle: cargo is missing; install Rust (https://rustup.rs) to build the NIF library" >&2
    exit 1
fi
cargo build --release -p barnacle_nif --quiet
mkdir -p priv
case "$(uname -s)" in
    Darwin) lib=target/release/libbarnacle_nif.dylib ;;
    *) lib=target/release/libbarnacle_nif.so ;;
esac
# Copy to a temporary name and rename, so a running VM that has the old
# library mapped never sees a half-written file.
cp "$lib" priv/.libbarnacle_nif.so.tmp
mv -f priv/.libbarnacle_nif.so.tmp priv/libbarnacle_nif.so
