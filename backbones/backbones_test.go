package backbones_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

var ctx = context.Background()

func TestRandomVGG16(t *testing.T) {
	tests := []struct {
		size  int
		shape string
	}{
		{32, "(N, 512, 1, 1)"},
		{64, "(N, 512, 2, 2)"},
		{200, "(N, 512, 6, 6)"},
	}
	for _, tt := range tests {
		bb, err := backbones.Load(ctx, backbones.VGG16Random, backbones.Options{InputSize: tt.size, CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		s := bb.Model.Inspect()
		if got := s.Outputs[0].Shape.String(); got != tt.shape || bb.Output != "block5_pool" {
			t.Errorf("size %d: output %s %s, want block5_pool %s", tt.size, bb.Output, got, tt.shape)
		}
		if s.TotalParams != 14_714_688 || bb.Params != 14_714_688 {
			t.Errorf("params %d (Backbone.Params %d), want VGG16's 14,714,688", s.TotalParams, bb.Params)
		}
		convs, pools := 0, 0
		for _, n := range s.Nodes {
			switch n.Op {
			case "Conv":
				convs++
			case "MaxPool":
				pools++
			}
		}
		if convs != 13 || pools != 5 {
			t.Errorf("%d convs %d pools", convs, pools)
		}
		// Stamped random everywhere.
		if !bb.Spec.Random || bb.Model.Metadata()["catdog.random_weights"] != "true" ||
			!strings.Contains(bb.Model.Proto.Graph.GetName(), "RANDOM") || len(bb.Warnings) == 0 ||
			!strings.Contains(bb.Warnings[0], "RANDOM") {
			t.Errorf("not stamped random: spec %v metadata %v graph %q warnings %v", bb.Spec.Random, bb.Model.Metadata(), bb.Model.Proto.Graph.GetName(), bb.Warnings)
		}
		if bb.Spec.InputSize != tt.size || len(bb.Spec.SHA256) != 64 {
			t.Errorf("spec %+v", bb.Spec)
		}
	}
	if _, err := backbones.Load(ctx, backbones.VGG16Random, backbones.Options{InputSize: 16}); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("size 16: %v", err)
	}
}

func TestRandomVGG16Checker(t *testing.T) {
	bb, err := backbones.Load(ctx, backbones.VGG16Random, backbones.Options{InputSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	m, err := bb.WithPreprocess()
	if err != nil {
		t.Fatal(err)
	}
	if in := m.Inspect().Inputs; len(in) != 1 || in[0].Name != "image" || in[0].Shape.String() != "(N, 3, 32, 32)" {
		t.Errorf("inputs %v", in)
	}
	if m.Metadata()["catdog.random_weights"] != "true" {
		t.Errorf("composition lost the random stamp")
	}
	p := filepath.Join(t.TempDir(), "vgg16-random.onnx")
	if err := m.Write(p); err != nil {
		t.Fatal(err)
	}
	onnxtest.CheckModel(t, p)
}

func TestRandomVGG16Seed(t *testing.T) {
	sum := func(seed uint64) string {
		bb, err := backbones.Load(ctx, backbones.VGG16Random, backbones.Options{InputSize: 32, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return bb.Spec.SHA256
	}
	if a, b := sum(1), sum(1); a != b {
		t.Error("same seed, different weights")
	}
	if sum(1) == sum(2) {
		t.Error("different seeds, same weights")
	}
}

// zooLike builds a small model shaped like the ONNX zoo's VGG16 export: fixed batch 1, names
// vgg0_*, and a dense head after the last pool that the cut must drop.
func zooLike(t testing.TB, size int64) *onnx.Model {
	t.Helper()
	b := onnx.NewBuilder("zoo")
	x := b.Input("data", onnx.Float, 1, 3, size, size)
	in := int64(3)
	k := 0
	for blk, out := range []int64{4, 8} {
		for range 2 {
			w := make([]float32, out*in*9)
			for i := range w {
				w[i] = float32((i*7+k)%11-5) / 50
			}
			name := "vgg0_conv" + string(rune('0'+k)) + "_fwd"
			x = b.Name("vgg0_relu" + string(rune('0'+k)) + "_fwd").Relu(b.Name(name).Conv(x,
				b.Initializer(name+"_weight", []int64{out, in, 3, 3}, w),
				b.Initializer(name+"_bias", []int64{out}, make([]float32, out)), onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}}))
			in = out
			k++
		}
		x = b.Name("vgg0_pool"+string(rune('0'+blk))+"_fwd").MaxPool(x, 2, 2)
	}
	x = b.Flatten(x, 1)
	side := size / 4
	x = b.Gemm(x, b.Initializer("dense_w", []int64{10, 8 * side * side}, make([]float32, 80*side*side)), "", true)
	b.Output(x, "vgg0_dense0_fwd", onnx.Float, 1, 10)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeModel(t testing.TB, m *onnx.Model, path string) []byte {
	t.Helper()
	if err := m.Write(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vgg16-12.onnx")
	writeModel(t, zooLike(t, 32), p)
	bb, err := backbones.Load(ctx, backbones.VGG16, backbones.Options{File: p, InputSize: 32, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if bb.Output != "vgg0_pool1_fwd" {
		t.Errorf("cut at %q, want the last max-pool vgg0_pool1_fwd", bb.Output)
	}
	s := bb.Model.Inspect()
	if s.Inputs[0].Shape.String() != "(N, 3, 32, 32)" || s.Outputs[0].Shape.String() != "(N, 8, 8, 8)" {
		t.Errorf("input %s output %s", s.Inputs[0].Shape, s.Outputs[0].Shape)
	}
	for _, n := range s.Nodes {
		if n.Op == "Gemm" || n.Op == "Flatten" {
			t.Errorf("cut kept %s", n.Name)
		}
	}
	if len(bb.Warnings) != 1 || !strings.Contains(bb.Warnings[0], "not the pinned") {
		t.Errorf("warnings %v, want one about the checksum", bb.Warnings)
	}
	if bb.Spec.SHA256 == bb.Spec.Source.SHA256 || bb.Model.Metadata()["catdog.backbone_sha256"] != bb.Spec.SHA256 {
		t.Errorf("sha %s, metadata %v", bb.Spec.SHA256, bb.Model.Metadata())
	}
	out := filepath.Join(dir, "cut.onnx")
	writeModel(t, bb.Model, out)
	onnxtest.CheckModel(t, out)

	// Run at another size: the conv base does not care, the dropped dense layer would.
	big, err := backbones.Load(ctx, backbones.VGG16, backbones.Options{File: p, InputSize: 64, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := onnx.Shape(big.Spec.OutputShape).String(); got != "(N, 8, 16, 16)" || big.Spec.InputSize != 64 {
		t.Errorf("at 64: features %s, input size %d", got, big.Spec.InputSize)
	}
	writeModel(t, big.Model, out)
	onnxtest.CheckModel(t, out)

	// Without InputSize the 32x32 file does not match the spec's 224.
	if _, err := backbones.Load(ctx, backbones.VGG16, backbones.Options{File: p}); err == nil || !strings.Contains(err.Error(), "spec says 224x224") {
		t.Errorf("size mismatch: %v", err)
	}
	// Not an ONNX file.
	bad := filepath.Join(dir, "bad.onnx")
	os.WriteFile(bad, []byte("<html>404: Not Found</html>"), 0o644)
	if _, err := backbones.Load(ctx, backbones.VGG16, backbones.Options{File: bad}); !errors.Is(err, onnx.ErrNotONNX) || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt file: %v", err)
	}
	// Missing --file.
	if _, err := backbones.Load(ctx, backbones.VGG16, backbones.Options{File: filepath.Join(dir, "nope.onnx")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// redirect sends every request to the test server, whatever its URL.
type redirect struct{ to *url.URL }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
	return http.DefaultTransport.RoundTrip(req)
}

func server(t *testing.T, h http.HandlerFunc) *http.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &http.Client{Transport: redirect{u}}
}

func TestLoadMissingWeights(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "404 Not Found"},
		{"short file", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("not vgg16")) }, "got 9 bytes, want 553437752"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := backbones.Load(ctx, backbones.VGG16, backbones.Options{CacheDir: dir, HTTPClient: server(t, tt.handler)})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			msg := err.Error()
			for _, want := range []string{tt.want, "vgg16-12.onnx", "https://github.com/onnx/models/raw/main/validated/vision/classification/vgg/model/vgg16-12.onnx", "--file", filepath.Join(dir, "vgg16-12.onnx"), "722c42f5"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("cache holds %d files after a failed download", len(entries))
			}
			var we *backbones.WeightsError
			if !errors.As(err, &we) || we.Path != filepath.Join(dir, "vgg16-12.onnx") || we.Backbone != "vgg16" {
				t.Errorf("error is not a *WeightsError naming the cache path: %#v", err)
			}
		})
	}
	_, err := backbones.Load(ctx, backbones.VGG16, backbones.Options{CacheDir: t.TempDir(), NoDownload: true})
	if err == nil || !strings.Contains(err.Error(), "switched off") {
		t.Errorf("NoDownload: %v", err)
	}
}

func TestDownload(t *testing.T) {
	body := []byte("pretend these are 40 bytes of weights!!!")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	client := server(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	tests := []struct {
		name string
		src  backbones.Source
		want string
	}{
		{"ok", backbones.Source{URL: "https://example.com/w.onnx", SHA256: good, Size: int64(len(body))}, ""},
		{"bad checksum", backbones.Source{URL: "https://example.com/w.onnx", SHA256: strings.Repeat("0", 64), Size: int64(len(body))}, "checksum mismatch"},
		{"bad size", backbones.Source{URL: "https://example.com/w.onnx", SHA256: good, Size: 41}, "got 40 bytes, want 41"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dst := filepath.Join(dir, "sub", "w.onnx")
			last := 0
			err := backbones.Download(ctx, tt.src, dst, client, func(done, total int) { last = done })
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := os.ReadFile(dst); string(got) != string(body) || last != len(body) {
					t.Errorf("file %q, progress %d", got, last)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(filepath.Dir(dst)); len(entries) != 0 {
				t.Errorf("%d files left after a failed download", len(entries))
			}
		})
	}
}

func TestCorruptCache(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "vgg16-12.onnx"), []byte("half a download"), 0o644)
	_, err := backbones.Load(ctx, backbones.VGG16, backbones.Options{CacheDir: dir})
	if err == nil || !strings.Contains(err.Error(), "delete it to download it again") {
		t.Errorf("corrupt cache: %v", err)
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	if _, err := backbones.Lookup("resnet50", backbones.Options{CacheDir: dir}); err == nil || !strings.Contains(err.Error(), "catdog backbones import") {
		t.Errorf("unknown: %v", err)
	}
	if _, err := backbones.Lookup("../etc", backbones.Options{CacheDir: dir}); err == nil {
		t.Error("accepted a path as a name")
	}
	specs, err := backbones.List(backbones.Options{CacheDir: dir})
	if err != nil || len(specs) != 4 || specs[0].Name != "vgg16" || specs[1].Name != "vgg16-random" || !specs[1].Random || specs[2].Name != "mobilenet-v1-075" {
		t.Errorf("List = %v, %v", specs, err)
	}
}

func ExampleLoad() {
	bb, err := backbones.Load(context.Background(), backbones.VGG16Random, backbones.Options{InputSize: 64, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range bb.Warnings {
		fmt.Println("warning:", w)
	}
	fmt.Println(bb.Input, "->", bb.Output, onnx.Shape(bb.Spec.OutputShape))
	fmt.Println(bb.Spec.PreprocessString())
	// Output:
	// warning: backbone vgg16-random has RANDOM weights: its features know nothing about images; use it for tests and benchmarks only
	// data -> block5_pool (N, 512, 2, 2)
	// NCHW RGB, (v*0.003921569 - mean (0.485, 0.456, 0.406)) / std (0.229, 0.224, 0.225), v = 0..255
}
