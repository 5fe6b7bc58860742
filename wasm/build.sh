#!/usr/bin/env bash
# Rebuilds wasm/erasure.wasm (the committed artifact) from the Rust crate in wasm/erasure/.
#
#   bash wasm/build.sh           build and write wasm/erasure.wasm
#   bash wasm/build.sh --check   build from scratch in a temp dir; exit 1 unless the result is
#                                byte-identical to the committed wasm/erasure.wasm
#
# Toolchain: Debian's Rust 1.63 with its wasm32 standard library (no rustup target, no crates.io):
#   apt-get install -y rustc=1.63.0+dfsg1-2 cargo=0.66.0+ds1-1 libstd-rust-dev-wasm32=1.63.0+dfsg1-2
# The binaries are called by absolute path (/usr/bin/rustc, /usr/bin/cargo) so a rustup toolchain
# earlier on PATH is never used.
#
# Steps: cargo build (wasm32-unknown-unknown, release, +simd128, paths remapped so the output does
# not depend on where the repository is cloned), then wasm/tools/relax_swizzle.rs (compiled here
# for the host) turns every i8x16.swizzle into i8x16.relaxed_swizzle; see that file for why.
set -euo pipefail

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
  *) echo "usage: bash wasm/build.sh [--check]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
crate="$here/erasure"
artifact="$here/erasure.wasm"
RUSTC_BIN=/usr/bin/rustc
CARGO_BIN=/usr/bin/cargo
WANT_RUSTC=1.63.0
PKGS="rustc=1.63.0+dfsg1-2 cargo=0.66.0+ds1-1 libstd-rust-dev-wasm32=1.63.0+dfsg1-2"

die() { echo "wasm/build.sh: $*" >&2; exit 1; }
need_toolchain() {
  die "$1
Install Debian's Rust toolchain for wasm (it conflicts with rustc-web; remove that first if present):
  apt-get update && apt-get install -y $PKGS   (as root)"
}

[ -x "$RUSTC_BIN" ] || need_toolchain "$RUSTC_BIN is missing."
[ -x "$CARGO_BIN" ] || need_toolchain "$CARGO_BIN is missing."
rv="$("$RUSTC_BIN" --version 2>/dev/null | awk '{print $2}')" || true
[ "$rv" = "$WANT_RUSTC" ] || need_toolchain "$RUSTC_BIN is version '${rv:-unknown}', expected $WANT_RUSTC (other versions give different bytes)."
sysroot="$("$RUSTC_BIN" --print sysroot)"
ls "$sysroot"/lib/rustlib/wasm32-unknown-unknown/lib/libcore-*.rlib >/dev/null 2>&1 ||
  need_toolchain "the wasm32-unknown-unknown standard library is missing ($sysroot/lib/rustlib/wasm32-unknown-unknown)."

tmp="$(mktemp -d "${TMPDIR:-/tmp}/erasure-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# A clean, explicit environment for cargo/rustc: nothing from the caller's Rust setup leaks in.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER \
  CARGO_BUILD_TARGET CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR CARGO_PROFILE_RELEASE_DEBUG \
  CARGO_INCREMENTAL RUSTUP_TOOLCHAIN RUSTDOCFLAGS
if [ "$mode" = check ]; then
  target_dir="$tmp/target"
else
  target_dir="$here/target"
fi
export RUSTC="$RUSTC_BIN"
export CARGO_TARGET_DIR="$target_dir"
export CARGO_HOME="${CARGO_HOME:-$tmp/cargo-home}"
export RUSTFLAGS="-C target-feature=+simd128 --remap-path-prefix=$crate=/erasure --remap-path-prefix=$CARGO_HOME=/cargo"
export SOURCE_DATE_EPOCH=0

echo "wasm/build.sh: cargo build (rustc $rv, wasm32-unknown-unknown, release, +simd128)" >&2
(cd "$crate" && "$CARGO_BIN" build --release --locked --offline --target wasm32-unknown-unknown --quiet)
raw="$target_dir/wasm32-unknown-unknown/release/erasure.wasm"
[ -f "$raw" ] || die "cargo did not produce $raw"

"$RUSTC_BIN" --edition 2021 -C opt-level=2 -C debuginfo=0 -o "$tmp/relax_swizzle" "$here/tools/relax_swizzle.rs"
n="$("$tmp/relax_swizzle" "$raw" "$tmp/erasure.wasm")"
[ "$n" -gt 0 ] 2>/dev/null || die "relax_swizzle rewrote '$n' instructions; expected some (did the kernel change?)"

# A bounds check or unwrap left in the crate embeds "src/lib.rs" plus a line number (panic location);
# the bytes would then change with unrelated edits. Keep the exported code free of them.
if grep -aq 'src/lib\.rs' "$tmp/erasure.wasm"; then
  die "the module embeds panic location strings (src/lib.rs): remove the bounds-checked indexing that caused them"
fi

sum() { sha256sum "$1" | awk '{print $1}'; }
if [ "$mode" = check ]; then
  [ -f "$artifact" ] || die "--check: $artifact does not exist; run 'bash wasm/build.sh' and commit it"
  if cmp -s "$tmp/erasure.wasm" "$artifact"; then
    echo "wasm/build.sh --check: OK, wasm/erasure.wasm is reproducible ($(wc -c <"$artifact") bytes, sha256 $(sum "$artifact"))"
  else
    echo "wasm/build.sh --check: MISMATCH" >&2
    echo "  committed wasm/erasure.wasm  $(wc -c <"$artifact") bytes  sha256 $(sum "$artifact")" >&2
    echo "  fresh build                  $(wc -c <"$tmp/erasure.wasm") bytes  sha256 $(sum "$tmp/erasure.wasm")" >&2
    echo "  Rebuild with 'bash wasm/build.sh' and commit wasm/erasure.wasm together with the sources." >&2
    exit 1
  fi
else
  cp "$tmp/erasure.wasm" "$artifact.tmp"
  mv "$artifact.tmp" "$artifact"
  echo "wasm/build.sh: wrote wasm/erasure.wasm ($(wc -c <"$artifact") bytes, $n swizzles relaxed, sha256 $(sum "$artifact"))"
fi
