#!/usr/bin/env bash
# fuzz.sh: run each of catdog's fuzz targets for a bounded time (default 15s each; CI runs
# this after the tests). The readers of what users bring: ONNX models, TensorFlow.js
# models, zip archives of photos, image files.
#
#   bash scripts/fuzz.sh [DURATION]      e.g. bash scripts/fuzz.sh 5m
#
# A failing input is written under the package's testdata/fuzz/ and fails the run; commit it
# with the fix, as a regression test that go test runs from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-15s}
for target in ./onnx:FuzzDecode ./keras:FuzzParse ./datasets:FuzzZipSource ./internal/imgutil:FuzzDecode; do
  pkg=${target%%:*} name=${target##*:}
  echo "fuzz: $pkg $name for $time" >&2
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "$pkg"
done
