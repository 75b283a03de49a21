package backbones_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/keras"
	"github.com/catdog-ml/catdog/onnx"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// TestMobileNets loads the built-in MobileNets from local copies of their TensorFlow.js
// files (a folder, a model.json, a Teachable Machine export for v2's base): the features,
// the files' checksums and what the architecture fixes.
func TestMobileNets(t *testing.T) {
	tests := []struct {
		name, file string
		shape      string
		params     int
		files      int
	}{
		{backbones.MobileNetV1075, fixtures.Model(t, "mobilenet_v1_0.75_224"), "(N, 768)", 1_832_978, 56},
		{backbones.MobileNetV1075, filepath.Join(fixtures.Model(t, "mobilenet_v1_0.75_224"), "model.json"), "(N, 768)", 1_832_978, 56},
		{backbones.MobileNetV2035, fixtures.Model(t, "teachable-machine-export"), "(N, 1280)", 410_250, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+filepath.Base(tt.file), func(t *testing.T) {
			bb, err := backbones.Load(ctx, tt.name, backbones.Options{File: tt.file, CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if got := onnx.Shape(bb.Spec.OutputShape).String(); got != tt.shape || bb.Params != tt.params {
				t.Errorf("features %s, %d weights; want %s, %d", got, bb.Params, tt.shape, tt.params)
			}
			km, err := keras.Open(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(bb.Files) != tt.files || bb.Spec.SHA256 != km.SHA256() || bb.Spec.Weights != "imagenet" || len(bb.Warnings) != 0 {
				t.Errorf("%d files, SHA-256 %s (keras %s), weights %q, warnings %v", len(bb.Files), bb.Spec.SHA256, km.SHA256(), bb.Spec.Weights, bb.Warnings)
			}
			if bb.Model.Metadata()["catdog.backbone_sha256"] != bb.Spec.SHA256 {
				t.Errorf("metadata %v", bb.Model.Metadata())
			}
			m, err := bb.WithPreprocess()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "bb.onnx")
			writeModel(t, m, path)
			onnxtest.CheckModel(t, path)
		})
	}
}

// TestMobileNetWrongFile: a --file that is not the backbone's files is refused, saying why.
func TestMobileNetWrongFile(t *testing.T) {
	dir := t.TempDir()
	onnxFile := filepath.Join(dir, "model.onnx")
	writeModel(t, zooLike(t, 32), onnxFile)
	tests := []struct {
		file string
		want string
	}{
		{fixtures.Model(t, "darknet_tiny"), "does not hold the architecture of mobilenet-v1-075"},
		{fixtures.Model(t, "teachable-machine-export"), "does not hold the architecture of mobilenet-v1-075"},
		{filepath.Join(dir, "nope"), "no such file"},
		{onnxFile, "not JSON"},
	}
	for _, tt := range tests {
		_, err := backbones.Load(ctx, backbones.MobileNetV1075, backbones.Options{File: tt.file, CacheDir: dir})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "mobilenet-v1-075") {
			t.Errorf("--file %s: error %v, want %q", tt.file, err, tt.want)
		}
	}
}

// TestMobileNetDownload gets MobileNet v1 from a local server standing in for its public
// URL: every shard lands in the cache, the next Load reads the cache without a request, and
// a server without the files gives a *WeightsError that says where to get them.
func TestMobileNetDownload(t *testing.T) {
	src := fixtures.Model(t, "mobilenet_v1_0.75_224")
	var requests atomic.Int32
	client := server(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if !strings.HasPrefix(r.URL.Path, "/tfjs-models/tfjs/mobilenet_v1_0.75_224/") {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(src, filepath.Base(r.URL.Path)))
	})
	cache := t.TempDir()
	var done, total int
	bb, err := backbones.Load(ctx, backbones.MobileNetV1075, backbones.Options{CacheDir: cache, HTTPClient: client,
		Progress: func(d, tot int) { done, total = d, tot }})
	if err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 56 || done != total || total < 10_000_000 {
		t.Errorf("%d requests, progress %d of %d bytes", n, done, total)
	}
	if want := filepath.Join(cache, "mobilenet_v1_0.75_224"); bb.Path != want {
		t.Errorf("path %s, want %s", bb.Path, want)
	}
	again, err := backbones.Load(ctx, backbones.MobileNetV1075, backbones.Options{CacheDir: cache, HTTPClient: client})
	if err != nil || requests.Load() != 56 || again.Spec.SHA256 != bb.Spec.SHA256 {
		t.Errorf("second load: %v, %d requests, SHA-256 %s vs %s", err, requests.Load(), again.Spec.SHA256, bb.Spec.SHA256)
	}

	empty := t.TempDir()
	_, err = backbones.Load(ctx, backbones.MobileNetV2035, backbones.Options{CacheDir: empty, HTTPClient: client})
	var we *backbones.WeightsError
	if !errors.As(err, &we) {
		t.Fatalf("error %v is not a *WeightsError", err)
	}
	for _, want := range []string{"404", "model.json and its weight shards", "teachable-machine-models", "--file", filepath.Join(empty, "mobilenet_v2_0.35_224_no_top")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("the cache holds %d entries after a failed download", len(entries))
	}
}

// TestImportKeras imports TensorFlow.js models: Tiny Darknet cut at its last hidden layer
// and pooled, and a Teachable Machine export cut before its head.
func TestImportKeras(t *testing.T) {
	opts := backbones.Options{CacheDir: t.TempDir()}
	spec := backbones.Spec{Name: "darknet-tiny", InputSize: 224, Layout: backbones.NCHW, CutAt: "leaky_re_lu_15", Pool: "avg"}
	p, _ := backbones.Preset("unit")
	p.Apply(&spec)
	dark := fixtures.Model(t, "darknet_tiny")
	got, err := backbones.Import(ctx, dark, spec, false, opts)
	if err != nil {
		t.Fatal(err)
	}
	km, _ := keras.Open(dark)
	if onnx.Shape(got.OutputShape).String() != "(N, 128)" || got.Source.Format != backbones.FormatTFJS || got.Source.ImportedSHA256 != km.SHA256() {
		t.Errorf("imported %+v", got)
	}
	bb, err := backbones.Load(ctx, "darknet-tiny", opts)
	if err != nil {
		t.Fatal(err)
	}
	if bb.Output != "leaky_re_lu_15_avgpool" || bb.Spec.Scale != 1.0/255 {
		t.Errorf("loaded: output %s, spec %+v", bb.Output, bb.Spec)
	}

	tm := backbones.Spec{Name: "tm", InputSize: 224, Layout: backbones.NCHW, CutAt: "out_relu"}
	p, _ = backbones.Preset("mobilenet")
	p.Apply(&tm)
	if got, err := backbones.Import(ctx, filepath.Join(fixtures.Model(t, "teachable-machine-export"), "model.json"), tm, false, opts); err != nil || onnx.Shape(got.OutputShape).String() != "(N, 1280, 7, 7)" {
		t.Errorf("Teachable Machine export: %v, %v", err, got.OutputShape)
	}
	tm.Name, tm.Layout = "tm-nhwc", backbones.NHWC
	if _, err := backbones.Import(ctx, dark, tm, false, opts); err == nil || !strings.Contains(err.Error(), "NCHW") {
		t.Errorf("NHWC layout for a Keras model: %v", err)
	}
}

// TestProbeShape imports a model whose feature shape static inference cannot work out (a
// Tile node): onnxruntime gives it, from one probe batch.
func TestProbeShape(t *testing.T) {
	fixtures.RequireORT(t)
	b := onnx.NewBuilder("tiled")
	x := b.Input("image", onnx.Float, -1, 3, 32, 32)
	w := make([]float32, 4*3*9)
	for i := range w {
		w[i] = float32(i%7) / 10
	}
	y := b.Relu(b.Name("conv").Conv(x, b.Initializer("w", []int64{4, 3, 3, 3}, w), "", onnx.ConvOpts{Pads: [4]int64{1, 1, 1, 1}}))
	y = b.Name("tiled").Node("Tile", []string{y, b.InitializerInt64("repeats", []int64{4}, []int64{1, 1, 2, 3})}, nil)
	b.Output(y, "features", onnx.Float, -1, -1, -1, -1)
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "tiled.onnx")
	writeModel(t, m, file)
	spec := backbones.Spec{Name: "tiled", InputSize: 32, Layout: backbones.NCHW, CutAt: "features"}
	p, _ := backbones.Preset("unit")
	p.Apply(&spec)
	got, err := backbones.Import(ctx, file, spec, false, backbones.Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s := onnx.Shape(got.OutputShape).String(); s != "(N, 4, 64, 96)" {
		t.Errorf("features %s, want (N, 4, 64, 96)", s)
	}
}

// TestMobileNetOtherSize runs MobileNetV2 at 160 px, cut at its last activation without
// pooling: the feature map is 5x5 there (not the 7x7 of 224 px), as onnxruntime computes it.
func TestMobileNetOtherSize(t *testing.T) {
	fixtures.RequireORT(t)
	bb, err := backbones.Load(ctx, backbones.MobileNetV2035, backbones.Options{File: fixtures.Model(t, "teachable-machine-export"),
		CacheDir: t.TempDir(), InputSize: 160, CutAt: "out_relu"})
	if err != nil {
		t.Fatal(err)
	}
	if got := onnx.Shape(bb.Spec.OutputShape).String(); got != "(N, 1280, 5, 5)" {
		t.Errorf("features at 160 px: %s, want (N, 1280, 5, 5)", got)
	}
	env, err := ort.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	data, _ := bb.Model.Encode()
	s, err := env.NewSession(data, ort.SessionOptions{Provider: ort.ProviderCPU, Inputs: []string{bb.Input}, Outputs: []string{bb.Output}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, shape, err := s.RunFloat32(make([]float32, 2*3*160*160), 2, 3, 160, 160)
	if err != nil || onnx.Shape(shape).String() != "(2, 1280, 5, 5)" {
		t.Errorf("onnxruntime: %v, %v", shape, err)
	}
}
