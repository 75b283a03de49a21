// Package npy reads and writes NumPy .npy files (format version 1.0 written; 1.0, 2.0 and
// 3.0 read), C order, little-endian, for the element types catdog stores: uint8, int32,
// int64, float16, float32 and float64.
//
// Writers stream: the header goes first and the data follows in row order, so an array
// never needs to be in memory whole. When the leading dimension is only known at the end,
// RowWriter reserves a fixed-length header and rewrites it in place on Close. Readers parse
// the header and hand out an io.ReaderAt over the data, so rows can be read one at a time.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unsafe"
)

// DType is the element type of an array.
type DType int

// The element types this package handles.
const (
	Uint8 DType = iota + 1
	Int32
	Int64
	Float16
	Float32
	Float64
)

var dtypeInfo = [...]struct {
	descr string
	size  int
	name  string
}{
	Uint8:   {"|u1", 1, "uint8"},
	Int32:   {"<i4", 4, "int32"},
	Int64:   {"<i8", 8, "int64"},
	Float16: {"<f2", 2, "float16"},
	Float32: {"<f4", 4, "float32"},
	Float64: {"<f8", 8, "float64"},
}

func (d DType) valid() bool { return d >= Uint8 && d <= Float64 }

// Size returns the size of one element in bytes (0 for an invalid DType).
func (d DType) Size() int {
	if !d.valid() {
		return 0
	}
	return dtypeInfo[d].size
}

// String returns NumPy's name for the type, such as "uint8" or "float32".
func (d DType) String() string {
	if !d.valid() {
		return fmt.Sprintf("DType(%d)", int(d))
	}
	return dtypeInfo[d].name
}

// Descr returns the type as a NumPy descr string, such as "|u1" or "<f4".
func (d DType) Descr() string {
	if !d.valid() {
		return ""
	}
	return dtypeInfo[d].descr
}

func parseDescr(s string) (DType, error) {
	switch s {
	case "|u1", "<u1", "u1":
		return Uint8, nil
	}
	for d := Uint8; d <= Float64; d++ {
		if dtypeInfo[d].descr == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("npy: unsupported dtype %q (want little-endian uint8, int32, int64, float16, float32 or float64)", s)
}

// Header describes an array: its element type and shape (C order).
type Header struct {
	DType DType
	Shape []int
}

// Len returns the number of elements (the product of the shape; 1 for a scalar).
func (h Header) Len() int {
	n := 1
	for _, d := range h.Shape {
		n *= d
	}
	return n
}

// DataSize returns the size of the data in bytes.
func (h Header) DataSize() int64 { return int64(h.Len()) * int64(h.DType.Size()) }

// RowSize returns the size in bytes of one row (one index along the first axis).
func (h Header) RowSize() int64 {
	if len(h.Shape) == 0 {
		return int64(h.DType.Size())
	}
	n := int64(h.DType.Size())
	for _, d := range h.Shape[1:] {
		n *= int64(d)
	}
	return n
}

var magic = []byte("\x93NUMPY")

// EncodeHeader returns the version 1.0 header for h, padded with spaces so that its length
// is a multiple of 64 and at least minLen.
func EncodeHeader(h Header, minLen int) ([]byte, error) {
	if !h.DType.valid() {
		return nil, fmt.Errorf("npy: invalid dtype %v", h.DType)
	}
	var shape strings.Builder
	shape.WriteByte('(')
	for i, d := range h.Shape {
		if d < 0 {
			return nil, fmt.Errorf("npy: negative dimension %d in shape %v", d, h.Shape)
		}
		if i > 0 {
			shape.WriteString(", ")
		}
		shape.WriteString(strconv.Itoa(d))
	}
	if len(h.Shape) == 1 {
		shape.WriteByte(',')
	}
	shape.WriteByte(')')
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", h.DType.Descr(), shape.String())
	total := len(magic) + 2 + 2 + len(dict) + 1
	pad := (64 - total%64) % 64
	for total+pad < minLen {
		pad += 64
	}
	if total+pad-10 > 0xffff {
		return nil, errors.New("npy: header too long for format 1.0")
	}
	buf := make([]byte, 0, total+pad)
	buf = append(buf, magic...)
	buf = append(buf, 1, 0)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(total+pad-10))
	buf = append(buf, dict...)
	buf = append(buf, bytes.Repeat([]byte{' '}, pad)...)
	buf = append(buf, '\n')
	return buf, nil
}

// ReadHeader reads an .npy header from r and returns it with the offset of the data from
// the start of the file.
func ReadHeader(r io.Reader) (Header, int64, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return Header{}, 0, fmt.Errorf("npy: reading header: %w", err)
	}
	if !bytes.Equal(pre[:6], magic) {
		return Header{}, 0, errors.New("npy: not an .npy file (bad magic)")
	}
	var hlen, off int64
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, 0, fmt.Errorf("npy: reading header: %w", err)
		}
		hlen, off = int64(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Header{}, 0, fmt.Errorf("npy: reading header: %w", err)
		}
		hlen, off = int64(binary.LittleEndian.Uint32(b[:])), 12
	default:
		return Header{}, 0, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > 1<<20 {
		return Header{}, 0, fmt.Errorf("npy: header length %d too large", hlen)
	}
	dict := make([]byte, hlen)
	if _, err := io.ReadFull(r, dict); err != nil {
		return Header{}, 0, fmt.Errorf("npy: reading header: %w", err)
	}
	h, err := parseDict(string(dict))
	if err != nil {
		return Header{}, 0, err
	}
	return h, off + hlen, nil
}

// parseDict parses the Python dict literal of a header.
func parseDict(s string) (Header, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return Header{}, fmt.Errorf("npy: malformed header %q", s)
	}
	field := func(key string) (string, error) {
		for _, q := range []string{"'", `"`} {
			k := q + key + q
			i := strings.Index(s, k)
			if i < 0 {
				continue
			}
			rest := strings.TrimSpace(s[i+len(k):])
			if !strings.HasPrefix(rest, ":") {
				return "", fmt.Errorf("npy: malformed header near %q", key)
			}
			return strings.TrimSpace(rest[1:]), nil
		}
		return "", fmt.Errorf("npy: header lacks %q", key)
	}
	var h Header
	v, err := field("descr")
	if err != nil {
		return h, err
	}
	if len(v) < 2 || (v[0] != '\'' && v[0] != '"') {
		return h, fmt.Errorf("npy: unsupported descr in header %q", s)
	}
	end := strings.IndexByte(v[1:], v[0])
	if end < 0 {
		return h, fmt.Errorf("npy: malformed descr in header %q", s)
	}
	if h.DType, err = parseDescr(v[1 : 1+end]); err != nil {
		return h, err
	}
	if v, err = field("fortran_order"); err != nil {
		return h, err
	}
	switch {
	case strings.HasPrefix(v, "False"):
	case strings.HasPrefix(v, "True"):
		return h, errors.New("npy: Fortran-order arrays are not supported")
	default:
		return h, fmt.Errorf("npy: malformed fortran_order in header %q", s)
	}
	if v, err = field("shape"); err != nil {
		return h, err
	}
	if !strings.HasPrefix(v, "(") {
		return h, fmt.Errorf("npy: malformed shape in header %q", s)
	}
	end = strings.IndexByte(v, ')')
	if end < 0 {
		return h, fmt.Errorf("npy: malformed shape in header %q", s)
	}
	h.Shape = []int{}
	total := int64(1)
	for _, part := range strings.Split(v[1:end], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := strconv.Atoi(strings.TrimSuffix(part, "L"))
		if err != nil || d < 0 {
			return h, fmt.Errorf("npy: bad dimension %q in header", part)
		}
		if d > 0 && total > (1<<62)/int64(d) {
			return h, fmt.Errorf("npy: shape in header %q too large", v[:end+1])
		}
		total *= int64(d)
		h.Shape = append(h.Shape, d)
	}
	return h, nil
}

// Elem is the set of Go types that map to an npy DType.
type Elem interface {
	uint8 | int32 | int64 | float32 | float64
}

// DTypeOf returns the DType matching T.
func DTypeOf[T Elem]() DType {
	var z T
	switch any(z).(type) {
	case uint8:
		return Uint8
	case int32:
		return Int32
	case int64:
		return Int64
	case float32:
		return Float32
	case float64:
		return Float64
	}
	return 0
}

// littleEndian reports whether the machine stores integers little-endian.
func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// asBytes returns the little-endian bytes of data, without a copy on little-endian machines.
func asBytes[T Elem](data []T) []byte {
	if len(data) == 0 {
		return nil
	}
	size := int(unsafe.Sizeof(data[0]))
	if littleEndian() || size == 1 {
		return unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), len(data)*size)
	}
	buf := new(bytes.Buffer)
	binary.Write(buf, binary.LittleEndian, data)
	return buf.Bytes()
}

// fromBytes decodes little-endian bytes into dst (len(b) == len(dst)*size).
func fromBytes[T Elem](dst []T, b []byte) {
	if len(dst) == 0 {
		return
	}
	size := int(unsafe.Sizeof(dst[0]))
	if littleEndian() || size == 1 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(dst)*size), b)
		return
	}
	binary.Read(bytes.NewReader(b), binary.LittleEndian, dst)
}
