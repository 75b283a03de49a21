package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/exported"
	"github.com/catdog-ml/catdog/internal/fixtures"
)

// fakeModel is a model whose file says what it answers: "label:NAME" answers NAME for
// every image; "broken" does not load; "dead" loads but fails to run. An image whose
// first byte is 1 waits for gate before it is answered.
type fakeModel struct {
	label  string
	dead   bool
	gate   chan struct{}
	closed atomic.Bool
}

func (m *fakeModel) Decode(r io.Reader) ([]uint8, error) {
	b, err := io.ReadAll(r)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", classifier.ErrImage)
	}
	return bytes.Repeat(b[:1], 8*8*3), nil
}

func (m *fakeModel) PredictPixels(px []uint8, n int) ([]classifier.Prediction, error) {
	if m.dead {
		return nil, errors.New("the session cannot run")
	}
	if px[0] == 1 && m.gate != nil {
		<-m.gate
	}
	if m.closed.Load() {
		return nil, errors.New("used after Close")
	}
	out := make([]classifier.Prediction, n)
	for i := range out {
		out[i] = classifier.Prediction{Label: m.label, Class: 1, Probability: 1, Confidence: 1, Probabilities: []float32{0, 1}}
	}
	return out, nil
}

func (m *fakeModel) Labels() []string { return []string{"other", m.label} }
func (m *fakeModel) InputSize() int   { return 8 }
func (m *fakeModel) Close() error     { m.closed.Store(true); return nil }

// fakeLoader loads fakeModels and keeps them, by file, in the order loaded.
type fakeLoader struct {
	mu     sync.Mutex
	gate   chan struct{}
	loaded []*fakeModel
}

func (l *fakeLoader) load(path string) (Model, io.Closer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	s := strings.TrimSpace(string(b))
	m := &fakeModel{gate: l.gate}
	switch {
	case s == "broken":
		return nil, nil, errors.New("not a usable ONNX model")
	case s == "dead":
		m.dead = true
	case strings.HasPrefix(s, "label:"):
		m.label = strings.TrimPrefix(s, "label:")
	default:
		return nil, nil, fmt.Errorf("fake model %q", s)
	}
	l.mu.Lock()
	l.loaded = append(l.loaded, m)
	l.mu.Unlock()
	return m, m, nil
}

// byLabel returns the first model loaded that answers label.
func (l *fakeLoader) byLabel(label string) *fakeModel {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.loaded {
		if m.label == label {
			return m
		}
	}
	return nil
}

// putVersion writes version v of model name holding data, as a publisher should: into a
// temporary folder, renamed into place.
func putVersion(t *testing.T, dir, name string, v int, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, name, fmt.Sprintf(".%d.tmp", v))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ModelFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name, fmt.Sprint(v))); err != nil {
		t.Fatal(err)
	}
}

// replace writes data over the file at path as a publisher changing a file in place
// should: a temporary file renamed over it (a plain write could be read half done).
func replace(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// infer posts one image to model (and version) and returns the status and the label.
func infer(t testing.TB, base, model string, img []byte) (int, string) {
	t.Helper()
	body := `{"inputs":[{"name":"image_bytes","shape":[1],"datatype":"BYTES","data":["` + base64.StdEncoding.EncodeToString(img) + `"]}],"outputs":[{"name":"label"}]}`
	resp, err := http.Post(base+"/v2/models/"+model+"/infer", "application/json", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	var r struct {
		Outputs []struct {
			Data []string `json:"data"`
		} `json:"outputs"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 || len(r.Outputs) != 1 || len(r.Outputs[0].Data) != 1 {
		return resp.StatusCode, r.Error
	}
	return resp.StatusCode, r.Outputs[0].Data[0]
}

// TestRepository: the newest version of each model is served; a new version is swapped
// in, the old one closed; a broken version is refused with a log line while the one before
// goes on, and loaded once fixed; a model that loads but cannot run is refused too;
// policies latest:N, all and a list; a removed model is no longer served.
func TestRepository(t *testing.T) {
	dir := t.TempDir()
	putVersion(t, dir, "pets", 1, []byte("label:one"))
	putVersion(t, dir, "other", 3, []byte("label:x"))
	os.MkdirAll(filepath.Join(dir, "pets", "notes"), 0o755)  // not a version: ignored
	os.MkdirAll(filepath.Join(dir, "pets", "9"), 0o755)      // no model file: ignored
	os.MkdirAll(filepath.Join(dir, "bad name!", "1"), 0o755) // not a model name: ignored
	var logs lockedBuffer
	l := &fakeLoader{}
	s, err := NewRepository(Repository{Dir: dir, Load: l.load, Poll: 20 * time.Millisecond},
		Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, s)
	img := []byte{0}
	if code, label := infer(t, ts.URL, "pets", img); code != 200 || label != "one" {
		t.Fatalf("pets: %d %s", code, label)
	}
	if code, label := infer(t, ts.URL, "other/versions/3", img); code != 200 || label != "x" {
		t.Fatalf("other: %d %s", code, label)
	}

	putVersion(t, dir, "pets", 2, []byte("label:two"))
	waitFor(t, "version 2 served", func() bool { _, label := infer(t, ts.URL, "pets", img); return label == "two" })
	// (installed before the old one is retired: both answer for a moment)
	waitFor(t, "version 1 no longer ready under the policy latest", func() bool {
		code, _ := get(t, ts.URL+"/v2/models/pets/versions/1/ready")
		return code == 404
	})
	waitFor(t, "version 1 closed", func() bool { return l.byLabel("one").closed.Load() })

	putVersion(t, dir, "pets", 3, []byte("broken"))
	waitFor(t, "version 3 refused", func() bool { return strings.Contains(logs.String(), "model version refused") })
	if !strings.Contains(logs.String(), "version=3") || !strings.Contains(logs.String(), "not a usable ONNX model") {
		t.Errorf("log: %s", logs.String())
	}
	time.Sleep(100 * time.Millisecond) // a few more scans: tried once, not again
	if n := strings.Count(logs.String(), "model version refused"); n != 1 {
		t.Errorf("the broken version was refused %d times, want once until it changes", n)
	}
	if code, label := infer(t, ts.URL, "pets", img); code != 200 || label != "two" {
		t.Errorf("with version 3 broken: %d %s, want version 2's answer", code, label)
	}
	// Fixed in place: a new size, so a changed file.
	replace(t, filepath.Join(dir, "pets", "3", ModelFile), "label:three")
	waitFor(t, "version 3 served once fixed", func() bool { _, label := infer(t, ts.URL, "pets", img); return label == "three" })

	// Broken in place: the version as loaded before goes on.
	replace(t, filepath.Join(dir, "pets", "3", ModelFile), "broken")
	waitFor(t, "the change refused", func() bool { return strings.Contains(logs.String(), "the same version as loaded before") })
	if code, label := infer(t, ts.URL, "pets", img); code != 200 || label != "three" {
		t.Errorf("with version 3 broken in place: %d %s, want version 3 as loaded before", code, label)
	}
	replace(t, filepath.Join(dir, "pets", "3", ModelFile), "label:three")

	putVersion(t, dir, "pets", 4, []byte("dead"))
	waitFor(t, "version 4 refused", func() bool { return strings.Contains(logs.String(), "blank image") })
	if code, label := infer(t, ts.URL, "pets", img); code != 200 || label != "three" {
		t.Errorf("with version 4 unable to run: %d %s", code, label)
	}

	// The folder unreadable for a while: one line, the models served go on, then it works again.
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed scan logged", func() bool { return strings.Contains(logs.String(), "scanning the model repository failed") })
	time.Sleep(100 * time.Millisecond) // a few more scans
	if n := strings.Count(logs.String(), "scanning the model repository failed"); n != 1 {
		t.Errorf("the failing scan was logged %d times, want once", n)
	}
	if code, label := infer(t, ts.URL, "pets", img); code != 200 || label != "three" {
		t.Errorf("while the folder cannot be read: %d %s, want version 3 still served", code, label)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scan works again", func() bool { return strings.Contains(logs.String(), "works again") })

	if err := os.RemoveAll(filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "model other gone", func() bool { code, _ := get(t, ts.URL+"/v2/models/other/ready"); return code == 404 })

	metrics := func() string { _, b := get(t, ts.URL+"/metrics"); return string(b) }
	// The series of retired versions go once their sessions are closed, just after.
	waitFor(t, "the metrics of versions no longer served deleted", func() bool {
		m := metrics()
		return !strings.Contains(m, `version="1"`) && !strings.Contains(m, `model="other",version=`)
	})
	for _, want := range []string{`catdog_model_loads_total{model="pets",result="failed"} 3`, `catdog_model_loads_total{model="pets",result="ok"}`,
		`catdog_model_ready{model="pets",version="3"} 1`, `catdog_predictions_total{label="three",model="pets",version="3"}`} {
		if !strings.Contains(metrics(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	for _, tc := range []struct {
		policy string
		ready  []int
	}{{"latest:2", []int{2, 3}}, {"all", []int{1, 2, 3}}, {"1,3", []int{1, 3}}} {
		p, err := ParseVersionPolicy(tc.policy)
		if err != nil || p.String() != tc.policy {
			t.Fatalf("policy %q: %v %v", tc.policy, p, err)
		}
		s2, err := NewRepository(Repository{Dir: dir, Load: (&fakeLoader{}).load, Policy: p, Poll: -1}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ts2 := httptest.NewServer(s2.Handler())
		var ready []int
		for v := 1; v <= 4; v++ {
			if code, _ := get(t, fmt.Sprintf("%s/v2/models/pets/versions/%d/ready", ts2.URL, v)); code == 200 {
				ready = append(ready, v)
			}
		}
		if fmt.Sprint(ready) != fmt.Sprint(tc.ready) {
			t.Errorf("policy %s: versions %v ready, want %v", tc.policy, ready, tc.ready)
		}
		ts2.Close()
		s2.Close()
	}
	for _, bad := range []string{"latest:0", "newest", "1,x", "0"} {
		if _, err := ParseVersionPolicy(bad); err == nil {
			t.Errorf("policy %q accepted", bad)
		}
	}
	if _, err := NewRepository(Repository{Dir: t.TempDir(), Load: l.load}, Options{}); err == nil || !strings.Contains(err.Error(), "no model") {
		t.Errorf("an empty repository: %v", err)
	}
}

// TestSwapInFlight: a request that holds version 1 when version 2 comes is answered by
// version 1, which is closed only after it; requests after the swap go to version 2.
func TestSwapInFlight(t *testing.T) {
	dir := t.TempDir()
	putVersion(t, dir, "pets", 1, []byte("label:one"))
	l := &fakeLoader{gate: make(chan struct{})}
	var opened sync.Once
	open := func() { opened.Do(func() { close(l.gate) }) }
	s, err := NewRepository(Repository{Dir: dir, Load: l.load, Poll: 20 * time.Millisecond}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, s)
	t.Cleanup(open) // runs before the server's: a failed test does not leave a request waiting
	slow := make(chan string, 1)
	go func() { code, label := infer(t, ts.URL, "pets", []byte{1}); slow <- fmt.Sprint(code, " ", label) }()
	waitFor(t, "the slow request in the model", func() bool {
		return s.snapshot()["pets"][0].refs.Load() == 1
	})
	putVersion(t, dir, "pets", 2, []byte("label:two"))
	// (Not by a request to version 1: it would wait in line behind the slow one.)
	waitFor(t, "version 2 served", func() bool { code, _ := get(t, ts.URL+"/v2/models/pets/versions/2/ready"); return code == 200 })
	if code, label := infer(t, ts.URL, "pets", []byte{0}); code != 200 || label != "two" {
		t.Errorf("after the swap: %d %s, want version 2's answer", code, label)
	}
	if l.byLabel("one").closed.Load() {
		t.Fatal("version 1 closed while a request used it")
	}
	// Close waits for the retired version 1 too, which a request still holds.
	closing := make(chan struct{})
	go func() { s.Close(); close(closing) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-closing:
		t.Fatal("Close returned while a request held a retired version")
	default:
	}
	open()
	if got := <-slow; got != "200 one" {
		t.Errorf("the request in flight during the swap: %s, want 200 one", got)
	}
	<-closing
	if !l.byLabel("one").closed.Load() || !l.byLabel("two").closed.Load() {
		t.Error("Close returned before every version's model was closed")
	}
}

// shortModel answers one prediction fewer than it is asked for.
type shortModel struct{ fakeModel }

func (m *shortModel) PredictPixels(px []uint8, n int) ([]classifier.Prediction, error) {
	p, err := m.fakeModel.PredictPixels(px, n)
	return p[:n-1], err
}

// TestShortAnswer: a model that answers fewer predictions than images fails the request
// (500), and the server goes on.
func TestShortAnswer(t *testing.T) {
	s, err := New(&shortModel{fakeModel{label: "x"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, s)
	for range 2 {
		if code, msg := infer(t, ts.URL, "model", []byte{0}); code != 500 || !strings.Contains(msg, "0 predictions for 1 images") {
			t.Errorf("short answer: %d %q, want 500 saying so", code, msg)
		}
	}
}

// TestSwapUnderLoad: real models on onnxruntime, 8 clients for as long as 10 versions take
// to be written one after the other: every request answered 200, each version served
// within seconds of being written, every old version closed.
func TestSwapUnderLoad(t *testing.T) {
	fixtures.RequireORT(t)
	dir := t.TempDir()
	models := [2][]byte{
		read(t, fixtures.BrightnessModel(t, 32)),
		read(t, fixtures.BrightnessModelMeta(t, 32, map[string]string{exported.MetaInputSize: "32", exported.MetaLabels: "night,day"})),
	}
	putVersion(t, dir, "bright", 1, models[0])
	var closers atomic.Int64
	load := func(path string) (Model, io.Closer, error) {
		c, err := classifier.Load(path, classifier.WithProvider("cpu"), classifier.WithThreads(1))
		if err != nil {
			return nil, nil, err
		}
		return c, closerFunc(func() error { closers.Add(1); return c.Close() }), nil
	}
	s, err := NewRepository(Repository{Dir: dir, Load: load, Poll: 25 * time.Millisecond}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, s)
	img := grayPNG(t, 32, 220)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code, label := infer(t, ts.URL, "bright", img); code == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprint(code, " ", label))
				}
			}
		}()
	}
	for v := 2; v <= 11; v++ {
		start := time.Now()
		putVersion(t, dir, "bright", v, models[(v-1)%2])
		waitFor(t, fmt.Sprintf("version %d served", v), func() bool {
			code, _ := get(t, fmt.Sprintf("%s/v2/models/bright/versions/%d/ready", ts.URL, v))
			return code == 200
		})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("version %d served %v after it was written", v, d)
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("%d requests answered, %d failed (first: %v)", ok.Load(), failed.Load(), firstFailure.Load())
	}
	waitFor(t, "10 old versions closed", func() bool { return closers.Load() == 10 })
	t.Logf("%d requests over 10 swaps, none failed", ok.Load())
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
