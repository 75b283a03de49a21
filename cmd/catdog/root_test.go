package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
