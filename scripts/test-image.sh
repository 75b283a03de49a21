#!/usr/bin/env bash
# test-image.sh: check catdog's container image (scripts/build-image.sh) by running what is
# inside it. Containers cannot run on this project's machines, so the image's filesystem is
# exported (podman create + podman export) and run with chroot, as the image's user 10001:
#
#   bash scripts/test-image.sh [TAG]        default TAG: localhost/catdog:latest
#
# It runs `catdog version`, `catdog predict` on a shared photo with a model trained here for
# the purpose (vgg1, one epoch on 20 photos: the point is the image, not the model), and
# `catdog serve` on a loopback port answering that photo over HTTP, in catdog's API and in the
# Open Inference Protocol. Root is needed (chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/catdog:latest}
say() { printf 'test-image: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
photos=../shared/data/dogs-vs-cats/train
[ -d "$photos" ] || fail "no photos in $photos"

conf=$(mktemp)
work=$(mktemp -d)
data=$(mktemp -d)
cleanup() {
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  [ -n "${id:-}" ] && podman rm -f "$id" >/dev/null 2>&1 || true
  local busy=0
  for m in proc sys dev; do
    if mountpoint -q "$work/$m"; then umount "$work/$m" || umount -l "$work/$m" || busy=1; fi
  done
  # never remove through a mount: /proc, /sys and /dev there are the host's own
  if [ $busy -eq 0 ]; then rm -rf --one-file-system "$work"; else say "left $work: a mount would not go"; fi
  rm -rf "$data" "$conf"
}
trap cleanup EXIT
printf '[containers]\ndefault_ulimits = []\n' > "$conf"
export CONTAINERS_CONF=$conf

# the image's filesystem
id=$(podman create "$tag")
podman export "$id" | tar -C "$work" -xf - --exclude='dev/*'
podman rm "$id" >/dev/null
id=
root=$work
chmod 755 "$root" # mktemp made it 0700: the image's user must enter it
entry=$(podman image inspect --format '{{join .Config.Entrypoint " "}}' "$tag")
user=$(podman image inspect --format '{{.Config.User}}' "$tag")
[ "$user" = "10001:10001" ] || fail "the image runs as $user, want 10001:10001"
say "image $tag: entry point $entry, user $user, $(du -sh "$root" | cut -f1) on disk"
# what a container runtime mounts: /proc (onnxruntime reads the CPU's description there),
# /sys, /dev
for m in proc sys dev; do mkdir -p "$root/$m" && mount --bind "/$m" "$root/$m"; done
chroot=$(command -v chroot)
run() { env -i PATH=/nonexistent HOME=/home/catdog ONNXRUNTIME_LIB=/opt/catdog/lib/libonnxruntime.so "$chroot" --userspec=10001:10001 "$root" $entry "$@"; }

# 1. version
v=$(run version) || fail "catdog version: $v"
[[ "$v" == "catdog "* && "$v" == *"onnxruntime 1.30.0"* ]] || fail "catdog version said: $v"
say "catdog version: ${v%%$'\n'*}; $(echo "$v" | grep '^  onnxruntime ' | sed 's/^ *//')"

# 2. a model, trained outside the image, and a photo, put where the image's user reads them
bin/catdog prepare -q --data "$photos" --per-class 10 --size 32 --out "$data/prepared" >/dev/null 2>&1
bin/catdog train -q --arch vgg1 --data "$data/prepared" --epochs 1 --runs "$data/runs" >/dev/null
cp "$data"/runs/*/model.onnx "$root/work/model.onnx"
cats=("$photos"/cat.*.jpg)
photo=${cats[0]}
cp "$photo" "$root/work/cat.jpg"
chown -R 10001:10001 "$root/work"
out=$(run predict -q --ep cpu --model /work/model.onnx /work/cat.jpg)
echo "$out" | grep -Eq '^(cat|dog)  [01]\.[0-9]{4}  /work/cat\.jpg$' || fail "predict said: $out"
say "catdog predict in the image: $out"

# 3. serve on loopback, one photo over HTTP
port=$((20000 + RANDOM % 20000))
# env and chroot exec catdog in turn: $! is catdog's own process, which cleanup stops
env -i PATH=/nonexistent HOME=/home/catdog ONNXRUNTIME_LIB=/opt/catdog/lib/libonnxruntime.so MALLOC_ARENA_MAX=2 \
  "$chroot" --userspec=10001:10001 "$root" $entry serve --ep cpu --model /work/model.onnx --addr 127.0.0.1:$port >"$data/serve.log" 2>&1 &
server=$!
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
answer=$(curl -fsS -H 'Content-Type: image/jpeg' --data-binary @"$photo" "http://127.0.0.1:$port/v1/predict") || fail "serve: $(cat "$data/serve.log")"
echo "$answer" | grep -q '"label"' || fail "serve answered $answer"
say "catdog serve in the image answered: $answer"
# the same photo in the Open Inference Protocol, as KServe would send it
curl -fsS "http://127.0.0.1:$port/v2/health/ready" >/dev/null || fail "not ready: $(cat "$data/serve.log")"
req="{\"id\":\"image-test\",\"inputs\":[{\"name\":\"image_bytes\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"$(base64 -w0 "$photo")\"]}],\"outputs\":[{\"name\":\"label\"}]}"
answer=$(curl -fsS -H 'Content-Type: application/json' --data-binary "$req" "http://127.0.0.1:$port/v2/models/vgg1/infer") || fail "v2 infer: $(cat "$data/serve.log")"
echo "$answer" | grep -Eq '"model_name":"vgg1".*"id":"image-test".*"data":\["(cat|dog)"\]' || fail "v2 infer answered $answer"
say "catdog serve in the image answered the Open Inference Protocol: $answer"
say "ok"
