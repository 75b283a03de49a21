//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/onnx/onnxtest"
)

// TestImportRefusesALinkOut is the probe that put the first 864 bytes of /etc/passwd into
// an exported model: "catdog backbones import" of a model whose external data w.bin is a
// symbolic link to a file outside the model's folder fails, saying where the link leads,
// and the backbone store holds none of that file's bytes.
func TestImportRefusesALinkOut(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(secret, []byte(strings.Repeat("root:x:0:0:root:/root:/bin/bash\n", 30)), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model := onnxtest.ExternalConv(t, dir, "w.bin", nil)
	if err := os.Symlink(secret, filepath.Join(dir, "w.bin")); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	_, _, err := runCatdog(t, "backbones", "import", model, "--cache-dir", store, "--name", "lifted", "--size", "32", "--preset", "unit", "--cut", "y")
	if err == nil || !strings.Contains(err.Error(), `"w.bin" leads outside `+dir+" through a symbolic link (to "+secret+")") {
		t.Fatalf("import: %v", err)
	}
	filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if b, _ := os.ReadFile(p); err == nil && !d.IsDir() && strings.Contains(string(b), "root:x:0:0") {
			t.Errorf("%s holds the linked file's bytes", p)
		}
		return nil
	})
}

// TestFIFOsAndSignals: a FIFO among the photos (and a link to one) no longer hangs prepare
// or predict: they finish with the FIFO skipped or reported; and prepare, like predict
// (TestSignals), stops within a second of SIGTERM.
func TestFIFOsAndSignals(t *testing.T) {
	fixtures.RequireORT(t)
	exe := buildCatdog(t)
	dir := t.TempDir()
	photos := fixtures.PhotoFiles(t, "dogs-vs-cats/train", 1000)
	for i, f := range photos { // 2000 labelled links, some seconds of work for prepare
		os.Symlink(f, filepath.Join(dir, fmt.Sprintf("%s.%d.jpg", strings.SplitN(filepath.Base(f), ".", 2)[0], i)))
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "cat.pipe.jpg"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Symlink(filepath.Join(dir, "cat.pipe.jpg"), filepath.Join(dir, "dog.link.jpg")); err != nil {
		t.Fatal(err)
	}
	small := t.TempDir()
	for _, f := range fixtures.PhotoFiles(t, "dogs-vs-cats/train", 3) {
		os.Symlink(f, filepath.Join(small, filepath.Base(f)))
	}
	os.Symlink(filepath.Join(dir, "cat.pipe.jpg"), filepath.Join(small, "cat.pipe.jpg"))

	t.Run("prepare finishes", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "data")
		p := startCatdog(t, exe, "-q", "prepare", "--data", small, "--out", out, "--size", "32")
		p.waitExit(t, 60*time.Second)
		m, err := os.ReadFile(filepath.Join(out, "manifest.json"))
		if err != nil || !strings.Contains(string(m), "a symbolic link to a named pipe (FIFO), not a regular file") {
			t.Errorf("prepare: %v, manifest lacks the FIFO's reason: %v\n%s", p.err, err, p.stderr.String())
		}
	})
	t.Run("predict finishes", func(t *testing.T) {
		p := startCatdog(t, exe, "-q", "predict", "--ep", "cpu", "--model", fixtures.BrightnessModel(t, 32), small)
		lines := 0
		for sc := bufio.NewScanner(p.stdout); sc.Scan(); {
			lines++
		}
		p.waitExit(t, 60*time.Second)
		if lines != 6 || p.cmd.ProcessState.ExitCode() != 1 || !strings.Contains(p.stderr.String(), "named pipe (FIFO), not a regular file") {
			t.Errorf("%d lines, exit %d, stderr:\n%s", lines, p.cmd.ProcessState.ExitCode(), p.stderr.String())
		}
	})
	t.Run("SIGTERM stops prepare", func(t *testing.T) {
		p := startCatdog(t, exe, "prepare", "--data", dir, "--out", filepath.Join(t.TempDir(), "data"), "--size", "64", "--workers", "1")
		time.Sleep(500 * time.Millisecond) // decoding has begun
		p.cmd.Process.Signal(syscall.SIGTERM)
		if took := p.waitExit(t, 5*time.Second); took > time.Second {
			t.Errorf("prepare exited %v after SIGTERM, want within 1s", took)
		}
		if got := p.cmd.ProcessState.ExitCode(); got != 143 {
			t.Errorf("exit status %d, want 143; stderr:\n%s", got, p.stderr.String())
		}
	})
}

// TestOutSaysWhy: --out on a file, or under one, says so; it is not "another catdog prepare
// is writing".
func TestOutSaysWhy(t *testing.T) {
	src := fixtures.Photos(t, 4)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct{ out, want string }{
		{file, "is a file, not a folder"},
		{filepath.Join(file, "sub"), "not a directory"},
	} {
		_, _, err := runCatdog(t, "-q", "prepare", "--data", src, "--out", tc.out, "--size", "32")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "another catdog") {
			t.Errorf("--out %s: %v, want %q", tc.out, err, tc.want)
		}
	}
}
