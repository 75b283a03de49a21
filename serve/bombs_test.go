package serve

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// procStatus reads a kB field of /proc/self/status ("VmRSS", "VmHWM"), in bytes.
func procStatus(t testing.TB, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestBombs: 16 decompression bombs at once (7000x7000 16-bit RGBA PNGs, 392 MB each once
// decoded) do not hold back a normal photo, which keeps being answered within 200 ms
// (5-20 ms alone); they are decoded one at a time, so that the process's peak memory
// stays within the bound docs/serving.md states; and their memory goes back to the system
// after them.
func TestBombs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes decoding a bomb take tens of seconds and gigabytes more")
	}
	if runtime.GOOS != "linux" {
		t.Skip("memory is read from /proc/self/status")
	}
	c := realModel(t)
	s, err := New(c, Options{Name: "brightness"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	photo := read(t, photos(t, 1)[0])
	bomb := fixtures.ZeroPNG(7000, 7000, 6, 16, false, false) // 16-bit RGBA
	post := func(ctx context.Context, body []byte) (int, time.Duration) {
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/predict", bytes.NewReader(body))
		req.Header.Set("Content-Type", "image/png")
		resp, err := ts.Client().Do(req)
		if err != nil {
			return 0, time.Since(t0)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(t0)
	}
	if code, _ := post(context.Background(), photo); code != 200 {
		t.Fatalf("photo: %d", code)
	}
	debug.FreeOSMemory()
	base := procStatus(t, "VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("resetting the peak (VmHWM): %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	bombCodes := make(chan int, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := post(ctx, bomb)
			bombCodes <- code
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.large) < 16; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 16 bombs admitted after 10 s", len(s.large))
		}
	}
	// Photos for 4 s, and until a bomb is answered (for at most 15 s on a loaded machine).
	var lat []time.Duration
	for start := time.Now(); time.Since(start) < 4*time.Second || len(bombCodes) == 0 && time.Since(start) < 15*time.Second; {
		code, d := post(context.Background(), photo)
		if code != 200 {
			t.Fatalf("photo among the bombs: status %d after %s", code, d)
		}
		lat = append(lat, d)
	}
	used, waiting := s.budget.state()
	cancel() // the clients of the bombs not yet answered leave
	wg.Wait()
	close(bombCodes)
	answered := 0
	for code := range bombCodes {
		if code == 200 {
			answered++
		}
	}
	for deadline := time.Now().Add(20 * time.Second); len(s.large) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bombs still decoding 20 s after their clients left", len(s.large))
		}
	}
	peak, after := procStatus(t, "VmHWM"), procStatus(t, "VmRSS")
	slices.Sort(lat)
	t.Logf("%d photos among 16 bombs: p50 %s, p95 %s, max %s; %d bombs answered (then %d MiB in use, %d waiting); RSS %d MiB before, peak %d MiB (+%d), %d MiB after",
		len(lat), lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)-1], answered, used>>20, waiting,
		base>>20, peak>>20, (peak-base)>>20, after>>20)
	// A photo held behind a bomb would wait for its decoding, seconds. The bound on the
	// slowest photo leaves room for the scheduler of a loaded machine (other packages'
	// tests run beside this one: it once measured 285 ms there); the 95th percentile
	// keeps the usual latency honest.
	if p95 := lat[len(lat)*95/100]; p95 > 200*time.Millisecond {
		t.Errorf("photos among the bombs: p95 %s, want under 200 ms", p95)
	}
	if lat[len(lat)-1] > time.Second {
		t.Errorf("a photo among the bombs took %s, want under 1 s: it waited behind a bomb", lat[len(lat)-1])
	}
	// Between collections the Go heap may hold twice what is live (GOGC=100): the memory of
	// large images decoding at once is at most DecodeMemory, so the peak is at most twice
	// it above the idle process. Decoding two bombs at once (as one per core did on 2 cores)
	// goes over: 2.7 GB.
	if bound := int64(2 * DefaultDecodeMemory); peak-base > bound {
		t.Errorf("peak resident memory %d MiB above the idle process's, want at most %d MiB (twice DecodeMemory)", (peak-base)>>20, bound>>20)
	}
	if after-base > 256<<20 {
		t.Errorf("resident memory after the bombs %d MiB above the idle process's, want under 256 MiB: their memory is not handed back", (after-base)>>20)
	}
	if answered == 0 || waiting == 0 {
		t.Errorf("%d bombs answered, %d waiting at the end: the bombs were not being decoded in turn", answered, waiting)
	}
}
