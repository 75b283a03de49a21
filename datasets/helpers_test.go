package datasets

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// photos returns n cats then n dogs of a shared folder, chosen by id (fixtures.PhotoFiles).
func photos(t testing.TB, folder string, n int) []string {
	t.Helper()
	return fixtures.PhotoFiles(t, folder, n)
}

// link puts symbolic links to files into dir/sub under their own names (or names from
// rename), and returns dir.
func link(t testing.TB, dir, sub string, files []string, rename func(string) string) string {
	t.Helper()
	d := filepath.Join(dir, sub)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if rename != nil {
			name = rename(name)
		}
		abs, _ := filepath.Abs(f)
		if err := os.Symlink(abs, filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// zipFolder writes every file under root into a zip at path, names relative to root.
func zipFolder(t testing.TB, root, path string, extra map[string][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	err = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(extra))
	for n := range extra {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: n, Method: zip.Store, CRC32: crc(extra[n]),
			CompressedSize64: uint64(len(extra[n])), UncompressedSize64: uint64(len(extra[n]))})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(extra[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// synthetic returns a small PNG of one colour.
func synthetic(w, h int, c color.Color) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	png.Encode(&b, m)
	return b.Bytes()
}

func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fileSum(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// python finds a Python 3 with numpy (see fixtures.Python).
func python(t *testing.T) string {
	t.Helper()
	return fixtures.Python(t, "numpy")
}

func crc(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
