package npy

import (
	"fmt"
	"io"
	"math"

	"github.com/catdog-ml/catdog/internal/atomicfile"
)

// Writer streams one array: NewWriter writes the header, Write takes the raw little-endian
// data in C order, and Close checks that exactly the announced amount was written.
type Writer struct {
	w       io.Writer
	h       Header
	written int64
}

// NewWriter writes the header for an array of the given type and shape to w and returns a
// Writer for its data.
func NewWriter(w io.Writer, dt DType, shape []int) (*Writer, error) {
	h := Header{DType: dt, Shape: append([]int(nil), shape...)}
	hdr, err := EncodeHeader(h, 0)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("npy: writing header: %w", err)
	}
	return &Writer{w: w, h: h}, nil
}

// Write writes raw little-endian element bytes. Writing past the announced size fails.
func (w *Writer) Write(p []byte) (int, error) {
	if w.written+int64(len(p)) > w.h.DataSize() {
		return 0, fmt.Errorf("npy: writing %d bytes past the end of a %v array of shape %v", len(p), w.h.DType, w.h.Shape)
	}
	n, err := w.w.Write(p)
	w.written += int64(n)
	return n, err
}

// Close reports an error if less data was written than the shape announced. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	if w.written != w.h.DataSize() {
		return fmt.Errorf("npy: wrote %d of %d data bytes for shape %v", w.written, w.h.DataSize(), w.h.Shape)
	}
	return nil
}

// Write writes a whole array of shape to w.
func Write[T Elem](w io.Writer, shape []int, data []T) error {
	nw, err := NewWriter(w, DTypeOf[T](), shape)
	if err != nil {
		return err
	}
	if int64(len(data)) != int64(nw.h.Len()) {
		return fmt.Errorf("npy: %d elements for shape %v", len(data), shape)
	}
	if _, err := nw.Write(asBytes(data)); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nw.Close()
}

// WriteFile writes a whole array to path atomically.
func WriteFile[T Elem](path string, shape []int, data []T) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := Write(f, shape, data); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	return f.Commit()
}

// RowWriter streams an array whose first dimension is not known in advance: it reserves a
// header long enough for any row count, takes whole rows, and on Close rewrites the header
// in place with the number of rows written. The result is an ordinary version 1.0 file.
type RowWriter struct {
	ws      io.WriteSeeker
	h       Header
	hdrLen  int
	rowSize int64
	written int64
	closed  bool
}

// NewRowWriter starts an array of rows of shape rowShape at the current position of ws,
// which must be the start of the file.
func NewRowWriter(ws io.WriteSeeker, dt DType, rowShape []int) (*RowWriter, error) {
	h := Header{DType: dt, Shape: append([]int{0}, rowShape...)}
	// Reserve room for the longest possible row count.
	long := Header{DType: dt, Shape: append([]int{maxRowsPlaceholder}, rowShape...)}
	hdr, err := EncodeHeader(long, 0)
	if err != nil {
		return nil, err
	}
	first, err := EncodeHeader(h, len(hdr))
	if err != nil {
		return nil, err
	}
	if len(first) != len(hdr) {
		return nil, fmt.Errorf("npy: internal error: header lengths %d and %d", len(first), len(hdr))
	}
	if _, err := ws.Write(first); err != nil {
		return nil, fmt.Errorf("npy: writing header: %w", err)
	}
	return &RowWriter{ws: ws, h: h, hdrLen: len(hdr), rowSize: h.RowSize()}, nil
}

// maxRowsPlaceholder has as many digits as the largest row count.
const maxRowsPlaceholder = math.MaxInt64

// Write writes p, which must hold whole rows.
func (w *RowWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("npy: write after close")
	}
	if w.rowSize > 0 && int64(len(p))%w.rowSize != 0 {
		return 0, fmt.Errorf("npy: write of %d bytes is not a whole number of %d-byte rows", len(p), w.rowSize)
	}
	n, err := w.ws.Write(p)
	w.written += int64(n)
	return n, err
}

// Rows returns the number of rows written so far.
func (w *RowWriter) Rows() int {
	if w.rowSize == 0 {
		return 0
	}
	return int(w.written / w.rowSize)
}

// Close rewrites the header with the final row count and leaves ws positioned at the end
// of the data. It does not close ws.
func (w *RowWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.h.Shape[0] = w.Rows()
	hdr, err := EncodeHeader(w.h, w.hdrLen)
	if err != nil {
		return err
	}
	if len(hdr) != w.hdrLen {
		return fmt.Errorf("npy: internal error: final header is %d bytes, reserved %d", len(hdr), w.hdrLen)
	}
	if _, err := w.ws.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("npy: rewriting header: %w", err)
	}
	if _, err := w.ws.Write(hdr); err != nil {
		return fmt.Errorf("npy: rewriting header: %w", err)
	}
	if _, err := w.ws.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}
