package onnx

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/catdog-ml/catdog/internal/userfile"
	"github.com/catdog-ml/catdog/onnx/pb"
)

// elemBytes is the size of one element of each fixed-size type (0: not fixed, or unknown).
func elemBytes(dt int32) int64 {
	switch pb.TensorProto_DataType(dt) {
	case pb.TensorProto_FLOAT, pb.TensorProto_INT32, pb.TensorProto_UINT32:
		return 4
	case pb.TensorProto_UINT8, pb.TensorProto_INT8, pb.TensorProto_BOOL:
		return 1
	case pb.TensorProto_UINT16, pb.TensorProto_INT16, pb.TensorProto_FLOAT16, pb.TensorProto_BFLOAT16:
		return 2
	case pb.TensorProto_INT64, pb.TensorProto_UINT64, pb.TensorProto_DOUBLE, pb.TensorProto_COMPLEX64:
		return 8
	case pb.TensorProto_COMPLEX128:
		return 16
	}
	return 0
}

// declared returns the number of elements a tensor's shape declares, refusing negative
// dimensions and products that do not fit in an int64.
func declared(t *pb.TensorProto) (int64, error) {
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 {
			return 0, fmt.Errorf("tensor %q: negative dimension in shape %v", t.GetName(), t.Dims)
		}
		if d != 0 && n > math.MaxInt64/16/d {
			return 0, fmt.Errorf("tensor %q: shape %v declares more elements than any file can hold", t.GetName(), t.Dims)
		}
		n *= d
	}
	return n, nil
}

// checkTensors checks that every initializer holds the data its shape and type declare, so
// that a tensor whose declared shape is far bigger than its bytes is refused here, not
// trusted by a later stage. External data is checked when it is loaded.
func (m *Model) checkTensors() error {
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		n, err := declared(t)
		if err != nil {
			return err
		}
		if t.GetDataLocation() == pb.TensorProto_EXTERNAL {
			continue
		}
		dt := t.GetDataType()
		if size := elemBytes(dt); size > 0 && (t.RawData != nil || held(t) == 0) {
			if got := int64(len(t.RawData)); got != n*size {
				return fmt.Errorf("tensor %q: shape %v of %s declares %s, its raw_data holds %d bytes", t.GetName(), t.Dims, DType(dt), userfile.Bytes(n*size), got)
			}
			continue
		}
		if per := perElement(dt); per > 0 {
			if got := held(t); got != n*per {
				return fmt.Errorf("tensor %q: shape %v of %s declares %d values, it holds %d", t.GetName(), t.Dims, DType(dt), n*per, got)
			}
		}
	}
	return nil
}

// held counts the values in a tensor's typed fields.
func held(t *pb.TensorProto) int64 {
	return int64(len(t.FloatData) + len(t.Int32Data) + len(t.StringData) + len(t.Int64Data) + len(t.DoubleData) + len(t.Uint64Data))
}

// perElement is how many typed-field values one element takes (2 for complex numbers, 0
// for types whose storage this package does not check).
func perElement(dt int32) int64 {
	switch pb.TensorProto_DataType(dt) {
	case pb.TensorProto_COMPLEX64, pb.TensorProto_COMPLEX128:
		return 2
	case pb.TensorProto_UNDEFINED:
		return 0
	}
	if _, known := pb.TensorProto_DataType_name[dt]; !known {
		return 0 // a newer type (float8, int4...): its packing is left to the runtime
	}
	return 1
}

// external is one initializer's external data: where it lives and how many bytes it takes.
type external struct {
	t           *pb.TensorProto
	loc         string
	off, length int64
}

// externals lists the model's external data and checks what each declares (location inside
// the folder by its name, offset, length equal to what the shape and type take) before any
// file is opened.
func (m *Model) externals() ([]external, error) {
	var out []external
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		if t.GetDataLocation() != pb.TensorProto_EXTERNAL {
			continue
		}
		e := external{t: t, length: -1}
		for _, kv := range t.ExternalData {
			var err error
			switch kv.GetKey() {
			case "location":
				e.loc = kv.GetValue()
			case "offset":
				e.off, err = strconv.ParseInt(kv.GetValue(), 10, 64)
			case "length":
				e.length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("tensor %q: bad external_data %s=%q: %w", t.GetName(), kv.GetKey(), kv.GetValue(), err)
			}
		}
		if e.loc == "" {
			return nil, fmt.Errorf("tensor %q: external data without a location", t.GetName())
		}
		n, err := declared(t)
		if err != nil {
			return nil, err
		}
		size := elemBytes(t.GetDataType())
		if size == 0 {
			return nil, fmt.Errorf("tensor %q: external data of type %s is not supported", t.GetName(), DType(t.GetDataType()))
		}
		want := n * size
		if e.length < 0 {
			e.length = want
		}
		if e.off < 0 || e.length != want {
			return nil, fmt.Errorf("tensor %q: external data at offset %d of length %d, but shape %v of %s takes %d bytes", t.GetName(), e.off, e.length, t.Dims, DType(t.GetDataType()), want)
		}
		out = append(out, e)
	}
	return out, nil
}

// loadExternalData reads tensors kept in external files into raw_data. Every file is
// opened with userfile.OpenIn, so it must be a regular file inside dir, symbolic links
// included; the bytes the tensors declare are added up and checked against budget, and each
// tensor's range against its file's size, before anything is read.
func (m *Model) loadExternalData(dir string, budget int64) error {
	exts, err := m.externals()
	if err != nil || len(exts) == 0 {
		return err
	}
	var total int64
	for _, e := range exts {
		total += e.length
	}
	if total > budget {
		return fmt.Errorf("its tensors declare %s of external data, more than the %s left of the limit (raise the limit, --max-model-bytes, to read it)", userfile.Bytes(total), userfile.Bytes(max(budget, 0)))
	}
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	sizes := map[string]int64{}
	for _, e := range exts {
		if _, ok := files[e.loc]; !ok {
			f, err := userfile.OpenIn(dir, e.loc)
			if err != nil {
				return fmt.Errorf("tensor %q: external data: %w", e.t.GetName(), err)
			}
			files[e.loc] = f
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("tensor %q: external data: %w", e.t.GetName(), err)
			}
			sizes[e.loc] = st.Size()
		}
		if e.off+e.length > sizes[e.loc] {
			return fmt.Errorf("tensor %q: external data %s holds %d bytes, the tensor wants bytes %d to %d (truncated file?)", e.t.GetName(), e.loc, sizes[e.loc], e.off, e.off+e.length)
		}
	}
	for _, e := range exts {
		buf := make([]byte, e.length)
		if _, err := files[e.loc].ReadAt(buf, e.off); err != nil {
			return fmt.Errorf("tensor %q: external data %s: %w", e.t.GetName(), e.loc, err)
		}
		e.t.RawData, e.t.ExternalData, e.t.DataLocation = buf, nil, nil
	}
	return nil
}
