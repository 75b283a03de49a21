#!/usr/bin/env bash
# build-image.sh: build catdog's container image (Containerfile) with podman on a machine
# that cannot pull base images from a registry, as this project's machines cannot.
#
#   bash scripts/build-image.sh [TAG]        default TAG: localhost/catdog:latest
#
# It builds bin/catdog and the onnxruntime library here (scripts/setup.sh), puts them in
# .image/out/, makes the runtime base from this machine's own glibc, libstdc++ and libgcc
# (what distroless/cc holds) with a user 10001, imports it as localhost/catdog-runtime-base,
# then runs `podman build` on the Containerfile with BUILT=prebuilt and that base. With a
# registry at hand, `podman build -t catdog .` builds everything inside instead.
#
# Podman here: containers cannot run (crun: cgroups in hybrid mode), and setting resource
# limits is refused, so the build uses chroot isolation and no default ulimits; the
# Containerfile's runtime stage runs nothing, it only copies. scripts/test-image.sh runs
# the image's filesystem with chroot.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/catdog:latest}
say() { printf 'build-image: %s\n' "$*" >&2; }
command -v podman >/dev/null || { say "needs podman (Debian: apt-get install podman)"; exit 1; }

conf=$(mktemp)
trap 'rm -f "$conf"' EXIT
printf '[containers]\ndefault_ulimits = []\n' > "$conf"
export CONTAINERS_CONF=$conf

bash scripts/setup.sh
rm -rf .image
mkdir -p .image/out .image/root
go build -trimpath -ldflags='-s -w' -o .image/out/catdog ./cmd/catdog # no symbols: a smaller image
cp -L .deps/onnxruntime/libonnxruntime.so .image/out/libonnxruntime.so

# The runtime base: the shared libraries catdog and onnxruntime load, with their loader,
# /etc/passwd and /etc/group naming user and group 10001, a writable /tmp.
root=.image/root
for f in bin/catdog .deps/onnxruntime/libonnxruntime.so; do
  ldd "$f" | awk '/=> \//{print $3} /^[ \t]*\/lib/{print $1}'
done | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
mkdir -p "$root/etc" "$root/tmp" "$root/home/catdog" "$root/work"
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\ncatdog:x:10001:10001:catdog:/home/catdog:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\ncatdog:x:10001:\n' > "$root/etc/group"
tar -C "$root" --owner=0 --group=0 --exclude=./home/catdog --exclude=./work -cf .image/base.tar .
tar -C "$root" --owner=10001 --group=10001 -rf .image/base.tar ./home/catdog ./work
podman import --quiet .image/base.tar localhost/catdog-runtime-base:latest >/dev/null
say "runtime base: $(podman image inspect --format '{{.Size}}' localhost/catdog-runtime-base:latest) bytes"

podman build --quiet --isolation chroot --pull=never \
  --build-arg BUILT=prebuilt --build-arg RUNTIME_IMAGE=localhost/catdog-runtime-base:latest \
  -t "$tag" -f Containerfile . >/dev/null
say "built $tag: $(podman image inspect --format '{{.Size}}' "$tag") bytes"
