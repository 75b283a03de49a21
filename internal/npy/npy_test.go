package npy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

func TestEncodeHeader(t *testing.T) {
	tests := []struct {
		h    Header
		dict string
	}{
		{Header{Uint8, []int{2, 3}}, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }"},
		{Header{Int64, []int{5}}, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"},
		{Header{Float32, []int{}}, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"},
		{Header{Float16, []int{1, 512, 7, 7}}, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 512, 7, 7), }"},
	}
	for _, tt := range tests {
		b, err := EncodeHeader(tt.h, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(b)%64 != 0 {
			t.Errorf("%v: header length %d not a multiple of 64", tt.h, len(b))
		}
		if !bytes.HasPrefix(b[10:], []byte(tt.dict)) || b[len(b)-1] != '\n' {
			t.Errorf("%v: header %q, want dict %q", tt.h, b[10:], tt.dict)
		}
		h, off, err := ReadHeader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if off != int64(len(b)) || h.DType != tt.h.DType || fmt.Sprint(h.Shape) != fmt.Sprint(tt.h.Shape) {
			t.Errorf("read back %v at %d, want %v at %d", h, off, tt.h, len(b))
		}
	}
}

func TestReadHeaderErrors(t *testing.T) {
	good, _ := EncodeHeader(Header{Uint8, []int{3}}, 0)
	tests := map[string][]byte{
		"empty":      nil,
		"bad magic":  append([]byte("XNUMPY"), good[6:]...),
		"version 9":  append(append([]byte{}, good[:6]...), append([]byte{9, 0}, good[8:]...)...),
		"truncated":  good[:20],
		"fortran":    []byte(strings.Replace(string(good), "False", "True ", 1)),
		"big endian": []byte(strings.Replace(string(good), "|u1", ">u2", 1)),
		"bad shape":  []byte(strings.Replace(string(good), "(3,)", "(x,)", 1)),
		"no shape":   []byte(strings.Replace(string(good), "'shape'", "'shope'", 1)),
	}
	for name, b := range tests {
		if _, _, err := ReadHeader(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	check := func(name string, err error, ok bool) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !ok {
			t.Fatalf("%s: values differ", name)
		}
	}
	p := filepath.Join(dir, "u8.npy")
	u8 := []uint8{0, 1, 2, 254, 255, 7}
	check("write u8", WriteFile(p, []int{2, 3}, u8), true)
	gotU8, shape, err := ReadFile[uint8](p)
	check("u8", err, bytes.Equal(gotU8, u8) && fmt.Sprint(shape) == "[2 3]")

	p = filepath.Join(dir, "i64.npy")
	i64 := []int64{-1, 0, 1 << 40}
	check("write i64", WriteFile(p, []int{3}, i64), true)
	gotI64, _, err := ReadFile[int64](p)
	check("i64", err, fmt.Sprint(gotI64) == fmt.Sprint(i64))

	p = filepath.Join(dir, "f32.npy")
	f32 := []float32{0.5, -2, 3.25, 1e-7}
	check("write f32", WriteFile(p, []int{2, 2}, f32), true)
	gotF32, _, err := ReadFile[float32](p)
	check("f32", err, fmt.Sprint(gotF32) == fmt.Sprint(f32))
	if _, _, err := ReadFile[int64](p); err == nil {
		t.Error("reading float32 as int64 succeeded")
	}
	if err := WriteFile(p, []int{3, 2}, f32); err == nil {
		t.Error("shape/data mismatch accepted")
	}
	// The failed write left the earlier file whole.
	gotF32, _, err = ReadFile[float32](p)
	check("f32 after failed write", err, fmt.Sprint(gotF32) == fmt.Sprint(f32))
}

func TestRowWriter(t *testing.T) {
	for _, rows := range []int{0, 1, 37} {
		path := filepath.Join(t.TempDir(), "rows.npy")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewRowWriter(f, Uint8, []int{2, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for r := 0; r < rows; r++ {
			row := bytes.Repeat([]byte{byte(r)}, 12)
			all = append(all, row...)
			if _, err := w.Write(row); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Write([]byte{1, 2}); err == nil {
			t.Error("partial row accepted")
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		nf, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(nf.Shape) != fmt.Sprint([]int{rows, 2, 2, 3}) || nf.RowSize() != 12 {
			t.Errorf("shape %v rowsize %d", nf.Shape, nf.RowSize())
		}
		if rows > 0 {
			row := make([]byte, 12)
			if err := nf.ReadRows(row, rows-1, 1); err != nil || row[0] != byte(rows-1) {
				t.Errorf("last row %v, %v", row, err)
			}
			if err := nf.ReadRows(row, rows, 1); err == nil {
				t.Error("read past the end succeeded")
			}
		}
		got, _, err := ReadAll[uint8](nf)
		nf.Close()
		if err != nil || !bytes.Equal(got, all) {
			t.Errorf("rows=%d: data differs (%v)", rows, err)
		}
		if rows == 37 {
			numpyCheck(t, path, "a.shape == (37, 2, 2, 3) and a.dtype == np.uint8 and int(a[36, 1, 1, 2]) == 36 and int(a.sum()) == 12 * sum(range(37))")
		}
	}
}

func TestTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.npy")
	if err := WriteFile(path, []int{10}, make([]int64, 10)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-3], 0o644)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file: %v", err)
	}
}

func TestNumpyReads(t *testing.T) {
	dir := t.TempDir()
	WriteFile(filepath.Join(dir, "i64.npy"), []int{4}, []int64{3, -1, 1 << 40, 0})
	WriteFile(filepath.Join(dir, "f64.npy"), []int{1, 2}, []float64{0.25, -8})
	WriteFile(filepath.Join(dir, "i32.npy"), []int{2}, []int32{-7, 9})
	numpyCheck(t, filepath.Join(dir, "i64.npy"), "a.dtype == np.int64 and a.tolist() == [3, -1, 1 << 40, 0]")
	numpyCheck(t, filepath.Join(dir, "f64.npy"), "a.dtype == np.float64 and a.shape == (1, 2) and a.tolist() == [[0.25, -8.0]]")
	numpyCheck(t, filepath.Join(dir, "i32.npy"), "a.dtype == np.int32 and a.tolist() == [-7, 9]")

	// And numpy's own files read here.
	py := python(t)
	src := filepath.Join(dir, "np.npy")
	out, err := exec.Command(py, "-c", `import numpy as np, sys; np.save(sys.argv[1], np.arange(6, dtype=np.float32).reshape(2, 3) / 2)`, src).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy save: %v\n%s", err, out)
	}
	got, shape, err := ReadFile[float32](src)
	if err != nil || fmt.Sprint(shape) != "[2 3]" || fmt.Sprint(got) != "[0 0.5 1 1.5 2 2.5]" {
		t.Errorf("numpy file read as %v %v (%v)", got, shape, err)
	}
}

// numpyCheck loads path with numpy as a and asserts cond.
func numpyCheck(t *testing.T, path, cond string) {
	t.Helper()
	py := python(t)
	script := "import numpy as np, sys\na = np.load(sys.argv[1])\nassert " + cond + ", (a.dtype, a.shape)\n"
	if out, err := exec.Command(py, "-c", script, path).CombinedOutput(); err != nil {
		t.Errorf("numpy check %q on %s: %v\n%s", cond, filepath.Base(path), err, out)
	}
}

// python finds a Python 3 with numpy (see fixtures.Python).
func python(t *testing.T) string {
	t.Helper()
	return fixtures.Python(t, "numpy")
}
