package datasets

import (
	"archive/zip"
	"bytes"
	"image/color"
	"sort"
	"testing"

	"github.com/catdog-ml/catdog/internal/imgutil"
)

func zipBytes(files map[string][]byte, method uint16) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: method})
		w.Write(files[n])
	}
	zw.Close()
	return b.Bytes()
}

// FuzzZipSource feeds arbitrary bytes to the zip lister, labels what it lists (classify)
// and decodes it: no panic; a source is refused whole or every file is either labelled
// with one of its classes or skipped with a kind; names in order.
func FuzzZipSource(f *testing.F) {
	png := synthetic(6, 4, color.White)
	f.Add(zipBytes(map[string][]byte{"train/cat.1.jpg": png, "train/dog.1.jpg": png}, zip.Deflate))
	f.Add(zipBytes(map[string][]byte{"PetImages/Cat/1.jpg": png, "PetImages/Dog/Thumbs.db": []byte("x")}, zip.Store))
	f.Add(zipBytes(map[string][]byte{"../cat.1.jpg": png, "/dog.2.jpg": png, "dir/": nil}, zip.Store))
	f.Add(zipBytes(map[string][]byte{"cat.1.jpg": png[:10]}, zip.Deflate))
	f.Add(zipBytes(map[string][]byte{"photos/daisy/1.jpg": png, "photos/rose/2.jpg": png, "photos/notes.txt": []byte("x")}, zip.Deflate))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := zipSource(bytes.NewReader(data), int64(len(data)), "fuzz.zip")
		if err != nil {
			return
		}
		sort.Slice(s.entries, func(i, j int) bool { return s.entries[i].name < s.entries[j].name })
		classes, err := s.classify(nil)
		if err != nil {
			return
		}
		if len(classes) < 2 {
			t.Fatalf("classes %q", classes)
		}
		z := imgutil.Resizer{MaxPixels: 1 << 16}
		pix := make([]uint8, 8*8*3)
		var buf bytes.Buffer
		for i, e := range s.entries {
			if i > 50 {
				break
			}
			if (e.kind == "") != (e.label >= 0 && e.label < len(classes)) {
				t.Fatalf("%q: label %d, skip kind %q", e.name, e.label, e.kind)
			}
			if e.kind == "" && !safeZipName(e.name) {
				t.Fatalf("unsafe name %q kept", e.name)
			}
			if e.kind != "" {
				continue
			}
			r := decodeOne(&z, &buf, e, Options{Size: 8}, pix, budgets{read: newBudget(1 << 20), decode: newBudget(1 << 16)})
			if r.err != nil && r.kind == "" {
				t.Fatalf("%q: error %v without a kind", e.name, r.err)
			}
		}
	})
}
