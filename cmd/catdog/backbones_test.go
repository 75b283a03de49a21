package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
)

func runBackbonesCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	a := newApp(&out, &out)
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestBackbonesCmd(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	store := t.TempDir()
	t.Setenv("CATDOG_BACKBONES_DIR", store)

	// A model as catdog exports them: plain RGB 0..255 in, preprocessing inside.
	bb, err := backbones.Load(context.Background(), backbones.VGG16Random, backbones.Options{InputSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	m, err := bb.WithPreprocess()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "model.onnx")
	if err := m.Write(file); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		args []string
		want []string // in the output
		err  string   // in the error, if one is expected
	}{
		{args: []string{"backbones", "list"}, want: []string{"vgg16 ", "not downloaded yet (" + store, "vgg16-random", "RANDOM"}},
		{args: []string{"backbones", "inspect", "vgg16-random", "--size", "32"}, want: []string{"RANDOM weights", "block5_pool: (N, 512, 1, 1)", "14,714,688"}},
		{args: []string{"backbones", "inspect", file, "--cut", "backbone/block3_pool"}, want: []string{"output backbone/block3_pool: float (N, 256, 4, 4)", "preprocess"}},
		{args: []string{"backbones", "inspect", "vgg16", "--no-download"}, err: "--file PATH"},
		{args: []string{"backbones", "import", file, "--name", "mine", "--mean", "1,2"}, err: "three comma-separated numbers"},
		{args: []string{"backbones", "import", file, "--name", "mine", "--scale", "1/0"}, err: "divides by zero"},
		{args: []string{"backbones", "import", file, "--name", "mine", "--input", "image", "--size", "32", "--scale", "1",
			"--mean", "0,0,0", "--std", "1,1,1", "--cut", "backbone/block4_pool"},
			want: []string{"imported backbone mine", "(N, 512, 2, 2)"}},
		{args: []string{"backbones", "list"}, want: []string{"mine", "32x32 NCHW RGB", "imported"}},
		{args: []string{"backbones", "inspect", "mine"}, want: []string{"features  backbone/block4_pool: (N, 512, 2, 2)"}},
	}
	for _, tt := range tests {
		out, err := runBackbonesCmd(t, tt.args...)
		name := strings.Join(tt.args, " ")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", name, w, out)
			}
		}
	}
}
