package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/fixtures"
)

// TestServeCommand starts catdog serve on a free port, classifies a photo over HTTP, refuses
// an image whose decoding needs more than --decode-memory, and stops it as SIGTERM would
// (its context ends): /healthz answers 503 for --drain-delay, then it says every request
// was answered.
func TestServeCommand(t *testing.T) {
	fixtures.RequireORT(t)
	model := fixtures.BrightnessModel(t, 32)
	photos, _ := filepath.Glob(filepath.Join(fixtures.Shared(t, "dogs-vs-cats-originals"), "*.jpg"))
	if len(photos) == 0 {
		t.Fatal("no photos")
	}
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	a := newApp(pw, &errb)
	root := newRootCmd(a)
	root.SetArgs([]string{"serve", "--model", model, "--addr", "127.0.0.1:0", "--ep", "cpu",
		"--decode-memory", "16777216", "--drain-delay", "500ms"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()

	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	first := <-lines
	m := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first line %q names no address; stderr: %s", first, errb.String())
	}
	photo, err := os.ReadFile(photos[0])
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(m[1]+"/v1/predict", "image/jpeg", bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Label       string  `json:"label"`
		Probability float64 `json:"probability"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil || (ans.Label != "dog" && ans.Label != "cat") {
		t.Errorf("predict: %s %+v %v", resp.Status, ans, err)
	}
	// A 5000x5000 16-bit RGBA PNG's header: 275 MB to decode, over 16 MiB.
	ihdr := append([]byte("IHDR\x00\x00\x13\x88\x00\x00\x13\x88"), 16, 6, 0, 0, 0)
	bomb := binary.BigEndian.AppendUint32(append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d"), ihdr...), crc32.ChecksumIEEE(ihdr))
	resp, err = http.Post(m[1]+"/v1/predict", "image/png", bytes.NewReader(bomb))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(b), "over the 16 MiB this server decodes at once") {
		t.Errorf("5000x5000 16-bit PNG with --decode-memory 16777216: %s %s, want 413", resp.Status, b)
	}

	cancel()
	healthz := func() int {
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(m[1] + "/healthz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c := healthz(); c == 503 {
			break
		} else if c != 200 || time.Now().After(deadline) {
			t.Fatalf("/healthz after SIGTERM: %d, want 503 during --drain-delay", c)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop")
	}
	if last := <-lines; last != "stopped: every request in flight was answered" {
		t.Errorf("last line %q", last)
	}
}

// TestServeFlagsChecked: --decode-memory and --drain-delay out of range are refused before
// the model is loaded.
func TestServeFlagsChecked(t *testing.T) {
	for _, tc := range []struct {
		flag, value, want string
	}{
		{"--decode-memory", "1000", "--decode-memory 1000: want 16777216 to 1099511627776 bytes"},
		{"--decode-memory", "-1", "--decode-memory -1"},
		{"--drain-delay", "-1s", "--drain-delay -1s: want 0 to 10m"},
	} {
		t.Run(tc.flag+" "+tc.value, func(t *testing.T) {
			var out, errb bytes.Buffer
			root := newRootCmd(newApp(&out, &errb))
			root.SetArgs([]string{"serve", "--model", "no-such.onnx", tc.flag, tc.value})
			if err := root.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestServeRepositoryCommand: catdog serve --models serves a repository's newest version in
// both APIs, picks up a version written while it runs, and refuses a repository with no
// model, or both --model and --models.
func TestServeRepositoryCommand(t *testing.T) {
	fixtures.RequireORT(t)
	dir := t.TempDir()
	put := func(v int, model string) {
		tmp := filepath.Join(dir, "pets", ".tmp")
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(model)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "model.onnx"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "pets", strconv.Itoa(v))); err != nil {
			t.Fatal(err)
		}
	}
	put(1, fixtures.BrightnessModel(t, 32))
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	a := newApp(pw, &errb)
	root := newRootCmd(a)
	root.SetArgs([]string{"serve", "--models", dir, "--poll", "100ms", "--addr", "127.0.0.1:0", "--ep", "cpu"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	first, err := bufio.NewReader(pr).ReadString('\n')
	m := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(first)
	if err != nil || m == nil {
		t.Fatalf("first line %q names no address (%v); stderr: %s", first, err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	base := m[1]
	label := func(path string) string {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(
			`{"inputs":[{"name":"pixels","shape":[1,32,32,3],"datatype":"UINT8","data":[`+strings.Repeat("250,", 32*32*3-1)+`250]}],"outputs":[{"name":"label"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Outputs []struct{ Data []string } `json:"outputs"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 || len(r.Outputs) != 1 || len(r.Outputs[0].Data) != 1 {
			t.Fatalf("POST %s: %s %v", path, resp.Status, err)
		}
		return r.Outputs[0].Data[0]
	}
	if got := label("/v2/models/pets/infer"); got != "cat" {
		t.Errorf("version 1: %s, want cat", got)
	}
	put(2, fixtures.BrightnessModelMeta(t, 32, map[string]string{exported.MetaInputSize: "32", exported.MetaLabels: "night,day"}))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(base + "/v2/models/pets/versions/2/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("version 2 not served after 10 s; stderr: %s", errb.String())
		}
	}
	if got := label("/v2/models/pets/infer"); got != "day" {
		t.Errorf("version 2: %s, want day", got)
	}
	if got := label("/v2/models/pets/versions/2/infer"); got != "day" {
		t.Errorf("version 2 by number: %s, want day", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if !strings.Contains(errb.String(), "model version loaded") || !strings.Contains(errb.String(), "version=2") {
		t.Errorf("stderr: %s", errb.String())
	}

	for _, args := range [][]string{
		{"serve", "--models", t.TempDir(), "--addr", "127.0.0.1:0"},
		{"serve", "--models", dir, "--model", "x.onnx"},
		{"serve", "--models", dir, "--versions", "newest"},
	} {
		var out, errb bytes.Buffer
		root := newRootCmd(newApp(&out, &errb))
		root.SetArgs(args)
		if err := root.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
