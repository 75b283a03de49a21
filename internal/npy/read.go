package npy

import (
	"fmt"
	"io"
	"os"

	"github.com/catdog-ml/catdog/internal/userfile"
)

// File is an open .npy file: its header, and its data readable at any offset.
type File struct {
	Header
	f      *os.File
	offset int64
}

// Open opens path, reads its header and checks that the file holds all the data the header
// announces. The data is not read. path must be a regular file (userfile.Open).
func Open(path string) (*File, error) {
	f, err := userfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	h, off, err := ReadHeader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("npy: %w", err)
	}
	if st.Size() < off+h.DataSize() {
		f.Close()
		return nil, fmt.Errorf("npy: %s is truncated: %d data bytes, header announces %d", path, st.Size()-off, h.DataSize())
	}
	return &File{Header: h, f: f, offset: off}, nil
}

// DataOffset returns where the data starts in the file.
func (f *File) DataOffset() int64 { return f.offset }

// ReadAt reads raw data bytes at offset off from the start of the data (not of the file).
// It is safe for concurrent use.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > f.DataSize() {
		return 0, fmt.Errorf("npy: read of %d bytes at %d outside the %d data bytes", len(p), off, f.DataSize())
	}
	return f.f.ReadAt(p, f.offset+off)
}

// ReadRows reads count rows starting at row into p, which must hold count*RowSize() bytes.
func (f *File) ReadRows(p []byte, row, count int) error {
	rs := f.RowSize()
	if int64(len(p)) != int64(count)*rs {
		return fmt.Errorf("npy: buffer of %d bytes for %d rows of %d bytes", len(p), count, rs)
	}
	_, err := f.ReadAt(p, int64(row)*rs)
	return err
}

// Data returns a reader over the whole data section.
func (f *File) Data() *io.SectionReader {
	return io.NewSectionReader(f.f, f.offset, f.DataSize())
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// ReadFile reads the whole array at path. Its dtype must match T.
func ReadFile[T Elem](path string) ([]T, []int, error) {
	f, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return ReadAll[T](f)
}

// ReadAll reads the whole data of f into a new slice. f's dtype must match T.
func ReadAll[T Elem](f *File) ([]T, []int, error) {
	want := DTypeOf[T]()
	if f.DType != want {
		return nil, nil, fmt.Errorf("npy: array holds %v, want %v", f.DType, want)
	}
	b := make([]byte, f.DataSize())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, nil, fmt.Errorf("npy: reading data: %w", err)
	}
	out := make([]T, f.Len())
	fromBytes(out, b)
	return out, append([]int(nil), f.Shape...), nil
}

// Read reads a whole array from r (header then data). Its dtype must match T.
func Read[T Elem](r io.Reader) ([]T, []int, error) {
	h, _, err := ReadHeader(r)
	if err != nil {
		return nil, nil, err
	}
	want := DTypeOf[T]()
	if h.DType != want {
		return nil, nil, fmt.Errorf("npy: array holds %v, want %v", h.DType, want)
	}
	b := make([]byte, h.DataSize())
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, nil, fmt.Errorf("npy: reading data: %w", err)
	}
	out := make([]T, h.Len())
	fromBytes(out, b)
	return out, h.Shape, nil
}
