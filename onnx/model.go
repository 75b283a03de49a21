// Package onnx reads, writes, inspects, cuts, builds and composes ONNX models.
//
// It works on the protobuf types generated from the ONNX schema (package onnx/pb) and needs
// no runtime: running a model is the job of onnxruntime (see internal/ort). The builder writes
// models at opset 13 and IR version 7, which onnxruntime, onnx-go and the ONNX checker accept.
package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/userfile"
	"github.com/catdog-ml/catdog/onnx/pb"
)

// Versions written by the Builder.
const (
	// OpsetVersion is the default-domain opset the Builder targets.
	OpsetVersion = 13
	// IRVersion is the ONNX IR version the Builder writes.
	IRVersion = 7
	// maxProtoSize is the largest message protobuf can encode (2 GiB).
	maxProtoSize = 1<<31 - 1
)

// Model is an ONNX model held as its protobuf message.
type Model struct {
	Proto *pb.ModelProto
}

// Read reads the ONNX model in the file at path. Tensors stored in external data files
// (data_location = EXTERNAL) are loaded from beside the model and stored inline. The model
// file and its external data may take 4 GiB together; see ReadMax.
func Read(path string) (*Model, error) { return ReadMax(path, 0) }

// ReadMax is Read with a limit of maxBytes (0 or less: 4 GiB) on the model file and
// its external data together, checked from their sizes and the tensors' declared shapes
// before they are read. The model must be a regular file, and each external data file a
// regular file inside the model's folder: a name or a symbolic link that leads outside it is
// refused (userfile.OpenIn), so a model cannot carry bytes from elsewhere on the machine.
func ReadMax(path string, maxBytes int64) (*Model, error) {
	maxBytes = userfile.ModelLimit(maxBytes)
	data, err := userfile.ReadFile(path, maxBytes)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading ONNX model: file %s does not exist: %w", path, err)
		}
		return nil, fmt.Errorf("reading ONNX model: %w", err)
	}
	m, err := decode(data, false)
	if err != nil {
		return nil, fmt.Errorf("reading ONNX model %s: %w", path, err)
	}
	if err := m.loadExternalData(filepath.Dir(path), maxBytes-int64(len(data))); err != nil {
		return nil, fmt.Errorf("reading ONNX model %s: %w", path, err)
	}
	return m, nil
}

// Decode parses an ONNX model from its protobuf bytes. A model that keeps tensors in
// external data files cannot be decoded from bytes alone: use Read with the model's path.
func Decode(data []byte) (*Model, error) {
	return decode(data, true)
}

// ErrNotONNX is wrapped by the errors of Read and Decode when the bytes are not an ONNX model.
var ErrNotONNX = errors.New("not an ONNX model")

// ErrExternalData is wrapped by the error of Decode for a model whose tensors live in
// external data files, which only Read (knowing the model's folder) can load.
var ErrExternalData = errors.New("model keeps tensors in external data files")

func decode(data []byte, refuseExternal bool) (*Model, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrNotONNX)
	}
	mp := new(pb.ModelProto)
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("%w (truncated or corrupt file? %d bytes): %v", ErrNotONNX, len(data), err)
	}
	if mp.Graph == nil {
		return nil, fmt.Errorf("%w: no graph in the %d bytes read (is it another kind of file?)", ErrNotONNX, len(data))
	}
	if mp.GetIrVersion() <= 0 {
		return nil, fmt.Errorf("%w: no IR version", ErrNotONNX)
	}
	if len(mp.OpsetImport) == 0 {
		return nil, fmt.Errorf("%w: no opset_import", ErrNotONNX)
	}
	m := &Model{Proto: mp}
	if err := m.checkTensors(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotONNX, err)
	}
	if refuseExternal {
		if names := m.externalTensors(); len(names) > 0 {
			return nil, fmt.Errorf("%w (%d tensors, first %q); use onnx.Read with the model's path", ErrExternalData, len(names), names[0])
		}
	}
	return m, nil
}

// Encode returns the protobuf bytes of the model. The same model always gives the same bytes.
func (m *Model) Encode() ([]byte, error) {
	if m == nil || m.Proto == nil {
		return nil, errors.New("encoding ONNX model: nil model")
	}
	if n := proto.Size(m.Proto); n > maxProtoSize {
		return nil, fmt.Errorf("encoding ONNX model: %d bytes is more than protobuf's 2 GiB limit", n)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Proto)
	if err != nil {
		return nil, fmt.Errorf("encoding ONNX model: %w", err)
	}
	return data, nil
}

// Write writes the model to path atomically: a temporary file in the same folder, then a
// rename, so path holds either the old content or the whole new model.
func (m *Model) Write(path string) error {
	data, err := m.Encode()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing ONNX model: %w", err)
	}
	return nil
}

// Clone returns a deep copy of the model.
func (m *Model) Clone() *Model {
	return &Model{Proto: proto.Clone(m.Proto).(*pb.ModelProto)}
}

// Graph returns the model's main graph.
func (m *Model) Graph() *pb.GraphProto { return m.Proto.GetGraph() }

// SetMetadata sets the metadata_props entry key to value, replacing an existing entry.
func (m *Model) SetMetadata(key, value string) {
	for _, p := range m.Proto.MetadataProps {
		if p.GetKey() == key {
			p.Value = proto.String(value)
			return
		}
	}
	m.Proto.MetadataProps = append(m.Proto.MetadataProps, &pb.StringStringEntryProto{Key: proto.String(key), Value: proto.String(value)})
}

// Metadata returns the model's metadata_props as a map.
func (m *Model) Metadata() map[string]string {
	md := make(map[string]string, len(m.Proto.MetadataProps))
	for _, p := range m.Proto.MetadataProps {
		md[p.GetKey()] = p.GetValue()
	}
	return md
}

// Opset returns the model's opset version for domain ("" or "ai.onnx" is the default
// domain), or 0 when the model does not import it.
func (m *Model) Opset(domain string) int64 {
	for _, o := range m.Proto.OpsetImport {
		if normDomain(o.GetDomain()) == normDomain(domain) {
			return o.GetVersion()
		}
	}
	return 0
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// Initializer returns the initializer tensor called name, or nil.
func (m *Model) Initializer(name string) *pb.TensorProto {
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		if t.GetName() == name {
			return t
		}
	}
	return nil
}

// Float32s returns the elements of a float32 tensor, whether stored in float_data or raw_data.
func Float32s(t *pb.TensorProto) ([]float32, error) {
	if t.GetDataType() != int32(pb.TensorProto_FLOAT) {
		return nil, fmt.Errorf("tensor %q is %s, not float32", t.GetName(), DType(t.GetDataType()))
	}
	if t.GetDataLocation() == pb.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("tensor %q is stored in an external file", t.GetName())
	}
	n := elemCount(t.Dims)
	if raw := t.GetRawData(); raw != nil || len(t.FloatData) == 0 {
		if int64(len(raw)) != 4*n {
			return nil, fmt.Errorf("tensor %q: raw_data has %d bytes, want %d for shape %v", t.GetName(), len(raw), 4*n, t.Dims)
		}
		return decodeFloat32s(raw), nil
	}
	if int64(len(t.FloatData)) != n {
		return nil, fmt.Errorf("tensor %q: float_data has %d values, want %d for shape %v", t.GetName(), len(t.FloatData), n, t.Dims)
	}
	return append([]float32(nil), t.FloatData...), nil
}

// Int64s returns the elements of an int64 tensor, whether stored in int64_data or raw_data.
func Int64s(t *pb.TensorProto) ([]int64, error) {
	if t.GetDataType() != int32(pb.TensorProto_INT64) {
		return nil, fmt.Errorf("tensor %q is %s, not int64", t.GetName(), DType(t.GetDataType()))
	}
	n := elemCount(t.Dims)
	if raw := t.GetRawData(); raw != nil || len(t.Int64Data) == 0 {
		if int64(len(raw)) != 8*n {
			return nil, fmt.Errorf("tensor %q: raw_data has %d bytes, want %d for shape %v", t.GetName(), len(raw), 8*n, t.Dims)
		}
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		return out, nil
	}
	if int64(len(t.Int64Data)) != n {
		return nil, fmt.Errorf("tensor %q: int64_data has %d values, want %d", t.GetName(), len(t.Int64Data), n)
	}
	return append([]int64(nil), t.Int64Data...), nil
}

func elemCount(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// externalTensors lists the initializers stored outside the model file.
func (m *Model) externalTensors() []string {
	var names []string
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		if t.GetDataLocation() == pb.TensorProto_EXTERNAL {
			names = append(names, t.GetName())
		}
	}
	return names
}

// DType is an ONNX tensor element type; its values are those of TensorProto.DataType.
type DType int32

// Element types.
const (
	Undefined DType = DType(pb.TensorProto_UNDEFINED)
	Float     DType = DType(pb.TensorProto_FLOAT)
	Uint8     DType = DType(pb.TensorProto_UINT8)
	Int8      DType = DType(pb.TensorProto_INT8)
	Int32     DType = DType(pb.TensorProto_INT32)
	Int64     DType = DType(pb.TensorProto_INT64)
	Bool      DType = DType(pb.TensorProto_BOOL)
	Float16   DType = DType(pb.TensorProto_FLOAT16)
	Double    DType = DType(pb.TensorProto_DOUBLE)
)

// String returns the ONNX name of the type in lower case, such as "float" or "int64".
func (d DType) String() string {
	if s, ok := pb.TensorProto_DataType_name[int32(d)]; ok {
		return strings.ToLower(s)
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
