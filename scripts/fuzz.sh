#!/usr/bin/env bash
# fuzz.sh: run each of catdog's fuzz targets for a bounded time (default 15s each; CI runs
# this after the tests). The readers of what users bring: ONNX models, TensorFlow.js
# models, zip archives of photos, image files.
#
#   bash scripts/fuzz.sh [DURATION]      e.g. bash scripts/fuzz.sh 5m
#
# A failing input is written under the package's testdata/fuzz/ and fails the run; commit it
# with the fix, as a regression test that go test runs from then on.
#
# Go 1.26's fuzzing coordinator can end a run that found nothing with "context deadline
# exceeded" when -fuzztime runs out while a worker is busy (go.dev/issue/75804, fixed in
# Go 1.27; seen here on a loaded machine: execs at 0/s, then that line, no input written).
# Such a run, and only such a run, is tried once more; a second one fails like any other.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-15s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_only: the run ended on the coordinator's deadline and nothing else: no failing
# input written, no panic, no test error.
deadline_only() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

for target in ./onnx:FuzzDecode ./keras:FuzzParse ./datasets:FuzzZipSource ./internal/imgutil:FuzzDecode; do
  pkg=${target%%:*} name=${target##*:}
  for try in 1 2; do
    echo "fuzz: $pkg $name for $time" >&2
    if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "$pkg" 2>&1 | tee "$log"; then
      break
    fi
    if [[ $try == 1 ]] && deadline_only; then
      echo "fuzz: $name ended on Go's fuzztime deadline race (go.dev/issue/75804), nothing found; once more" >&2
      continue
    fi
    exit 1
  done
done
