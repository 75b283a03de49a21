package datasets

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/image/bmp"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/internal/userfile"
)

// arrays lists every array file of a dataset folder.
func arrays() []string {
	return []string{PhotosFile, LabelsFile, SplitFile(Train), SplitFile(Valid), SplitFile(Test)}
}

// realSource makes a train/ folder of 2*n shared 200x200 photos and 2*m originals of
// varied sizes, linked, and returns the folder holding train/.
func realSource(t *testing.T, n, m int) string {
	dir := t.TempDir()
	link(t, dir, "train", photos(t, "dogs-vs-cats/train", n), nil)
	// Originals get distinct names (cat.orig-N.jpg) so they sort apart from the others.
	link(t, dir, "train", photos(t, "dogs-vs-cats-originals", m), func(s string) string {
		return strings.Replace(strings.Replace(s, "cat.", "cat.orig-", 1), "dog.", "dog.orig-", 1)
	})
	return dir
}

func TestPrepareRealPhotos(t *testing.T) {
	src := realSource(t, 80, 15) // 190 photos
	const size = 48
	out1 := filepath.Join(t.TempDir(), "a")
	m, err := Prepare(context.Background(), Options{Data: src, Out: out1, Size: size, Seed: 7, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if m.Seen != 190 || m.Kept != 190 || len(m.Skipped) != 0 || !slices.Equal(m.Counts, ClassCounts{Dog: 95, Cat: 95}) {
		t.Fatalf("seen %d kept %d skipped %d counts %+v", m.Seen, m.Kept, len(m.Skipped), m.Counts)
	}
	if m.Balance.Imbalance != 1 || !slices.Equal(m.Balance.Shares, []float64{0.5, 0.5}) {
		t.Errorf("balance %+v", m.Balance)
	}
	if m.OriginalSizes.MaxWidth <= 200 || m.OriginalSizes.MinWidth > 200 {
		t.Errorf("original sizes %+v: the originals should widen the range around 200", m.OriginalSizes)
	}

	// Shapes, dtypes, and the manifest's checksums.
	wantShape := map[string]string{
		PhotosFile: fmt.Sprint([]int{190, size, size, 3}), LabelsFile: "[190]",
		SplitFile(Train): "[114]", SplitFile(Valid): "[38]", SplitFile(Test): "[38]",
	}
	for _, name := range arrays() {
		f, err := npy.Open(filepath.Join(out1, name))
		if err != nil {
			t.Fatal(err)
		}
		wantType := npy.Int64
		if name == PhotosFile || name == LabelsFile {
			wantType = npy.Uint8
		}
		if f.DType != wantType || fmt.Sprint(f.Shape) != wantShape[name] {
			t.Errorf("%s: %v %v, want %v %s", name, f.DType, f.Shape, wantType, wantShape[name])
		}
		f.Close()
		if got := fileSum(t, filepath.Join(out1, name)); got != m.Arrays[name].SHA256 {
			t.Errorf("%s: SHA-256 %s, manifest says %s", name, got, m.Arrays[name].SHA256)
		}
	}

	// Labels agree with the file names, in array order.
	labels, _, err := npy.ReadFile[uint8](filepath.Join(out1, LabelsFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range m.Files {
		want := uint8(Dog)
		if strings.HasPrefix(filepath.Base(f), "cat.") {
			want = Cat
		}
		if labels[i] != want {
			t.Fatalf("row %d (%s): label %d", i, f, labels[i])
		}
		if i > 0 && m.Files[i-1] >= f {
			t.Fatalf("files out of order: %s then %s", m.Files[i-1], f)
		}
	}

	// Splits: disjoint, complete, sorted, 60/20/20 within each class.
	seen := make([]int, len(labels))
	for _, s := range SplitNames() {
		idx, _, err := npy.ReadFile[int64](filepath.Join(out1, SplitFile(s)))
		if err != nil {
			t.Fatal(err)
		}
		c := make(ClassCounts, 2)
		for k, i := range idx {
			seen[i]++
			c[labels[i]]++
			if k > 0 && idx[k-1] >= i {
				t.Fatalf("%s not sorted", s)
			}
		}
		want := map[string]ClassCounts{Train: {57, 57}, Valid: {19, 19}, Test: {19, 19}}[s]
		if !slices.Equal(c, want) || !slices.Equal(m.Splits[s].Counts, want) || m.Splits[s].Count != len(idx) {
			t.Errorf("%s: counts %+v (manifest %+v), want %+v", s, c, m.Splits[s], want)
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("row %d is in %d splits", i, n)
		}
	}

	// The pixels are those imgutil gives for the file.
	row := 100
	data, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(m.Files[row])))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]uint8, size*size*3)
	if _, _, err := imgutil.DecodeResize(bytes.NewReader(data), size, imgutil.Bilinear, want); err != nil {
		t.Fatal(err)
	}
	ds, err := Open(out1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ds.Image(row, nil)
	ds.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("row %d differs from imgutil.DecodeResize of %s (%v)", row, m.Files[row], err)
	}

	// Reproducible: same inputs and seed, other worker count: byte-identical outputs.
	out2 := filepath.Join(t.TempDir(), "b")
	if _, err := Prepare(context.Background(), Options{Data: src, Out: out2, Size: size, Seed: 7, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(arrays(), ManifestFile) {
		if fileSum(t, filepath.Join(out1, name)) != fileSum(t, filepath.Join(out2, name)) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	// Another seed, another split, same photos.
	out3 := filepath.Join(t.TempDir(), "c")
	if _, err := Prepare(context.Background(), Options{Data: src, Out: out3, Size: size, Seed: 8}); err != nil {
		t.Fatal(err)
	}
	if fileSum(t, filepath.Join(out1, PhotosFile)) != fileSum(t, filepath.Join(out3, PhotosFile)) ||
		fileSum(t, filepath.Join(out1, SplitFile(Train))) == fileSum(t, filepath.Join(out3, SplitFile(Train))) {
		t.Error("a new seed should change the split and only the split")
	}

	// The zip of the same folder gives exactly the same arrays.
	zpath := filepath.Join(t.TempDir(), "train.zip")
	zipFolder(t, src, zpath, nil)
	outZ := filepath.Join(t.TempDir(), "z")
	mz, err := Prepare(context.Background(), Options{Data: zpath, Out: outZ, Size: size, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if mz.Source.Kind != "zip" || fmt.Sprint(mz.Files) != fmt.Sprint(m.Files) {
		t.Errorf("zip source: kind %q, files differ: %v", mz.Source.Kind, fmt.Sprint(mz.Files) != fmt.Sprint(m.Files))
	}
	for _, name := range arrays() {
		if fileSum(t, filepath.Join(out1, name)) != fileSum(t, filepath.Join(outZ, name)) {
			t.Errorf("%s differs between the folder and its zip", name)
		}
	}

	// numpy reads the arrays with the right shapes and values.
	py := python(t)
	script := `
import json, sys, numpy as np
d = sys.argv[1]
p = np.load(d + "/dogs_vs_cats_photos.npy"); l = np.load(d + "/dogs_vs_cats_labels.npy")
m = json.load(open(d + "/manifest.json"))
assert p.dtype == np.uint8 and p.shape == (190, 48, 48, 3), (p.dtype, p.shape)
assert l.dtype == np.uint8 and l.shape == (190,)
assert [int(x) for x in l] == [1 if f.split("/")[-1].startswith("cat.") else 0 for f in m["files"]]
s = [np.load(d + "/split_%s.npy" % n) for n in ("train", "valid", "test")]
assert all(x.dtype == np.int64 for x in s)
assert sorted(np.concatenate(s).tolist()) == list(range(190))
print(int(p[100].astype(np.int64).sum()), int(p[100, 5, 7, 2]))
`
	outp, err := exec.Command(py, "-c", script, out1).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, outp)
	}
	sum := 0
	for _, v := range want {
		sum += int(v)
	}
	if exp := fmt.Sprintf("%d %d\n", sum, want[(5*size+7)*3+2]); string(outp) != exp {
		t.Errorf("numpy sees row 100 as %q, Go as %q", outp, exp)
	}
}

func TestLayouts(t *testing.T) {
	cats := photos(t, "dogs-vs-cats/train", 6)[:6]
	dogs := photos(t, "dogs-vs-cats/train", 6)[6:]
	num := func(s string) string { return strings.TrimPrefix(strings.TrimPrefix(s, "cat."), "dog.") }
	tests := []struct {
		name  string
		make  func(dir string) string
		kind  string
		skips int
	}{
		{"folder per class", func(dir string) string {
			link(t, dir, "cats", cats, num)
			link(t, dir, "Dog", dogs, num)
			return dir
		}, "folder", 0},
		{"PetImages folder", func(dir string) string {
			link(t, dir, "PetImages/Cat", cats, num)
			link(t, dir, "PetImages/Dog", dogs, num)
			writeFiles(t, dir, map[string][]byte{"PetImages/Cat/Thumbs.db": []byte("junk"), "PetImages/Dog/Thumbs.db": []byte("junk")})
			return dir
		}, "folder (PetImages)", 2},
		{"PetImages zip", func(dir string) string {
			link(t, dir, "src/PetImages/Cat", cats, num)
			link(t, dir, "src/PetImages/Dog", dogs, num)
			z := filepath.Join(dir, "kagglecatsanddogs_5340.zip")
			zipFolder(t, filepath.Join(dir, "src"), z, map[string][]byte{"PetImages/Cat/Thumbs.db": []byte("junk"), "readme[1].txt": []byte("hello")})
			return z
		}, "zip (PetImages)", 2},
		{"Kaggle files directly", func(dir string) string { return link(t, dir, "", append(cats, dogs...), nil) }, "folder", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.make(t.TempDir())
			m, err := Prepare(context.Background(), Options{Data: src, Out: t.TempDir(), Size: 32})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Counts, ClassCounts{Dog: 6, Cat: 6}) || len(m.Skipped) != tt.skips || m.Source.Kind != tt.kind {
				t.Errorf("counts %+v, skipped %v, kind %q", m.Counts, m.Skipped, m.Source.Kind)
			}
			if m.Seen != m.Kept+len(m.Skipped) {
				t.Errorf("seen %d != kept %d + skipped %d", m.Seen, m.Kept, len(m.Skipped))
			}
		})
	}
}

// badFiles returns files that must be kept or skipped, by name, with the expected skip
// kind ("" = kept).
func badFiles(t *testing.T) (map[string][]byte, map[string]string) {
	good := photos(t, "dogs-vs-cats/train", 3)
	files := map[string][]byte{}
	want := map[string]string{}
	for _, f := range good {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(f)] = b
		want[filepath.Base(f)] = ""
	}
	jpg, _ := os.ReadFile(good[0])
	enc := func(img image.Image, format string) []byte {
		var b bytes.Buffer
		switch format {
		case "jpeg":
			jpeg.Encode(&b, img, nil)
		case "png":
			png.Encode(&b, img)
		case "gif":
			gif.Encode(&b, img, nil)
		case "bmp":
			bmp.Encode(&b, img)
		}
		return b.Bytes()
	}
	r := image.Rect(0, 0, 40, 30)
	gray := image.NewGray(r)
	cmyk := image.NewCMYK(r)
	rgba := image.NewRGBA(r)
	pal := image.NewPaletted(r, color.Palette{color.White, color.Black})
	corrupt := append([]byte(nil), jpg...)
	for i := len(corrupt) / 4; i < len(corrupt)-2; i += 5 {
		corrupt[i] ^= 0x5a
	}
	add := func(name string, data []byte, kind string) { files[name], want[name] = data, kind }
	add("cat.gray.jpg", enc(gray, "jpeg"), "")
	add("dog.cmyk.jpg", enc(cmyk, "jpeg"), "")
	add("cat.rgba.png", enc(rgba, "png"), "")
	add("dog.paletted.png", enc(pal, "png"), "")
	add("cat.really-a-png.jpg", enc(rgba, "png"), "")
	add("dog.really-a-gif.jpg", enc(pal, "gif"), "")
	add("cat.really-a-bmp.jpg", enc(rgba, "bmp"), "")
	add("dog.bitmap.bmp", enc(gray, "bmp"), "")
	add("cat.truncated.jpg", jpg[:len(jpg)/2], SkipCorrupt)
	add("dog.corrupt.jpg", corrupt, SkipCorrupt)
	add("cat.zero.jpg", nil, SkipEmpty)
	add("dog.text.jpg", []byte("this is a text file, not a photo\n"), SkipNotImage)
	add("cat.huge.png", fixtures.PNGHeader(20000, 10000, 8, 0), SkipTooLarge)
	add("holiday.jpg", jpg, SkipNoLabel)
	add("Thumbs.db", []byte("junk"), SkipSystemFile)
	add(".DS_Store", []byte("junk"), SkipSystemFile)
	add("__MACOSX/._cat.1.jpg", []byte("junk"), SkipSystemFile)
	return files, want
}

func TestBadInput(t *testing.T) {
	files, want := badFiles(t)
	check := func(t *testing.T, m *Manifest, want map[string]string) {
		t.Helper()
		got := map[string]string{}
		for _, f := range m.Files {
			got[f] = ""
		}
		for _, s := range m.Skipped {
			if s.Reason == "" {
				t.Errorf("%s skipped without a reason", s.File)
			}
			got[s.File] = s.Kind
		}
		for name, kind := range want {
			if k, ok := got[name]; !ok || k != kind {
				t.Errorf("%s: got kind %q (listed %v), want %q", name, k, ok, kind)
			}
		}
		if m.Seen != len(want) || m.Seen != m.Kept+len(m.Skipped) {
			t.Errorf("seen %d, kept %d, skipped %d; want seen %d = kept + skipped", m.Seen, m.Kept, len(m.Skipped), len(want))
		}
	}
	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, files)
		m, err := Prepare(context.Background(), Options{Data: dir, Out: t.TempDir(), Size: 32, MaxPixels: 50_000_000})
		if err != nil {
			t.Fatal(err)
		}
		check(t, m, want)
	})
	t.Run("zip", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, filepath.Join(dir, "src"), files)
		z := filepath.Join(dir, "train.zip")
		zipFolder(t, filepath.Join(dir, "src"), z, map[string][]byte{
			"../escape/cat.1.jpg": files["cat.gray.jpg"],
			"/abs/dog.1.jpg":      files["cat.gray.jpg"],
			`..\win\dog.2.jpg`:    files["cat.gray.jpg"],
		})
		w := map[string]string{"../escape/cat.1.jpg": SkipUnsafePath, "/abs/dog.1.jpg": SkipUnsafePath, `..\win\dog.2.jpg`: SkipUnsafePath}
		for k, v := range want {
			w[k] = v
		}
		m, err := Prepare(context.Background(), Options{Data: z, Out: t.TempDir(), Size: 32})
		if err != nil {
			t.Fatal(err)
		}
		check(t, m, w)
		var buf bytes.Buffer
		WriteSkipped(&buf, m, 2)
		if !strings.Contains(buf.String(), "unsafe-path") || !strings.Contains(buf.String(), fmt.Sprintf("seen %d files", m.Seen)) {
			t.Errorf("summary:\n%s", buf.String())
		}
	})
}

func TestSourceErrors(t *testing.T) {
	cat := synthetic(8, 8, color.White)
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"empty folder", map[string][]byte{}, "holds no files"},
		{"no labels", map[string][]byte{"a.jpg": cat, "b.png": cat}, "none labelled"},
		{"cats only", map[string][]byte{"cat.1.png": cat, "cat.2.png": cat}, "needs both classes"},
		{"dogs only after decoding", map[string][]byte{"dog.1.png": cat, "cat.1.png": []byte("broken")}, "needs both classes"},
		{"nothing decodes", map[string][]byte{"dog.1.png": nil, "cat.1.png": []byte("broken")}, "could be decoded"},
		{"Kaggle's outer zip", map[string][]byte{"train.zip": []byte("PK"), "test1.zip": []byte("PK")}, "pass --data train.zip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			out := filepath.Join(t.TempDir(), "out")
			_, err := Prepare(context.Background(), Options{Data: dir, Out: out, Size: 32})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if ents := visible(t, out); len(ents) != 0 {
				t.Errorf("failed run left %v in the output folder", ents)
			}
		})
	}
	if _, err := Prepare(context.Background(), Options{Data: filepath.Join(t.TempDir(), "missing.zip"), Out: t.TempDir()}); err == nil {
		t.Error("missing source accepted")
	}
	notZip := filepath.Join(t.TempDir(), "train.zip")
	os.WriteFile(notZip, []byte("not a zip"), 0o644)
	if _, err := Prepare(context.Background(), Options{Data: notZip, Out: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "zip") {
		t.Errorf("bad zip: %v", err)
	}
	if _, err := Prepare(context.Background(), Options{Data: notZip, Out: t.TempDir(), Size: 600}); err == nil {
		t.Error("size 600 accepted")
	}
}

// TestInterrupted cancels a run half-way: nothing may appear under a final name, and a
// new run completes.
func TestInterrupted(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{}
	for i := range 40 {
		files[fmt.Sprintf("cat.%d.png", i)] = synthetic(30, 20, color.RGBA{uint8(i), 0, 0, 255})
		files[fmt.Sprintf("dog.%d.png", i)] = synthetic(20, 30, color.RGBA{0, uint8(i), 0, 255})
	}
	writeFiles(t, dir, files)
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Prepare(ctx, Options{Data: dir, Out: out, Size: 32, Progress: func(done, total int) {
		if done == 30 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	for _, e := range visible(t, out) {
		t.Fatalf("interrupted run left %v", e)
	}
	m, err := Prepare(context.Background(), Options{Data: dir, Out: out, Size: 32})
	if err != nil || m.Kept != 80 {
		t.Fatalf("rerun: %v", err)
	}
	// Preparing again over an existing folder replaces it cleanly.
	if _, err := Prepare(context.Background(), Options{Data: dir, Out: out, Size: 40}); err != nil {
		t.Fatal(err)
	}
	ds, err := Open(out)
	if err != nil || ds.Size() != 40 {
		t.Fatalf("after rerun: %v", err)
	}
	ds.Close()
	if ents := visible(t, out); len(ents) != 8 { // the 5 arrays, the manifest, 2 charts
		t.Errorf("folder holds %v, want 8 files", ents)
	}
}

// visible lists the files of dir but the hidden ones (the lock, the checksum stamp).
func visible(t *testing.T, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestDownload(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{}
	for i := range 5 {
		files[fmt.Sprintf("PetImages/Cat/%d.jpg", i)] = synthetic(30, 20, color.White)
		files[fmt.Sprintf("PetImages/Dog/%d.jpg", i)] = synthetic(20, 30, color.Black)
	}
	writeFiles(t, filepath.Join(dir, "src"), files)
	z := filepath.Join(dir, "pets.zip")
	zipFolder(t, filepath.Join(dir, "src"), z, nil)
	body, _ := os.ReadFile(z)
	sum := fileSum(t, z)
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Write(body)
	}))
	defer srv.Close()

	cache := filepath.Join(t.TempDir(), "cache")
	dl := Download{URL: srv.URL + "/kagglecatsanddogs_5340.zip", SHA256: sum, Client: srv.Client(), CacheDir: cache}
	m, err := Prepare(context.Background(), Options{Out: t.TempDir(), Size: 32, Download: dl})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kept != 10 || m.Source.URL != dl.URL || filepath.Base(m.Source.Path) != "kagglecatsanddogs_5340.zip" {
		t.Errorf("manifest source %+v, kept %d", m.Source, m.Kept)
	}
	// Cached: no second download.
	if _, err := Prepare(context.Background(), Options{Out: t.TempDir(), Size: 32, Download: dl}); err != nil || hits != 1 {
		t.Errorf("second run: %v, %d downloads", err, hits)
	}

	// A wrong checksum: refused, nothing kept, and the message says how to get train.zip.
	bad := dl
	bad.SHA256 = strings.Repeat("0", 64)
	bad.CacheDir = filepath.Join(t.TempDir(), "cache2")
	_, err = Prepare(context.Background(), Options{Out: t.TempDir(), Size: 32, Download: bad})
	if err == nil || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(err.Error(), "--data path/to/train.zip") ||
		!strings.Contains(err.Error(), "kaggle competitions download -c dogs-vs-cats") {
		t.Fatalf("checksum mismatch: %v", err)
	}
	if ents, _ := os.ReadDir(bad.CacheDir); len(ents) != 0 {
		t.Errorf("mismatched download left %v", ents)
	}
	// No network.
	off := dl
	off.CacheDir = filepath.Join(t.TempDir(), "cache3")
	off.URL = "http://127.0.0.1:1/kagglecatsanddogs_5340.zip"
	if _, err := Prepare(context.Background(), Options{Out: t.TempDir(), Size: 32, Download: off}); err == nil || !strings.Contains(err.Error(), "train.zip") {
		t.Errorf("offline: %v", err)
	}
}

func TestLabelOf(t *testing.T) {
	tests := []struct {
		name  string
		label int
		kind  string
	}{
		{"train/cat.1.jpg", Cat, ""},
		{"train/dog.12499.jpg", Dog, ""},
		{"Cat.7.JPG", Cat, ""},
		{"PetImages/Cat/1.jpg", Cat, ""},
		{"PetImages/Dog/1.jpg", Dog, ""},
		{"data/cats/x/img.png", Cat, ""},
		{"DOGS/a.jpeg", Dog, ""},
		{"cats/dog.3.jpg", Dog, ""}, // the Kaggle name wins
		{"test1/1.jpg", -1, SkipNoLabel},
		{"catalogue/1.jpg", -1, SkipNoLabel},
		{"PetImages/Cat/Thumbs.db", -1, SkipSystemFile},
		{"__MACOSX/train/._cat.1.jpg", -1, SkipSystemFile},
		{"train/.hidden.jpg", -1, SkipSystemFile},
	}
	for _, tt := range tests {
		l, kind, _ := labelOf(tt.name)
		if l != tt.label || kind != tt.kind {
			t.Errorf("labelOf(%q) = %d, %q; want %d, %q", tt.name, l, kind, tt.label, tt.kind)
		}
	}
	for _, name := range []string{"../a/cat.1.jpg", "/etc/cat.1.jpg", `C:\cat.1.jpg`, `a\..\..\cat.1.jpg`} {
		if safeZipName(name) {
			t.Errorf("safeZipName(%q) = true", name)
		}
	}
}

func TestStratifiedSplit(t *testing.T) {
	for _, n := range [][2]int{{1, 1}, {2, 3}, {10, 7}, {1000, 250}} {
		labels := make([]uint8, 0, n[0]+n[1])
		for i := range n[0] + n[1] {
			labels = append(labels, uint8(min(i/n[0], 1)))
		}
		tr, va, te := stratifiedSplit(labels, 2, 3)
		if len(tr)+len(va)+len(te) != len(labels) {
			t.Fatalf("%v: sizes %d+%d+%d", n, len(tr), len(va), len(te))
		}
		tr2, _, _ := stratifiedSplit(labels, 2, 3)
		if fmt.Sprint(tr) != fmt.Sprint(tr2) {
			t.Fatal("same seed, different split")
		}
		for c := range 2 {
			cnt := 0
			for _, i := range tr {
				if int(labels[i]) == c {
					cnt++
				}
			}
			if want := int(float64(n[c])*0.6 + 0.5); cnt != want {
				t.Errorf("%v class %d: %d in train, want %d", n, c, cnt, want)
			}
		}
	}
}

// TestOutInsideSource prepares into a folder inside the source, twice: the outputs of the
// first run are not taken for input by the second.
func TestOutInsideSource(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"cat.1.png": synthetic(9, 9, color.White), "dog.1.png": synthetic(9, 9, color.Black),
		"cat.2.png": synthetic(9, 9, color.White), "dog.2.png": synthetic(9, 9, color.Black),
	})
	out := filepath.Join(dir, "data")
	m1, err := Prepare(context.Background(), Options{Data: dir, Out: out, Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(filepath.Join(out, ManifestFile))
	m2, err := Prepare(context.Background(), Options{Data: dir, Out: out, Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(filepath.Join(out, ManifestFile))
	if m1.Seen != 4 || m2.Seen != 4 || !bytes.Equal(b1, b2) {
		t.Errorf("seen %d then %d; manifests equal: %v", m1.Seen, m2.Seen, bytes.Equal(b1, b2))
	}
}

func TestBudget(t *testing.T) {
	b := newBudget(100)
	if got := b.acquire(1000); got != 100 { // over the budget: takes it all
		t.Fatalf("took %d", got)
	}
	done := make(chan int64)
	go func() { done <- b.acquire(10) }()
	select {
	case <-done:
		t.Fatal("acquired from an empty budget")
	case <-time.After(20 * time.Millisecond):
	}
	b.release(100)
	if got := <-done; got != 10 {
		t.Fatalf("took %d", got)
	}
}

// TestReadBudget: the files held at once by the workers never declare more bytes than the
// read budget, or than the largest one alone (the probe: JPEGs padded with 250 MiB of zeros
// in a 1.4 MB zip, held two and more at a time, took prepare to 1.9 GB); small files are
// still read several at a time.
func TestReadBudget(t *testing.T) {
	photo := synthetic(16, 16, color.White)
	for _, tc := range []struct {
		name       string
		size       int64 // declared size of every file
		maxAtOnce  int   // most files held at once
		minOverlap int   // fewest files held at once at some point
	}{
		{"padded with 40 MiB each", 40 << 20, 1, 1},
		{"ordinary photos", int64(len(photo)), 8, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var held, most int
			src := &source{kind: "folder", path: "test"}
			for i := range 16 {
				src.entries = append(src.entries, entry{name: fmt.Sprintf("cat.%d.png", i), label: Cat, size: tc.size,
					read: func(buf *bytes.Buffer) error {
						mu.Lock()
						held++
						most = max(most, held)
						mu.Unlock()
						time.Sleep(5 * time.Millisecond)
						buf.Write(photo)
						mu.Lock()
						held--
						mu.Unlock()
						return nil
					}})
			}
			cands := make([]int, len(src.entries))
			for i := range cands {
				cands[i] = i
			}
			err := decodeAll(context.Background(), src, cands, Options{Size: 8, Workers: 8}, func(i int, r result) error { return r.err })
			if err != nil {
				t.Fatal(err)
			}
			if most > tc.maxAtOnce || most < tc.minOverlap {
				t.Errorf("%d files held at once, want %d to %d", most, tc.minOverlap, tc.maxAtOnce)
			}
		})
	}
}

func TestPerClass(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"Thumbs.db": []byte("x")}
	for i := range 7 {
		files[fmt.Sprintf("cat.%d.png", i)] = synthetic(9, 9, color.White)
	}
	for i := range 4 {
		files[fmt.Sprintf("dog.%d.png", i)] = synthetic(9, 9, color.Black)
	}
	writeFiles(t, dir, files)
	m, err := Prepare(context.Background(), Options{Data: dir, Out: t.TempDir(), Size: 32, PerClass: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Counts, ClassCounts{Dog: 4, Cat: 5}) || m.LeftOut != 2 || m.PerClass != 5 || m.Seen != 10 || m.Seen != m.Kept+len(m.Skipped) {
		t.Errorf("counts %+v, left out %d, seen %d, kept %d, skipped %d", m.Counts, m.LeftOut, m.Seen, m.Kept, len(m.Skipped))
	}
	if m.Files[len(m.Files)-1] != "dog.3.png" || m.Files[4] != "cat.4.png" {
		t.Errorf("files %v: want the first 5 cats by name", m.Files)
	}
	if !filepath.IsAbs(m.Source.Path) {
		t.Errorf("source path %q not absolute", m.Source.Path)
	}
}

// TestPrepareSpecialFiles: a source folder holding a FIFO, symbolic links to a FIFO, to a
// device and to a folder beside its photos (the probe that hung prepare, deaf to signals,
// until a writer came): each is skipped with what it is, at once, nothing is opened; a FIFO
// named as the source itself is refused at once.
func TestPrepareSpecialFiles(t *testing.T) {
	dir := link(t, t.TempDir(), "", photos(t, "dogs-vs-cats/train", 3), nil)
	if err := syscall.Mkfifo(filepath.Join(dir, "cat.fifo.jpg"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	other := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(other, 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{"dog.pipe.jpg": other, "cat.zero.jpg": "/dev/zero", "dog.dir.jpg": t.TempDir()}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	var m *Manifest
	var err error
	go func() {
		defer close(done)
		m, err = Prepare(context.Background(), Options{Data: dir, Out: t.TempDir(), Size: 32})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("prepare is still running after 20 s: waiting on a FIFO?")
	}
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"cat.fifo.jpg": "a named pipe (FIFO), not a regular file",
		"dog.pipe.jpg": "a symbolic link to a named pipe (FIFO), not a regular file",
		"cat.zero.jpg": "a symbolic link to a device, not a regular file",
		"dog.dir.jpg":  "a symbolic link to a folder, not a regular file",
	}
	for _, s := range m.Skipped {
		if w, ok := want[s.File]; ok && s.Reason == w && s.Kind == SkipNotImage {
			delete(want, s.File)
		}
	}
	if len(want) > 0 || m.Kept != 6 || m.Seen != m.Kept+len(m.Skipped) {
		t.Errorf("not skipped as expected: %v; kept %d, seen %d, skipped %+v", want, m.Kept, m.Seen, m.Skipped)
	}

	start := time.Now()
	_, err = Prepare(context.Background(), Options{Data: other, Out: t.TempDir(), Size: 32})
	if !errors.Is(err, userfile.ErrNotRegular) || time.Since(start) > 5*time.Second {
		t.Errorf("a FIFO as the source: %v after %v", err, time.Since(start))
	}
}

// TestPaddedPhotos: the probe's zip of JPEGs padded with hundreds of MB of zeros (a few KB
// compressed). A photo over imgutil.MaxFileBytes is skipped from the size its zip header
// declares, before it is decompressed; one under it is kept.
func TestPaddedPhotos(t *testing.T) {
	photos := photos(t, "dogs-vs-cats/train", 2)
	files := map[string][]byte{}
	for i, p := range photos {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 { // one cat and one dog padded past the limit
			b = append(b, make([]byte, imgutil.MaxFileBytes)...)
		} else {
			b = append(b, make([]byte, 1<<20)...)
		}
		files["train/"+filepath.Base(p)] = b
	}
	src := filepath.Join(t.TempDir(), "padded.zip")
	if err := os.WriteFile(src, zipBytes(files, zip.Deflate), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Prepare(context.Background(), Options{Data: src, Out: t.TempDir(), Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kept != 2 || len(m.Skipped) != 2 {
		t.Fatalf("kept %d, skipped %+v", m.Kept, m.Skipped)
	}
	for _, s := range m.Skipped {
		if s.Kind != SkipTooLarge || !strings.Contains(s.Reason, "64.0 MiB: file over the 64 MiB a photo may take") {
			t.Errorf("skipped %+v", s)
		}
	}
}
