package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/metrics"
)

var tenClasses = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// writeGray writes a w x w PNG of one gray level at path.
func writeGray(t *testing.T, path string, w int, v uint8) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, w))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// grayFolders makes a test folder of a GrayModel's classes, a folder per class of perClass
// images, each of the gray its class has, but the first wrong images of each class, which
// have the gray of the next class; it returns the folder and the number of images.
func grayFolders(t *testing.T, classes []string, perClass, wrong int) (string, int) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "test")
	for k, name := range classes {
		for i := range perClass {
			g := k
			if i < wrong {
				g = (k + 1) % len(classes)
			}
			writeGray(t, filepath.Join(dir, name, fmt.Sprintf("%04d.png", i)), 12, uint8(fixtures.GrayCentre(g, len(classes))+3))
		}
	}
	return dir, len(classes) * perClass
}

// TestPredictClasses: with a model of ten classes and a folder per class, predict prints
// each image's label and the next classes, then the accuracy with its Wilson interval,
// the top-3 accuracy and each class's accuracy.
func TestPredictClasses(t *testing.T) {
	fixtures.RequireORT(t)
	model := fixtures.GrayModel(t, 32, tenClasses)
	dir, n := grayFolders(t, tenClasses, 5, 1) // 4 of 5 right in each class
	out, errOut, err := runCatdog(t, "predict", "-q", "--ep", "cpu", "--model", model, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines for %d images:\n%s", len(lines), n, out)
	}
	// The first image of airplane/ is gray as an automobile; the next ones, the band
	// above the airplane's centre: airplane, then automobile, then bird.
	line := regexp.MustCompile(`^([a-z]+)  (0\.\d{4})  ([a-z]+) (0\.\d{4})  ([a-z]+) (0\.\d{4})  (.+)$`)
	m := line.FindStringSubmatch(lines[1])
	if m == nil || m[1] != "airplane" || m[3] != "automobile" || m[5] != "bird" || m[7] != filepath.Join(dir, "airplane", "0001.png") {
		t.Errorf("line %q, want airplane, automobile, bird, then its path", lines[1])
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("line %q: want label, probability, two more classes and theirs, path", l)
		}
	}
	lo, hi := metrics.Wilson(40, 50)
	for _, want := range []string{
		fmt.Sprintf("accuracy 0.8000 (40 of 50 images in folders named by their class; 95 %% Wilson interval %.4f to %.4f)\n", lo, hi),
		// The wrong ones are of the next band, in the top 3, but truck's: an airplane's gray.
		"top-3 accuracy 0.9800 (49 of 50;",
		"\n  airplane    0.8000  (4 of 5)\n",
		"\n  truck       0.8000  (4 of 5)\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr has no %q:\n%s", want, errOut)
		}
	}

	// As JSON: "top" holds --top classes, "probability" is the label's.
	out, _, err = runCatdog(t, "predict", "-q", "--ep", "cpu", "--json", "--top", "4", "--model", model, filepath.Join(dir, "ship"))
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Path        string
		Label       string
		Probability float32
		Top         []struct {
			Label       string
			Class       int
			Probability float32
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 5 {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	for _, g := range got[1:] {
		if g.Label != "ship" || len(g.Top) != 4 || g.Top[0].Label != "ship" || g.Top[0].Class != 8 || g.Top[0].Probability != g.Probability ||
			g.Top[1].Label != "truck" || g.Top[1].Probability > g.Probability {
			t.Errorf("--json: %+v", g)
		}
	}

	// A threshold means nothing to such a model: refused.
	if _, _, err := runCatdog(t, "predict", "-q", "--ep", "cpu", "--threshold", "0.7", "--model", model, dir); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Errorf("--threshold with ten classes: %v, want an error", err)
	}
	if _, _, err := runCatdog(t, "predict", "-q", "--top", "-1", "--model", model, dir); err == nil || !strings.Contains(err.Error(), "--top -1") {
		t.Errorf("--top -1: %v, want an error", err)
	}
}

// TestPredictBinaryFolders: a two-class model over a folder per class prints its lines as
// always, and the accuracy on stderr (no top-k).
func TestPredictBinaryFolders(t *testing.T) {
	fixtures.RequireORT(t)
	model := fixtures.BrightnessModel(t, 32)
	dir := t.TempDir()
	for i, v := range []uint8{20, 40, 230, 100} { // dogs are dark, cats bright: one cat is wrong
		name := "dog"
		if i >= 2 {
			name = "cat"
		}
		writeGray(t, filepath.Join(dir, name, fmt.Sprintf("%d.png", i)), 12, v)
	}
	out, errOut, err := runCatdog(t, "predict", "-q", "--ep", "cpu", "--model", model, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^(cat  0\.\d{4}  \S+\n){1}dog  0\.\d{4}  \S+\n(dog  0\.\d{4}  \S+\n){2}$`).MatchString(out) {
		t.Errorf("stdout %q: want label, probability, path lines", out)
	}
	lo, hi := metrics.Wilson(3, 4)
	want := fmt.Sprintf("accuracy 0.7500 (3 of 4 images in folders named by their class; 95 %% Wilson interval %.4f to %.4f)\n  dog  1.0000  (2 of 2)\n  cat  0.5000  (1 of 2)\n", lo, hi)
	if errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}

// TestServeCommandClasses: catdog serve with a model of ten classes answers the label and
// the five most probable classes, and /v1/model its labels; --threshold is refused.
func TestServeCommandClasses(t *testing.T) {
	fixtures.RequireORT(t)
	model := fixtures.GrayModel(t, 32, tenClasses)
	if _, _, err := runCatdog(t, "serve", "--model", model, "--ep", "cpu", "--threshold", "0.6", "--addr", "127.0.0.1:0"); err == nil ||
		!strings.Contains(err.Error(), "threshold") {
		t.Errorf("--threshold with ten classes: %v, want an error", err)
	}
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	root := newRootCmd(newApp(pw, &errb))
	root.SetArgs([]string{"serve", "--model", model, "--addr", "127.0.0.1:0", "--ep", "cpu"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	first, _ := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first line %q names no address; stderr: %s", first, errb.String())
	}
	photo := filepath.Join(t.TempDir(), "p.png")
	writeGray(t, photo, 20, uint8(fixtures.GrayCentre(3, 10)+3))
	data, _ := os.ReadFile(photo)
	resp, err := http.Post(m[1]+"/v1/predict", "image/png", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Label string
		Top   []struct{ Label string }
	}
	err = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil || ans.Label != "cat" || len(ans.Top) != 5 || ans.Top[1].Label != "deer" {
		t.Errorf("predict: %s %+v %v", resp.Status, ans, err)
	}
	resp, err = http.Get(m[1] + "/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Name      string
		InputSize int `json:"input_size"`
		Classes   int
		Labels    []string
	}
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.InputSize != 32 || info.Classes != 10 || len(info.Labels) != 10 || !strings.HasPrefix(info.Name, "gray") {
		t.Errorf("/v1/model: %+v %v", info, err)
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
}
