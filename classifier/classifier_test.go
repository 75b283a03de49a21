package classifier

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/onnx"
)

// meanModel is a tiny stand-in for an exported model: prob_cat = sigmoid((mean(image) -
// 128) / 32), with exactly the metadata meta.
func meanModel(t testing.TB, size int, meta map[string]string) string {
	t.Helper()
	return fixtures.BrightnessModelMeta(t, size, meta)
}

// wantProb is what meanModel gives for resized pixels, computed in Go.
func wantProb(px []uint8) float64 {
	var s float64
	for _, v := range px {
		s += float64(v)
	}
	m := s / float64(len(px))
	return 1 / (1 + math.Exp(-(m-128)/32))
}

func stdMeta(size string) map[string]string {
	return map[string]string{"catdog.input_size": size, "catdog.resize_filter": "bilinear", "catdog.labels": "dog,cat"}
}

func uniform(w, h int, c color.Color) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func TestPredictImages(t *testing.T) {
	fixtures.RequireORT(t)
	c, err := Load(meanModel(t, 32, stdMeta("32")), WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.InputSize() != 32 || !slices.Equal(c.Labels(), []string{"dog", "cat"}) || c.Filter() != "bilinear" {
		t.Fatalf("size %d labels %v filter %s", c.InputSize(), c.Labels(), c.Filter())
	}
	tests := []struct {
		name      string
		img       image.Image
		wantLabel string
	}{
		{"black", uniform(50, 40, color.Black), "dog"},
		{"white", uniform(10, 70, color.White), "cat"},
		{"gray 128", uniform(32, 32, color.Gray{128}), "cat"}, // exactly 0.5 is cat
		{"gray 100", uniform(64, 64, color.Gray{100}), "dog"},
		{"red", uniform(33, 31, color.RGBA{255, 0, 0, 255}), "dog"},
	}
	var imgs []image.Image
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			px := make([]uint8, 32*32*3)
			if err := imgutil.ResizeImage(tc.img, 32, imgutil.Bilinear, px); err != nil {
				t.Fatal(err)
			}
			want := wantProb(px)
			p, err := c.Predict(tc.img)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(float64(p.Probability)-want) > 1e-6 || p.Label != tc.wantLabel {
				t.Errorf("Predict = %+v, want probability %v label %s", p, want, tc.wantLabel)
			}
			if conf := math.Max(want, 1-want); math.Abs(float64(p.Confidence)-conf) > 1e-6 {
				t.Errorf("confidence %v, want %v", p.Confidence, conf)
			}
		})
		imgs = append(imgs, tc.img)
	}
	batch, err := c.PredictBatch(imgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		one, _ := c.Predict(img)
		if !reflect.DeepEqual(batch[i], one) {
			t.Errorf("batch[%d] = %+v, single = %+v", i, batch[i], one)
		}
	}
}

func photoPaths(t testing.TB, n int) []string {
	dir := fixtures.Shared(t, "dogs-vs-cats-originals")
	paths, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no photos in %s: %v", dir, err)
	}
	sort.Strings(paths)
	if len(paths) > n {
		paths = paths[:n]
	}
	return paths
}

// TestPredictFiles checks real photos against Go's own computation on the pixels imgutil
// gives (the resize catdog prepare uses), and that a corrupt file does not stop the rest.
func TestPredictFiles(t *testing.T) {
	fixtures.RequireORT(t)
	c, err := Load(meanModel(t, 48, stdMeta("48")), WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	paths := photoPaths(t, 40)
	bad := filepath.Join(t.TempDir(), "broken.jpg")
	if err := os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 not really a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	all := append([]string{bad}, paths...)
	all = append(all, filepath.Join(t.TempDir(), "missing.jpg"))
	var calls int
	preds, errs := c.PredictFiles(all, func(done, total int) { calls++ })
	if calls == 0 {
		t.Error("progress never called")
	}
	if errs[0] == nil || errs[len(all)-1] == nil {
		t.Errorf("corrupt/missing file: errors %v, %v; want both", errs[0], errs[len(all)-1])
	}
	for i, p := range paths {
		if errs[i+1] != nil {
			t.Fatalf("%s: %v", p, errs[i+1])
		}
		f, _ := os.Open(p)
		px := make([]uint8, 48*48*3)
		_, _, err := imgutil.DecodeResize(f, 48, imgutil.Bilinear, px)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := float64(preds[i+1].Probability), wantProb(px); math.Abs(got-want) > 1e-5 {
			t.Errorf("%s: probability %v, want %v", p, got, want)
		}
		single, err := c.PredictFile(p)
		if err != nil || !reflect.DeepEqual(single, preds[i+1]) {
			t.Errorf("%s: PredictFile = %+v, %v; PredictFiles = %+v", p, single, err, preds[i+1])
		}
	}
}

func TestConcurrentAndClose(t *testing.T) {
	fixtures.RequireORT(t)
	c, err := Load(meanModel(t, 32, stdMeta("32")), WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	img := uniform(40, 40, color.Gray{200})
	want, err := c.Predict(img)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				p, err := c.Predict(img)
				if err != nil {
					errc <- err
					return
				}
				if !reflect.DeepEqual(p, want) {
					errc <- errors.New("concurrent prediction differs")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Predict(img); !errors.Is(err, ErrClosed) {
		t.Errorf("Predict after Close: %v, want ErrClosed", err)
	}
}

func TestLoadErrors(t *testing.T) {
	fixtures.RequireORT(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.onnx")
	os.WriteFile(garbage, []byte("hello"), 0o644)

	b := onnx.NewBuilder("wrong")
	x := b.Input("pixels", onnx.Float, -1, 3, 8, 8)
	b.Output(b.Sigmoid(x), "prob_cat", onnx.Float, -1, 3, 8, 8)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	wrongInput := filepath.Join(dir, "wrong.onnx")
	if err := m.Write(wrongInput); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		opts       []Option
		errHas     string
	}{
		{"missing file", filepath.Join(dir, "nope.onnx"), nil, "no such file"},
		{"not onnx", garbage, nil, "not a usable ONNX model"},
		{"wrong input name", wrongInput, nil, `want one input "image"`},
		{"size disagrees", meanModel(t, 32, stdMeta("64")), nil, "disagrees"},
		{"bad filter", meanModel(t, 32, map[string]string{"catdog.resize_filter": "lanczos9"}), nil, "resize_filter"},
		{"bad labels", meanModel(t, 32, map[string]string{"catdog.labels": "dog"}), nil, "two labels"},
		{"bad provider", meanModel(t, 32, stdMeta("32")), []Option{WithProvider("tpu")}, "unknown execution provider"},
		{"bad threshold", meanModel(t, 32, stdMeta("32")), []Option{WithThreshold(1.5)}, "threshold"},
		{"a device", "/dev/zero", nil, "character device, not a regular file"},
		{"a FIFO", fifo(t, dir, "model.onnx"), nil, "named pipe (FIFO), not a regular file"},
		{"over the size limit", meanModel(t, 32, stdMeta("32")), []Option{WithMaxModelBytes(100)}, "more than the 100 B allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.path, tc.opts...)
			if err == nil {
				c.Close()
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q does not contain %q", err, tc.errHas)
			}
		})
	}
	// Without metadata, the fixed input shape gives the size and labels default to dog,cat.
	c, err := Load(meanModel(t, 24, nil), WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.InputSize() != 24 || c.Labels()[1] != "cat" {
		t.Errorf("size %d labels %v", c.InputSize(), c.Labels())
	}
}

// fifo makes a named pipe dir/name with no writer, or skips the test where there are none.
func fifo(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}

// TestPredictFilesSpecialFiles: a folder holding a FIFO and a link to a device among its
// photos (the probe that hung catdog predict): each gets its error at once, the photos
// their predictions.
func TestPredictFilesSpecialFiles(t *testing.T) {
	fixtures.RequireORT(t)
	c, err := Load(meanModel(t, 48, stdMeta("48")), WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	photos := photoPaths(t, 2)
	for i, p := range photos {
		if err := os.Symlink(p, filepath.Join(dir, fmt.Sprintf("photo%d.jpg", i))); err != nil {
			t.Fatal(err)
		}
	}
	fifo(t, dir, "pipe.jpg")
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.jpg")); err != nil {
		t.Fatal(err)
	}
	files, err := FindImages(dir)
	if err != nil || len(files) != 4 {
		t.Fatalf("FindImages: %v, %v", files, err)
	}
	done := make(chan struct{})
	var errs []error
	go func() {
		defer close(done)
		_, errs = c.PredictFiles(files, nil)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("PredictFiles is still waiting after 10 s")
	}
	for i, f := range files {
		want := ""
		switch filepath.Base(f) {
		case "pipe.jpg":
			want = "named pipe (FIFO)"
		case "zero.jpg":
			want = "character device"
		}
		switch {
		case want == "" && errs[i] != nil:
			t.Errorf("%s: %v", f, errs[i])
		case want != "" && (errs[i] == nil || !strings.Contains(errs[i].Error(), want)):
			t.Errorf("%s: error %v, want one saying %q", f, errs[i], want)
		}
	}
	if _, err := c.PredictFile(filepath.Join(dir, "pipe.jpg")); err == nil {
		t.Error("PredictFile on a FIFO: no error")
	}
}

// TestDecodeErrors: what is wrong with the input is told apart from what is wrong with the
// model: every bad input wraps ErrImage, a huge one ErrTooLarge too.
func TestDecodeErrors(t *testing.T) {
	fixtures.RequireORT(t)
	c, err := Load(meanModel(t, 32, stdMeta("32")), WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	photo, err := os.ReadFile(photoPaths(t, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		tooLarge bool
	}{
		{"text", []byte("hello, I am not a photo"), false},
		{"empty", nil, false},
		{"truncated JPEG", photo[:len(photo)/2], false},
		{"60000x60000 header", fixtures.PNGHeader(60000, 60000, 8, 2), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Decode(bytes.NewReader(tc.data))
			if !errors.Is(err, ErrImage) || errors.Is(err, ErrTooLarge) != tc.tooLarge {
				t.Errorf("err = %v; want ErrImage, ErrTooLarge %v", err, tc.tooLarge)
			}
		})
	}
	px, err := c.Decode(bytes.NewReader(photo))
	if err != nil || len(px) != 32*32*3 {
		t.Fatalf("a photo: %d bytes, %v", len(px), err)
	}
	if _, err := c.PredictPixels(px, 1); err != nil {
		t.Fatal(err)
	}
}
