#!/usr/bin/env bash
# setup.sh: get a fresh machine ready to build and run catdog.
#
#   bash scripts/setup.sh           onnxruntime library + bin/catdog
#   bash scripts/setup.sh --test    the same, plus the Debian packages the tests use
#
# The onnxruntime CPU library (version and checksum pinned below) is taken from the npm
# registry's onnxruntime-node package (npm pack runs no install script) into .deps/onnxruntime/,
# which catdog finds by itself. To use your own build (a CUDA one, say), set ONNXRUNTIME_LIB to
# its path and this script leaves the library alone.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.30.0
ORT_TGZ_SHA256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
declare -A ORT_SO_SHA256=(
  [x86_64]=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
  [aarch64]=1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76
)
DEST=.deps/onnxruntime

with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf 'setup: %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { say "needs $1: $2"; exit 1; }; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    say "please install: ${missing[*]}"; exit 1
  fi
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

need go "install Go 1.26 or newer from https://go.dev/dl/"
need gcc "catdog uses cgo for onnxruntime (Debian: apt-get install gcc)"

# 1. onnxruntime shared library.
if [ -n "${ONNXRUNTIME_LIB:-}" ]; then
  [ -f "$ONNXRUNTIME_LIB" ] || { say "ONNXRUNTIME_LIB=$ONNXRUNTIME_LIB does not exist"; exit 1; }
  say "using ONNXRUNTIME_LIB=$ONNXRUNTIME_LIB"
else
  arch=$(uname -m)
  case "$arch" in
    x86_64) npmarch=x64 ;;
    aarch64) npmarch=arm64 ;;
    *) say "no pinned onnxruntime build for $arch: install onnxruntime $ORT_VERSION and set ONNXRUNTIME_LIB"; exit 1 ;;
  esac
  so="$DEST/libonnxruntime.so.$ORT_VERSION"
  want=${ORT_SO_SHA256[$arch]}
  if [ -f "$so" ] && [ "$(sha256sum "$so" | cut -d' ' -f1)" = "$want" ]; then
    say "onnxruntime $ORT_VERSION already in $DEST"
  else
    need npm "the onnxruntime library is fetched with npm pack (Debian: apt-get install npm)"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    say "fetching onnxruntime $ORT_VERSION (npm package onnxruntime-node)"
    (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null 2>&1) ||
      { say "npm pack onnxruntime-node@$ORT_VERSION failed (network?)"; exit 1; }
    tgz="$tmp/onnxruntime-node-$ORT_VERSION.tgz"
    got=$(sha256sum "$tgz" | cut -d' ' -f1)
    [ "$got" = "$ORT_TGZ_SHA256" ] || { say "checksum mismatch for $tgz: got $got, want $ORT_TGZ_SHA256"; exit 1; }
    tar xzf "$tgz" -C "$tmp" "package/bin/napi-v6/linux/$npmarch/libonnxruntime.so.1"
    got=$(sha256sum "$tmp/package/bin/napi-v6/linux/$npmarch/libonnxruntime.so.1" | cut -d' ' -f1)
    [ "$got" = "$want" ] || { say "checksum mismatch for libonnxruntime.so.1: got $got, want $want"; exit 1; }
    mkdir -p "$DEST"
    install -m 0644 "$tmp/package/bin/napi-v6/linux/$npmarch/libonnxruntime.so.1" "$so.tmp"
    mv -f "$so.tmp" "$so"
    ln -sf "libonnxruntime.so.$ORT_VERSION" "$DEST/libonnxruntime.so"
    say "onnxruntime $ORT_VERSION installed in $DEST"
  fi
fi

# 2. Debian packages the tests use: the official ONNX checker, NumPy (to read our .npy), Pillow
#    (a reference resize), PyTorch (a reference exporter and engine to compare with) with
#    OpenBLAS under it (libopenblas0-pthread becomes libblas.so.3: without it Debian's
#    PyTorch and NumPy run on the reference BLAS, five times slower, which is not what a
#    PyTorch user has and no fair reference for a speed), and Chromium (the serving page is
#    tested in it, headless).
if [ $with_test -eq 1 ]; then
  apt_install python3 python3-onnx python3-numpy python3-pil python3-torch libopenblas0-pthread chromium
fi

# 3. The binary.
mkdir -p bin
go build -buildvcs=auto -o bin/catdog ./cmd/catdog
say "built bin/catdog"
