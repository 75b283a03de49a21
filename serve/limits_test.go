package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/internal/imgutil"
)

// pngHeader16 is the signature and IHDR of a w x h 16-bit RGBA PNG, and nothing after: what
// the server reads to know an image's cost.
func pngHeader16(w, h uint32) []byte {
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 16, 6, 0, 0, 0)
	b := binary.BigEndian.AppendUint32([]byte("\x89PNG\r\n\x1a\n"), 13)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// gateModel "decodes" image headers: it reports the width of each image as its decoding
// starts, and holds those at least 500 pixels wide until released.
type gateModel struct {
	started chan int
	release chan struct{}
}

func (m *gateModel) Decode(r io.Reader) ([]uint8, error) {
	data, _ := io.ReadAll(r)
	cfg, err := imgutil.DecodeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", classifier.ErrImage, err)
	}
	m.started <- cfg.Width
	if cfg.Width >= 500 {
		<-m.release
	}
	return make([]uint8, 12), nil
}

func (m *gateModel) PredictPixels(px []uint8, n int) ([]classifier.Prediction, error) {
	out := make([]classifier.Prediction, n)
	for i := range out {
		out[i] = classifier.Prediction{Label: "cat", Class: 1, Probability: 0.9, Confidence: 0.9}
	}
	return out, nil
}

// reply is a finished request: its status and body.
type reply struct {
	code int
	body string
}

// postBody posts body as image/png and sends the reply on the returned channel (code 0
// when the request failed, as when ctx ends first).
func postBody(ctx context.Context, url string, body []byte) chan reply {
	c := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/predict", bytes.NewReader(body))
		req.Header.Set("Content-Type", "image/png")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			c <- reply{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c <- reply{resp.StatusCode, string(b)}
	}()
	return c
}

// waitFor polls cond every few milliseconds for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, still not: %s", what)
		}
	}
}

// TestDecodeMemory: large images (by their headers' cost) wait for their share of
// DecodeMemory and for a lane in order of arrival, one behind the other even where a
// smaller one would fit, while a small image goes through at once; one that costs more
// than DecodeMemory is answered 413 at once; past a quarter of the queue of large images,
// 503; a large image whose client leaves gives up its place.
func TestDecodeMemory(t *testing.T) {
	m := &gateModel{started: make(chan int, 16), release: make(chan struct{})}
	// 64 MiB: images over 2 MiB are large, two lanes for them (4 decoders), 4 of them at
	// most (queue 16).
	s, err := New(m, Options{Decoders: 4, DecodeMemory: 64 << 20, Queue: 16, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer func() { close(m.release); ts.Close(); s.Close() }() // the decodes still held end first
	ctx := context.Background()
	waiting := func(n int) func() bool {
		return func() bool { _, w := s.budget.state(); return w == n }
	}
	_, big, _ := imgutil.DecodeCost(pngHeader16(1800, 1800))
	_, mid, _ := imgutil.DecodeCost(pngHeader16(600, 600))
	_, small, _ := imgutil.DecodeCost(pngHeader16(200, 200))
	if big > 64<<20 || 2*big <= 64<<20 || mid <= 2<<20 || big+3*mid > 64<<20 || small > 2<<20 {
		t.Fatalf("costs %d, %d, %d do not fit the scenario", big, mid, small)
	}

	a := postBody(ctx, ts.URL, pngHeader16(1800, 1800))
	if w := <-m.started; w != 1800 {
		t.Fatalf("first decode: width %d", w)
	}
	b := postBody(ctx, ts.URL, pngHeader16(1800, 1800)) // does not fit beside a
	waitFor(t, "the second large image waits", waiting(1))
	c := postBody(ctx, ts.URL, pngHeader16(600, 600)) // would fit beside a, but b came first
	waitFor(t, "the third large image waits", waiting(2))

	start := time.Now()
	if r := <-postBody(ctx, ts.URL, pngHeader16(200, 200)); r.code != 200 {
		t.Errorf("small image while large ones wait: %d %s", r.code, r.body)
	}
	if w := <-m.started; w != 200 {
		t.Errorf("decoded a %d-wide image, want the small one", w)
	}
	t.Logf("small image answered in %s beside 3 large ones", time.Since(start))

	r := <-postBody(ctx, ts.URL, pngHeader16(3000, 3000))
	if r.code != 413 || !regexp.MustCompile(`decoding this 3000x3000 PNG would take about \d+ MiB, over the 64 MiB this server decodes at once`).MatchString(r.body) {
		t.Errorf("image costing more than DecodeMemory: %d %s; want 413 saying why", r.code, r.body)
	}

	fctx, leave := context.WithCancel(ctx)
	f := postBody(fctx, ts.URL, pngHeader16(600, 600))
	waitFor(t, "the fourth large image waits", waiting(3))
	r = <-postBody(ctx, ts.URL, pngHeader16(600, 600))
	if r.code != 503 || !strings.Contains(r.body, "large images are waiting to be decoded: 4 of them already") {
		t.Errorf("fifth large image: %d %s; want 503 busy", r.code, r.body)
	}
	leave()
	if r := <-f; r.code != 0 {
		t.Errorf("request whose client left: %d", r.code)
	}
	waitFor(t, "the large image whose client left is out of the line", waiting(2))

	m.release <- struct{}{} // a is decoded: b and c take both lanes
	if got := []int{<-m.started, <-m.started}; got[0]+got[1] != 2400 {
		t.Errorf("decoded after the first: widths %v, want the second and the third", got)
	}
	h := postBody(ctx, ts.URL, pngHeader16(600, 600)) // its bytes fit, but no lane is free
	waitFor(t, "a large image waits for a lane", waiting(1))
	m.release <- struct{}{}
	if w := <-m.started; w != 600 {
		t.Errorf("decoded a %d-wide image once a lane was free, want the one waiting", w)
	}
	m.release <- struct{}{}
	m.release <- struct{}{}
	for name, ch := range map[string]chan reply{"first": a, "second": b, "third": c, "last": h} {
		if r := <-ch; r.code != 200 {
			t.Errorf("%s large image: %d %s", name, r.code, r.body)
		}
	}
	waitFor(t, "no large image left", func() bool { return len(s.large) == 0 })
	if used, w := s.budget.state(); used != 0 || w != 0 || s.budget.running != 0 {
		t.Errorf("after: %d bytes in use, %d waiting, %d lanes taken; want none", used, w, s.budget.running)
	}
}

// TestDeclaredTooLarge: a request whose Content-Length is over MaxBytes is answered 413 at
// once, before a byte of its body is read, whether or not the client sends it (issue 24:
// a declared 2 GiB with 10 bytes sent was held 30 s, then answered 400).
func TestDeclaredTooLarge(t *testing.T) {
	s, err := New(&slowModel{}, Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()
	defer func() { cancel(); <-served }()
	for _, tc := range []struct{ name, headers, body string }{
		{"image, 10 bytes sent", "Content-Type: image/jpeg\r\n", "0123456789"},
		{"form, 10 bytes sent", "Content-Type: multipart/form-data; boundary=x\r\n", "--x\r\nabcd"},
		{"expecting 100-continue, nothing sent", "Content-Type: image/png\r\nExpect: 100-continue\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			conn.SetDeadline(start.Add(time.Second))
			fmt.Fprintf(conn, "POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Length: 2147483648\r\n%s\r\n%s", tc.headers, tc.body)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer within a second: %v", err)
			}
			var e apiError
			err = json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != 413 || err != nil || e.Error != "request body over 1048576 bytes (Content-Length: 2147483648)" {
				t.Errorf("%s %q %v, want 413 saying the body is over 1048576 bytes", resp.Status, e.Error, err)
			}
			t.Logf("answered in %s", time.Since(start))
		})
	}
}

// lockedBuffer is a bytes.Buffer that the log writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOverloadLogged: refusals of overload (503, queue full) are logged once, then counted,
// with one line per interval saying how many (at the interval's end, or at Close), and a
// refusal after a quiet interval is logged at once again; other refusals are logged one
// line each; the metrics count every refusal.
func TestOverloadLogged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		close bool // the counts are written by Close, not by the end of the interval
	}{
		{"counted until Close", time.Hour, true},
		{"counted by interval", 100 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged lockedBuffer
			m := &slowModel{release: make(chan struct{}), started: make(chan int, 1)}
			s, err := New(m, Options{Queue: 1, MaxBatch: 1, Log: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatal(err)
			}
			s.refusals.every = tc.every
			ts := httptest.NewServer(s.Handler())
			release := sync.OnceFunc(func() { close(m.release) })
			defer func() { release(); ts.Close(); s.Close() }() // the request held ends first
			held := postAsync(ts.URL, 1)
			<-m.started
			start := time.Now()
			for i := range 200 {
				if c := <-postAsync(ts.URL, 1); c != 503 {
					t.Fatalf("request %d past the queue: %d, want 503", i, c)
				}
			}
			elapsed := time.Since(start)
			for range 3 {
				resp, err := http.Post(ts.URL+"/v1/predict", "text/plain", strings.NewReader("x"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			summary := regexp.MustCompile(`msg="refused (\d+) requests? in the last [0-9.]+m?s: queue full" status=503 reason=busy count=(\d+)`)
			counted := func() (n, lines int) {
				for _, m := range summary.FindAllStringSubmatch(logged.String(), -1) {
					var k int
					fmt.Sscan(m[1], &k)
					n += k
					lines++
				}
				return n, lines
			}
			if tc.close {
				release()
				<-held
				s.Close()
			} else {
				waitFor(t, "199 refusals counted in the log", func() bool { n, _ := counted(); return n == 199 })
			}
			log := logged.String()
			once := strings.Count(log, `msg="request refused" status=503 reason=busy`)
			n, lines := counted()
			t.Logf("%d refusals in %s: %d logged alone, %d counted in %d lines", 200, elapsed, once, n, lines)
			if once != 1 || n != 199 {
				t.Errorf("200 refusals: %d logged alone, %d counted; want 1 and 199:\n%s", once, n, log)
			}
			if most := 2 + int(elapsed/tc.every); lines > most {
				t.Errorf("%d lines of counts in %s, want at most %d (one per %s):\n%s", lines, elapsed, most, tc.every, log)
			}
			if c := strings.Count(log, "reason=content_type"); c != 3 {
				t.Errorf("3 refusals of another kind: %d lines, want one each:\n%s", c, log)
			}
			if resp, err := http.Get(ts.URL + "/metrics"); err != nil {
				t.Error(err)
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := `catdog_request_errors_total{reason="busy"} 200`; !strings.Contains(string(b), want) {
					t.Errorf("/metrics has no %s", want)
				}
			}
			if !tc.close {
				time.Sleep(3 * tc.every) // a quiet interval ends the counting
				if c := <-postAsync(ts.URL, 1); c != 503 {
					t.Fatalf("request past the queue: %d, want 503", c)
				}
				if again := strings.Count(logged.String(), `msg="request refused" status=503 reason=busy`); again != 2 {
					t.Errorf("a refusal after a quiet interval: %d lines logged alone in all, want 2:\n%s", again, logged.String())
				}
				release()
				<-held
				s.Close()
			}
		})
	}
}
