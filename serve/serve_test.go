package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/internal/fixtures"
)

// realModel loads the brightness model on onnxruntime.
func realModel(t *testing.T) *classifier.Classifier {
	t.Helper()
	fixtures.RequireORT(t)
	c, err := classifier.Load(fixtures.BrightnessModel(t, 32), classifier.WithProvider("cpu"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func photos(t *testing.T, n int) []string {
	t.Helper()
	dir := fixtures.Shared(t, "dogs-vs-cats-originals")
	files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if len(files) < n {
		t.Fatalf("%d photos in %s, want %d", len(files), dir, n)
	}
	return files[:n]
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newServer(t *testing.T, m Model, opts Options) *httptest.Server {
	t.Helper()
	s, err := New(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

// form builds a multipart body with the given parts (field name, file name, data).
func form(t *testing.T, parts ...[3]string) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p[0], p[1]))
		h.Set("Content-Type", "image/jpeg")
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte(p[2]))
	}
	w.Close()
	return w.FormDataContentType(), &b
}

// TestPredict: the photo as the body, as a form, several in a form; every kind of bad
// request answered 4xx with a message; the server still answers after all of them; the
// metrics count what happened.
func TestPredict(t *testing.T) {
	c := realModel(t)
	ts := newServer(t, c, Options{Name: "brightness", MaxBytes: 1 << 20})
	files := photos(t, 3)
	photo := read(t, files[0])
	want, err := c.PredictFile(files[0])
	if err != nil {
		t.Fatal(err)
	}

	post := func(ct string, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Post(ts.URL+"/v1/predict", ct, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	good := func() {
		t.Helper()
		resp, body := post("image/jpeg", bytes.NewReader(photo))
		var a Answer
		if resp.StatusCode != 200 || json.Unmarshal(body, &a) != nil {
			t.Fatalf("photo: %s %s", resp.Status, body)
		}
		if a.Label != want.Label || a.Probability != want.Probability {
			t.Errorf("photo: %+v, want %+v (as classifier.PredictFile)", a, want)
		}
	}
	good()

	ct, body := form(t, [3]string{"image", "cat.jpg", string(photo)})
	resp, b := post(ct, body)
	var one Answer
	if resp.StatusCode != 200 || json.Unmarshal(b, &one) != nil || one.File != "cat.jpg" || one.Probability != want.Probability {
		t.Errorf("form with one image: %s %s", resp.Status, b)
	}

	ct, body = form(t, [3]string{"image", "a.jpg", string(photo)}, [3]string{"image", "junk.jpg", "not a photo"},
		[3]string{"note", "", "ignored"}, [3]string{"image", "b.jpg", string(read(t, files[1]))})
	resp, b = post(ct, body)
	var many []Answer
	if resp.StatusCode != 200 || json.Unmarshal(b, &many) != nil || len(many) != 3 {
		t.Fatalf("form with three images: %s %s", resp.Status, b)
	}
	if many[0].Prediction == nil || many[1].Error == "" || many[1].Prediction != nil || strings.Contains(string(b), `"label":""`) ||
		many[2].Prediction == nil || many[2].File != "b.jpg" {
		t.Errorf("form with three images, one junk: %s", b)
	}

	for _, tc := range []struct {
		name, ct string
		body     []byte
		status   int
		msg      string
	}{
		{"text as an image", "image/jpeg", []byte("hello, I am not a photo"), 422, "not a usable image"},
		{"truncated JPEG", "image/jpeg", photo[:len(photo)/2], 422, "not a usable image"},
		{"60000x60000 header", "image/png", fixtures.PNGHeader(60000, 60000, 8, 2), 413, "too large"},
		{"wrong content type", "text/plain", photo, 415, "Content-Type"},
		{"no content type", "", photo, 415, "Content-Type"},
		{"empty body", "image/jpeg", nil, 400, "empty body"},
		{"body too big", "image/jpeg", make([]byte, 2<<20), 413, "over 1048576 bytes"},
		{"form without image", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhi\r\n--x--\r\n"), 400, "no field"},
		{"broken form", "multipart/form-data; boundary=x", []byte("--y garbage"), 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.URL+"/v1/predict", bytes.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e apiError
			if resp.StatusCode != tc.status || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s %s, want %d and an error saying %q", resp.Status, b, tc.status, tc.msg)
			}
		})
	}
	if resp, err := http.Get(ts.URL + "/v1/predict"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/predict: %v %v, want 405", resp.Status, err)
	}
	good() // still serving

	for path, want := range map[string]string{
		"/healthz":  "ok",
		"/":         "Dog or cat?",
		"/v1/model": `"name":"brightness"`,
	} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %s, want %q in:\n%.3000s", path, resp.Status, want, b)
		}
	}
	resp, _ = http.Get(ts.URL + "/metrics")
	b, _ = io.ReadAll(resp.Body)
	for _, want := range []string{`catdog_http_requests_total{code="200"} 4`, `catdog_http_requests_total{code="400"} 3`,
		`catdog_http_requests_total{code="413"} 2`, `catdog_http_requests_total{code="415"} 2`, `catdog_http_requests_total{code="422"} 2`,
		`catdog_request_errors_total{reason="bad_image"} 3`, `catdog_request_errors_total{reason="too_large"} 2`,
		"catdog_http_request_duration_seconds_bucket", "catdog_http_requests_in_flight 0", "catdog_queue_images 0",
		`catdog_predictions_total{label=`, "catdog_batch_images_count", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(string(b), want) {
			var have []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "catdog_") && !strings.Contains(l, "_bucket") {
					have = append(have, l)
				}
			}
			t.Errorf("/metrics has no %q; it has:\n%s", want, strings.Join(have, "\n"))
		}
	}
}

// slowModel decodes anything and answers only when released.
type slowModel struct {
	release chan struct{}
	started chan int
}

func (m *slowModel) Decode(r io.Reader) ([]uint8, error) {
	io.Copy(io.Discard, r)
	return make([]uint8, 12), nil
}

func (m *slowModel) PredictPixels(px []uint8, n int) ([]classifier.Prediction, error) {
	m.started <- n
	<-m.release
	out := make([]classifier.Prediction, n)
	for i := range out {
		out[i] = classifier.Prediction{Label: "cat", Class: 1, Probability: 0.9, Confidence: 0.9}
	}
	return out, nil
}

func postAsync(url string, n int) chan int {
	codes := make(chan int, n)
	for range n {
		go func() {
			resp, err := http.Post(url+"/v1/predict", "image/jpeg", strings.NewReader("x"))
			if err != nil {
				codes <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	return codes
}

// TestBusy: past the queue's bound a request is answered 503 with Retry-After at once;
// the requests admitted are answered when the model is free.
func TestBusy(t *testing.T) {
	m := &slowModel{release: make(chan struct{}), started: make(chan int, 10)}
	s, err := New(m, Options{Queue: 2, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer func() { ts.Close(); s.Close() }()
	codes := postAsync(ts.URL, 2)
	<-m.started // one in the model
	for deadline := time.Now().Add(10 * time.Second); len(s.admitted) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second request was never admitted")
		}
	}
	resp, err := http.Post(ts.URL+"/v1/predict", "image/jpeg", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third request: %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	close(m.release)
	for range 2 {
		if c := <-codes; c != 200 {
			t.Errorf("admitted request: %d, want 200", c)
		}
	}
}

// TestBatches: concurrent requests are run together.
func TestBatches(t *testing.T) {
	m := &slowModel{release: make(chan struct{}), started: make(chan int, 100)}
	s, err := New(m, Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer func() { ts.Close(); s.Close() }()
	codes := postAsync(ts.URL, 1)
	first := <-m.started // a batch of one is in the model
	more := postAsync(ts.URL, 8)
	jobs := s.snapshot()["model"][0].jobs
	for deadline := time.Now().Add(10 * time.Second); len(jobs) < 8; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 8 images queued", len(jobs))
		}
	}
	close(m.release)
	second := <-m.started
	if first != 1 || second != 8 {
		t.Errorf("batches of %d then %d; want 1 then 8 (all that waited)", first, second)
	}
	if c := <-codes; c != 200 {
		t.Errorf("status %d", c)
	}
	for range 8 {
		if c := <-more; c != 200 {
			t.Errorf("status %d", c)
		}
	}
}

// TestGracefulShutdown: once its context is done, Serve keeps its listener open while a
// request is in flight, or for DrainDelay: /healthz answers 503 "shutting down" there, and
// so do new predictions; the request in flight is answered; then Serve returns nil and
// new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inFlight bool
		delay    time.Duration
	}{
		{"request in flight", true, 0},
		{"drain delay, nothing in flight", false, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &slowModel{release: make(chan struct{}), started: make(chan int, 10)}
			s, err := New(m, Options{DrainDelay: tc.delay})
			if err != nil {
				t.Fatal(err)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			url := "http://" + l.Addr().String()
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- s.Serve(ctx, l) }()
			var codes chan int
			if tc.inFlight {
				codes = postAsync(url, 1)
				<-m.started
			} else {
				close(m.release)
			}
			start := time.Now()
			cancel() // SIGTERM
			fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			get := func(method, path string) (int, string, error) {
				req, _ := http.NewRequest(method, url+path, strings.NewReader("x"))
				req.Header.Set("Content-Type", "image/jpeg")
				resp, err := fresh.Do(req)
				if err != nil {
					return 0, "", err
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), nil
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				code, body, err := get("GET", "/healthz")
				if err != nil {
					t.Fatalf("/healthz once shutting down: %v, want 503 while the listener is open", err)
				}
				if code == 503 && body == "shutting down\n" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/healthz 5 s after SIGTERM: %d %q, want 503", code, body)
				}
			}
			if code, body, err := get("POST", "/v1/predict"); code != 503 || !strings.Contains(body, "shutting down") {
				t.Errorf("prediction once shutting down: %d %s %v, want 503", code, body, err)
			}
			if tc.inFlight {
				time.Sleep(100 * time.Millisecond)
				if code, _, err := get("GET", "/healthz"); code != 503 {
					t.Errorf("/healthz while a request is in flight: %d %v, want 503", code, err)
				}
				close(m.release)
				if c := <-codes; c != 200 {
					t.Errorf("request in flight at shutdown: %d, want 200", c)
				}
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v, want nil after a graceful shutdown", err)
			}
			if d := time.Since(start); d < tc.delay {
				t.Errorf("Serve returned %s after SIGTERM, before its drain delay of %s", d, tc.delay)
			}
			if _, _, err := get("GET", "/healthz"); err == nil {
				t.Error("the server still accepts connections after shutdown")
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil): no error")
	}
	m := &slowModel{}
	reg := Options{}
	reg.defaults()
	s, err := New(m, Options{Registry: reg.Registry})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := New(m, Options{Registry: reg.Registry}); err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Errorf("two servers on one registry: %v, want an error about metrics", err)
	}
}

// TestCloseWhileServing: requests queued when Close is called are answered, later ones get
// 503; none hangs.
func TestCloseWhileServing(t *testing.T) {
	m := &slowModel{release: make(chan struct{}), started: make(chan int, 10)}
	s, err := New(m, Options{Queue: 4, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	codes := postAsync(ts.URL, 3)
	<-m.started
	time.Sleep(100 * time.Millisecond) // the other two queue
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	time.Sleep(50 * time.Millisecond)
	close(m.release)
	<-closed
	for range 3 {
		if c := <-codes; c != 200 && c != 503 {
			t.Errorf("request queued at Close: %d, want 200 (or 503)", c)
		}
	}
	if c := <-postAsync(ts.URL, 1); c != 503 {
		t.Errorf("request after Close: %d, want 503", c)
	}
}
