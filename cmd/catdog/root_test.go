package main

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
// (variable or file), unknown config file keys are errors listing the section's keys,
// unknown CATDOG_ variables are errors suggesting the nearest name, numbers out of range
// are refused naming where they came from, values are read as written (no spaces around
// numbers and booleans), and a config file without an extension is read as YAML.
func TestStrictConfig(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		file     string // config file content
		fileName string // its name; default catdog.yaml
		want     string // "" for success
		wantSize int    // on success, the size read; 0: not checked
	}{
		{"all good", []string{"probe", "--size", "64"}, map[string]string{"CATDOG_SEED": "7"}, "probe: {lr: 0.01}\n", "", "", 64},
		{"seed 1e3", []string{"probe"}, map[string]string{"CATDOG_SEED": "1e3"}, "", "", `CATDOG_SEED="1e3" (for --seed): not a whole number`, 0},
		{"size abc", []string{"probe"}, map[string]string{"CATDOG_SIZE": "abc"}, "", "", `CATDOG_SIZE="abc" (for --size): not a whole number`, 0},
		{"lr abc", []string{"probe"}, map[string]string{"CATDOG_LR": "abc"}, "", "", `CATDOG_LR="abc" (for --lr): not a number`, 0},
		{"size forty in the file", []string{"probe"}, nil, "probe:\n  size: forty\n", "", "key probe.size = forty (for --size): not a whole number", 0},
		{"unknown key", []string{"probe"}, nil, "prepare:\n  sizee: 64\n", "", `unknown key "prepare.sizee" (prepare knows:`, 0},
		{"unknown section", []string{"probe"}, nil, "sizes: 64\n", "", `unknown key "sizes"`, 0},
		{"size 0", []string{"probe", "--size", "0"}, nil, "", "", "--size 0: want 32 to 512 pixels", 0},
		{"batch 0", []string{"probe", "--batch", "0"}, nil, "", "", "--batch 0: want 1 to 4096", 0},
		{"workers -1", []string{"probe", "--workers", "-1"}, nil, "", "", "--workers -1", 0},
		{"limit -1", []string{"probe", "--limit", "-1"}, nil, "", "", "--limit -1", 0},
		{"threshold 2", []string{"probe", "--threshold", "2"}, nil, "", "", "--threshold 2: want 0 to 1", 0},
		{"checkpoint -1s", []string{"probe", "--checkpoint-every", "-1s"}, nil, "", "", "--checkpoint-every -1s: must not be negative", 0},

		// Range errors name the variable or the file's key the value came from.
		{"lr out of range from env", []string{"probe"}, map[string]string{"CATDOG_LR": "100000"}, "", "",
			`environment variable CATDOG_LR="100000" (for --lr): want 1e-09 to 10 learning rate`, 0},
		{"size 0 from env", []string{"probe"}, map[string]string{"CATDOG_SIZE": "0"}, "", "",
			`environment variable CATDOG_SIZE="0" (for --size): want 32 to 512 pixels`, 0},
		{"size 1000 in the file", []string{"probe"}, nil, "probe: {size: 1000}\n", "",
			"key probe.size = 1000 (for --size): want 32 to 512 pixels", 0},
		{"predict's float32 threshold from env", []string{"predict", "--model", "m.onnx", "a.jpg"}, map[string]string{"CATDOG_THRESHOLD": "2"}, "", "",
			`environment variable CATDOG_THRESHOLD="2" (for --threshold): want 0 to 1 probability`, 0},

		// Spaces around numbers and booleans are refused, as on the command line.
		{"size with spaces from env", []string{"probe"}, map[string]string{"CATDOG_SIZE": " 32 "}, "", "",
			`environment variable CATDOG_SIZE=" 32 " (for --size): spaces around the value (write "32")`, 0},
		{"size with spaces in the file", []string{"probe"}, nil, "probe: {size: \" 48\"}\n", "",
			`key probe.size =  48 (for --size): spaces around the value (write "48")`, 0},
		{"quiet with a new line from env", []string{"probe"}, map[string]string{"CATDOG_QUIET": "true\n"}, "", "",
			`environment variable CATDOG_QUIET="true\n" (for --quiet): spaces around the value (write "true")`, 0},

		// Booleans are true or false (1 or 0, t or f, any case), from the environment or the file.
		{"quiet maybe from env", []string{"probe"}, map[string]string{"CATDOG_QUIET": "maybe"}, "", "",
			`environment variable CATDOG_QUIET="maybe" (for --quiet): not a boolean: want true or false (or 1 or 0)`, 0},
		{"quiet maybe in the file", []string{"probe"}, nil, "quiet: maybe\n", "",
			"key quiet = maybe (for --quiet): not a boolean", 0},
		{"a command's bool yes from env", []string{"probe"}, map[string]string{"CATDOG_JSON": "yes"}, "", "",
			`environment variable CATDOG_JSON="yes" (for --json): not a boolean`, 0},
		{"quiet 1 and json FALSE from env", []string{"probe"}, map[string]string{"CATDOG_QUIET": "1", "CATDOG_JSON": "FALSE"}, "", "", "", 0},

		// CATDOG_ variables must name a setting of some command, or be one of the others.
		{"misspelt variable", []string{"probe"}, map[string]string{"CATDOG_SIZEE": "32"}, "", "",
			"environment variable CATDOG_SIZEE names no catdog setting (did you mean CATDOG_SIZE?)", 0},
		{"unknown variable", []string{"probe"}, map[string]string{"CATDOG_WHATEVER": "1"}, "", "",
			"environment variable CATDOG_WHATEVER names no catdog setting (a setting's variable is CATDOG_ and its flag's name", 0},
		{"another command's setting and the others", []string{"probe"},
			map[string]string{"CATDOG_ADDR": ":9090", "CATDOG_BACKBONES_DIR": "/tmp", "CATDOG_SHARED": "/tmp", "CATDOG_CONFIG": ""}, "", "", "", 0},

		// A config file without an extension is YAML (which reads JSON too).
		{"no extension, YAML", []string{"probe"}, nil, "probe: {size: 96}\n", "catdogrc", "", 96},
		{"no extension, JSON", []string{"probe"}, nil, `{"probe": {"size": 128}}`, "catdog-settings", "", 128},
		{"dot file", []string{"probe"}, nil, "probe:\n  size: 160\n", ".catdogrc", "", 160},
		{"no extension, not YAML", []string{"probe"}, nil, "probe: [size: 96\n", "catdogrc", "catdogrc: While parsing config: yaml:", 0},
		{"other extension", []string{"probe"}, nil, "probe: {size: 96}\n", "catdog.txt",
			`catdog.txt: Unsupported Config Type "txt": name it .yaml, .json or .toml (a file without an extension is read as YAML)`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, isolatedConfig(t, tt.env, tt.file, tt.fileName)...)
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
			f.Bool("json", false, "")
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
			if got := a.v.GetInt("probe.size"); tt.wantSize != 0 && got != tt.wantSize {
				t.Errorf("size %d, want %d", got, tt.wantSize)
			}
		})
	}
}

// TestConfigFileNotRegular: a --config that is a folder or a named pipe is refused at
// once (reading a pipe would wait for a writer forever).
func TestConfigFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "catdog.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{dir, "not a regular file (d"},
		{fifo, "not a regular file (p"},
	} {
		_, _, err := runCatdog(t, "models", "--config", tc.path)
		if err == nil || !strings.Contains(err.Error(), "reading config file "+tc.path+": "+tc.want) {
			t.Errorf("--config %s: error %v, want %q", tc.path, err, tc.want)
		}
	}
	// The default search too: a FIFO named ./catdog.yaml is refused, not waited on.
	t.Chdir(dir)
	done := make(chan error, 1)
	go func() { _, _, err := runCatdog(t, "models"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "reading config file catdog.yaml: not a regular file (p") {
			t.Errorf("./catdog.yaml a FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting on ./catdog.yaml, a FIFO")
	}
}

func TestNearest(t *testing.T) {
	names := map[string]bool{"CATDOG_SIZE": true, "CATDOG_SEED": true, "CATDOG_EPOCHS": true, "CATDOG_LR": true, "CATDOG_BACKBONES_DIR": true}
	for _, tc := range []struct{ in, want string }{
		{"CATDOG_SIZEE", "CATDOG_SIZE"},
		{"CATDOG_SIZ", "CATDOG_SIZE"},
		{"CATDOG_EPOCH", "CATDOG_EPOCHS"},
		{"CATDOG_BACKBONE_DIR", "CATDOG_BACKBONES_DIR"},
		{"CATDOG_LEARNING_RATE", ""},
		{"CATDOG_X", ""},
	} {
		if got := nearest(tc.in, names); got != tc.want {
			t.Errorf("nearest(%s) = %q, want %q", tc.in, got, tc.want)
		}
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

// TestErrorsNameTheirSource: a command's error about a text value that came from the
// environment or the config file says where it came from; one given as a flag does not.
func TestErrorsNameTheirSource(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string // "" for no note
	}{
		{"flag", []string{"models", "--arch", "nope"}, nil, "", ""},
		{"environment", []string{"models"}, map[string]string{"CATDOG_ARCH": "nope"}, "",
			`"nope" (for --arch) came from environment variable CATDOG_ARCH`},
		{"config file", []string{"models"}, nil, "models: {arch: nope}\n", `"nope" (for --arch) came from config file `},
		{"flag beats the environment", []string{"models", "--arch", "nope"}, map[string]string{"CATDOG_ARCH": "vgg1"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, isolatedConfig(t, tt.env, tt.file, "")...)
			_, _, err := runCatdog(t, args...)
			if err == nil || !strings.Contains(err.Error(), `unknown architecture "nope"`) {
				t.Fatalf("error %v, want the unknown architecture", err)
			}
			if got := strings.Contains(err.Error(), "came from"); got != (tt.want != "") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want a note %q", err, tt.want)
			}
		})
	}
}

// isolatedConfig runs the test away from any config file of the machine's (a fresh working
// folder, XDG_CONFIG_HOME and HOME), with the environment variables env set, and returns
// the arguments that name a config file holding file (named fileName, default catdog.yaml)
// when file is not empty.
func isolatedConfig(t *testing.T, env map[string]string, file, fileName string) []string {
	t.Helper()
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	for k, v := range env {
		t.Setenv(k, v)
	}
	if file == "" {
		return nil
	}
	if fileName == "" {
		fileName = "catdog.yaml"
	}
	cfg := filepath.Join(t.TempDir(), fileName)
	if err := os.WriteFile(cfg, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--config", cfg}
}
