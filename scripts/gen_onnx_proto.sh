#!/usr/bin/env bash
# gen_onnx_proto.sh regenerates onnx/pb/onnx.pb.go from the ONNX schema.
#
# Source: onnx.proto as shipped by python3-onnx (Debian, ONNX 1.12), or the file named by $1.
# Two edits are made to the copy in onnx/pb/onnx.proto:
#   - `package onnx;` becomes `package catdog.onnx;` so that our message names never clash
#     in the protobuf registry with onnx-go's own generated types (also named onnx.*), which
#     would panic at program start. The wire format does not depend on the package name.
#   - an `option go_package` line is added.
#
# Needs protoc and protoc-gen-go at the version of google.golang.org/protobuf in go.mod:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-/usr/lib/python3/dist-packages/onnx/onnx.proto}"
want="$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"
export PATH="$(go env GOPATH)/bin:$PATH"
have="$(protoc-gen-go --version | awk '{print $2}')"
if [ "$have" != "$want" ]; then
  echo "protoc-gen-go is $have, go.mod has google.golang.org/protobuf $want:" >&2
  echo "  go install google.golang.org/protobuf/cmd/protoc-gen-go@$want" >&2
  exit 1
fi
sed -e 's/^package onnx;$/package catdog.onnx;\noption go_package = "github.com\/catdog-ml\/catdog\/onnx\/pb";/' "$src" > onnx/pb/onnx.proto
grep -q '^package catdog.onnx;' onnx/pb/onnx.proto || { echo "could not rewrite the package line of $src" >&2; exit 1; }
protoc --proto_path=onnx/pb --go_out=onnx/pb --go_opt=paths=source_relative onnx/pb/onnx.proto
gofmt -l onnx/pb
echo "wrote onnx/pb/onnx.pb.go from $src"
