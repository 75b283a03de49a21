package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// TestServeCommand starts catdog serve on a free port, classifies a photo over HTTP, and
// stops it as SIGTERM would (its context ends): it says every request was answered.
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
	root.SetArgs([]string{"serve", "--model", model, "--addr", "127.0.0.1:0", "--ep", "cpu"})
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
	cancel()
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
