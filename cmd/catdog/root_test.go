package main

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/spf13/cobra"
)

// TestConfigPrecedence checks flag > environment > config file > default.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "catdog.yaml")
	if err := os.WriteFile(cfg, []byte("probe:\n  size: 64\n  seed: 5\n  name: fromfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantSize int
		wantSeed int
		wantName string
	}{
		{"defaults", []string{"probe"}, nil, 200, 1, "default"},
		{"file", []string{"probe", "--config", cfg}, nil, 64, 5, "fromfile"},
		{"env beats file", []string{"probe", "--config", cfg}, map[string]string{"CATDOG_SIZE": "96"}, 96, 5, "fromfile"},
		{"flag beats env", []string{"probe", "--config", cfg, "--size", "128"}, map[string]string{"CATDOG_SIZE": "96"}, 128, 5, "fromfile"},
		{"config from env", []string{"probe"}, map[string]string{"CATDOG_CONFIG": cfg, "CATDOG_NAME": "env"}, 64, 5, "env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir()) // no ./catdog.yaml around
			t.Setenv("XDG_CONFIG_HOME", t.TempDir())
			t.Setenv("HOME", t.TempDir())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			a := newApp(&out, &out)
			root := newRootCmd(a)
			probe := &cobra.Command{Use: "probe", RunE: func(cmd *cobra.Command, _ []string) error { return nil }}
			probe.Flags().Int("size", 200, "")
			probe.Flags().Int("seed", 1, "")
			probe.Flags().String("name", "default", "")
			a.bind(probe)
			root.AddCommand(probe)
			root.SetArgs(tt.args)
			if err := root.Execute(); err != nil {
				t.Fatalf("execute: %v (%s)", err, out.String())
			}
			if got := a.v.GetInt("probe.size"); got != tt.wantSize {
				t.Errorf("size = %d, want %d", got, tt.wantSize)
			}
			if got := a.v.GetInt("probe.seed"); got != tt.wantSeed {
				t.Errorf("seed = %d, want %d", got, tt.wantSeed)
			}
			if got := a.v.GetString("probe.name"); got != tt.wantName {
				t.Errorf("name = %q, want %q", got, tt.wantName)
			}
		})
	}
}

func TestMissingConfigFileIsAnError(t *testing.T) {
	var out bytes.Buffer
	root := newRootCmd(newApp(&out, &out))
	root.SetArgs([]string{"version", "--config", filepath.Join(t.TempDir(), "nope.yaml")})
	if err := root.Execute(); err == nil {
		t.Fatal("want an error for a missing --config file")
	}
}

// TestStrictConfig: malformed values are errors naming the key and where they came from
// (variable or file), unknown config file keys are errors listing the section's keys, and
// numbers out of range are refused.
func TestStrictConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string // config file content
		want string // "" for success
	}{
		{"all good", []string{"probe", "--size", "64"}, map[string]string{"CATDOG_SEED": "7"}, "probe: {lr: 0.01}\n", ""},
		{"seed 1e3", []string{"probe"}, map[string]string{"CATDOG_SEED": "1e3"}, "", `CATDOG_SEED="1e3" (for --seed): not a whole number`},
		{"size abc", []string{"probe"}, map[string]string{"CATDOG_SIZE": "abc"}, "", `CATDOG_SIZE="abc" (for --size): not a whole number`},
		{"lr abc", []string{"probe"}, map[string]string{"CATDOG_LR": "abc"}, "", `CATDOG_LR="abc" (for --lr): not a number`},
		{"size forty in the file", []string{"probe"}, nil, "probe:\n  size: forty\n", "key probe.size = forty (for --size): not a whole number"},
		{"unknown key", []string{"probe"}, nil, "prepare:\n  sizee: 64\n", `unknown key "prepare.sizee" (prepare knows:`},
		{"unknown section", []string{"probe"}, nil, "sizes: 64\n", `unknown key "sizes"`},
		{"size 0", []string{"probe", "--size", "0"}, nil, "", "--size 0: want 32 to 512 pixels"},
		{"batch 0", []string{"probe", "--batch", "0"}, nil, "", "--batch 0: want 1 to 4096"},
		{"workers -1", []string{"probe", "--workers", "-1"}, nil, "", "--workers -1"},
		{"limit -1", []string{"probe", "--limit", "-1"}, nil, "", "--limit -1"},
		{"threshold 2", []string{"probe", "--threshold", "2"}, nil, "", "--threshold 2: want 0 to 1"},
		{"checkpoint -1s", []string{"probe", "--checkpoint-every", "-1s"}, nil, "", "--checkpoint-every -1s: must not be negative"},
		{"lr in range from env", []string{"probe"}, map[string]string{"CATDOG_LR": "100000"}, "", "--lr 100000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			t.Setenv("XDG_CONFIG_HOME", t.TempDir())
			t.Setenv("HOME", t.TempDir())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := tt.args
			if tt.file != "" {
				cfg := filepath.Join(t.TempDir(), "catdog.yaml")
				os.WriteFile(cfg, []byte(tt.file), 0o644)
				args = append(args, "--config", cfg)
			}
			var out bytes.Buffer
			a := newApp(&out, &out)
			root := newRootCmd(a)
			probe := &cobra.Command{Use: "probe", RunE: func(cmd *cobra.Command, _ []string) error { return nil }}
			f := probe.Flags()
			f.Int("size", 200, "")
			f.Uint64("seed", 1, "")
			f.Float64("lr", 0.001, "")
			f.Int("batch", 32, "")
			f.Int("workers", 2, "")
			f.Int("limit", 0, "")
			f.Float64("threshold", 0.5, "")
			f.Duration("checkpoint-every", time.Minute, "")
			a.bind(probe)
			root.AddCommand(probe)
			root.SetArgs(args)
			err := root.Execute()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestVersion: the engines' versions and the onnxruntime library actually loaded.
func TestVersion(t *testing.T) {
	fixtures.RequireORT(t)
	out, _, err := runCatdog(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"catdog ", "gorgonia.org/gorgonia v", "onnxruntime 1.", "build) from ", "libonnxruntime"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestPairs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want map[string]string
		err  bool
	}{
		{"flag or variable", "vgg16=a.onnx,mobilenet-v1-075=dir/", map[string]string{"vgg16": "a.onnx", "mobilenet-v1-075": "dir/"}, false},
		{"empty", "", map[string]string{}, false},
		{"file map", map[string]any{"vgg16": "a.onnx"}, map[string]string{"vgg16": "a.onnx"}, false},
		{"file list", []any{"vgg16=a.onnx"}, map[string]string{"vgg16": "a.onnx"}, false},
		{"no =", "vgg16", nil, true},
		{"no name", "=a.onnx", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pairsOf(tc.in)
			if (err != nil) != tc.err || !tc.err && !maps.Equal(got, tc.want) {
				t.Errorf("pairsOf(%v) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// TestHelpDefaults: no command's help shows a default that is not one ("-1", "[]").
func TestHelpDefaults(t *testing.T) {
	for _, c := range []string{"prepare", "train", "finetune", "extract-features", "evaluate", "predict", "report", "run", "serve", "augment"} {
		out, _, err := runCatdog(t, c, "--help")
		if err != nil {
			t.Fatalf("%s --help: %v", c, err)
		}
		for _, bad := range []string{"(default -1)", "(default [])", "(default \"\")"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s --help shows %s:\n%s", c, bad, out)
			}
		}
	}
}
