// Command serve load-tests catdog serve on loopback and sets it beside its ceiling: the same
// photos classified in-process through the classifier package.
//
// It first measures the in-process throughput (classifier.PredictFiles over the photos,
// batches of 32 decoded in parallel), then starts `catdog serve` as a child process on a
// free loopback port and runs -clients concurrent clients for -duration, each posting one
// photo per request (Content-Type: image/jpeg) in a loop. It prints throughput, the ratio to
// the in-process ceiling, latency percentiles, errors by status, and the server's memory
// (resident set sampled each second: peak, and the mean of the first and last thirds, to
// show whether it grows). The first -warmup of the load is not counted.
//
// With -bombs N it measures instead what decompression bombs do to everyone else: two fresh
// servers in turn, each with one client posting the photos one after another for -duration
// (after -warmup), the second with N more clients posting, in a loop, a 381 KB 7000x7000
// 16-bit RGBA PNG that decodes into 392 MB. It prints the normal photos' latency
// percentiles, what the bombs got, the server's peak resident memory (VmHWM) and its
// resident memory -settle after the load, both runs side by side.
//
// From the repository root, after scripts/setup.sh (bin/catdog):
//
//	go run ./bench/serve -model runs/mobilenet-v1-075-head-.../model.onnx [-clients 16] [-duration 60s]
//	go run ./bench/serve -model runs/mobilenet-v1-075-head-.../model.onnx -bombs 16 -duration 20s
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/internal/fixtures"
)

func main() {
	model := flag.String("model", "", "exported model (model.onnx); required")
	photos := flag.String("photos", "../shared/data/dogs-vs-cats-originals", "folder of photos to send")
	n := flag.Int("n", 200, "photos used (cycled)")
	catdog := flag.String("catdog", "bin/catdog", "the catdog binary to start")
	clients := flag.Int("clients", 16, "concurrent clients")
	duration := flag.Duration("duration", 60*time.Second, "load time, after the warm-up")
	warmup := flag.Duration("warmup", 5*time.Second, "load time not counted")
	ceilingFor := flag.Duration("ceiling", 15*time.Second, "time spent measuring the in-process ceiling")
	extra := flag.String("serve-flags", "", "more flags for catdog serve (\"--batch 8\")")
	bombs := flag.Int("bombs", 0, "instead of the throughput test: latency of one client's photos with 0, then this many clients posting decompression bombs")
	bombSide := flag.Int("bomb-side", 7000, "with -bombs: the bomb's width and height")
	settle := flag.Duration("settle", 5*time.Second, "with -bombs: how long after the load the server's memory is read again")
	flag.Parse()
	log.SetFlags(0)
	switch {
	case *model == "":
		log.Fatal("bench/serve: -model is required")
	case *clients < 1 || *clients > 256:
		log.Fatal("bench/serve: -clients must be 1..256")
	case *duration <= 0 || *duration > 10*time.Minute || *warmup < 0 || *warmup > time.Minute:
		log.Fatal("bench/serve: -duration must be at most 10m, -warmup at most 1m")
	case *bombs < 0 || *bombs > 256 || *bombSide < 1 || *bombSide > 1<<15 || *settle < 0 || *settle > time.Minute:
		log.Fatal("bench/serve: -bombs must be 0..256, -bomb-side 1..32768, -settle at most 1m")
	}
	files, err := classifier.FindImages(*photos)
	if err != nil {
		log.Fatal(err)
	}
	if len(files) > *n {
		files = files[:*n]
	}
	if len(files) == 0 {
		log.Fatalf("bench/serve: no photos in %s", *photos)
	}
	bodies := make([][]byte, len(files))
	for i, f := range files {
		if bodies[i], err = os.ReadFile(f); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("model %s, %d photos from %s, %d cores\n\n", *model, len(files), *photos, runtime.NumCPU())
	if *bombs > 0 {
		bomb := fixtures.ZeroPNG(*bombSide, *bombSide, 6, 16, false, false) // 16-bit RGBA
		fmt.Printf("one client posting photos for %s (after %s), beside 0 then %d clients posting a %d-byte %dx%d 16-bit RGBA PNG in a loop\n\n",
			*duration, *warmup, *bombs, len(bomb), *bombSide, *bombSide)
		var ps []phase
		for _, n := range []int{0, *bombs} {
			p, err := bombRun(*catdog, *model, strings.Fields(*extra), bodies, bomb, n, *warmup, *duration, *settle)
			if err != nil {
				log.Fatal(err)
			}
			ps = append(ps, p)
		}
		bombsReport([]string{"no bombs", fmt.Sprintf("%d bombs", *bombs)}, ps, *settle)
		return
	}

	ceiling, err := inProcess(*model, files, *ceilingFor)
	if err != nil {
		log.Fatal(err)
	}

	srv, err := start(*catdog, *model, strings.Fields(*extra))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.stop()
	mem := srv.sampleMemory()
	res := load(srv.url, bodies, *clients, *warmup, *duration)
	rss := mem()
	if err := srv.stop(); err != nil {
		log.Printf("stopping catdog serve: %v", err)
	}
	report(ceiling, res, rss, *clients)
}

// inProcess classifies files with the classifier package until d has passed and returns the
// images per second.
func inProcess(model string, files []string, d time.Duration) (float64, error) {
	c, err := classifier.Load(model)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.PredictFiles(files[:min(32, len(files))], nil) // warm-up
	start, done := time.Now(), 0
	for time.Since(start) < d {
		_, errs := c.PredictFiles(files, nil)
		for _, e := range errs {
			if e != nil {
				return 0, e
			}
		}
		done += len(files)
	}
	return float64(done) / time.Since(start).Seconds(), nil
}

type server struct {
	cmd  *exec.Cmd
	url  string
	once sync.Once
	err  error
}

// start runs catdog serve on a free loopback port and waits until it answers /healthz.
func start(bin, model string, extra []string) (*server, error) {
	args := append([]string{"-q", "serve", "--model", model, "--addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (build it with scripts/setup.sh): %w", bin, err)
	}
	s := &server{cmd: cmd}
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		cmd.Process.Kill()
		return nil, errors.New("catdog serve printed nothing")
	}
	m := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(sc.Text())
	if m == nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("catdog serve said %q", sc.Text())
	}
	if host, _, _ := net.SplitHostPort(m[1]); !net.ParseIP(host).IsLoopback() {
		cmd.Process.Kill()
		return nil, fmt.Errorf("not a loopback address: %s", m[1])
	}
	go func() {
		for sc.Scan() {
		}
	}()
	s.url = "http://" + m[1]
	for i := 0; ; i++ {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		if i == 100 {
			s.stop()
			return nil, fmt.Errorf("catdog serve does not answer /healthz: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a graceful exit.
func (s *server) stop() error {
	s.once.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.err = s.cmd.Wait()
	})
	return s.err
}

// memory is the server's resident set over the run, in bytes.
type memory struct {
	samples []int64
	peak    int64
}

// sampleMemory samples the server's VmRSS every second until the returned function is
// called, which also reads the peak (VmHWM).
func (s *server) sampleMemory() func() memory {
	pid := s.cmd.Process.Pid
	stop := make(chan struct{})
	var m memory
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v := status(pid, "VmRSS"); v > 0 {
					m.samples = append(m.samples, v)
				}
			}
		}
	}()
	return func() memory {
		close(stop)
		wg.Wait()
		m.peak = status(pid, "VmHWM")
		return m
	}
}

// status reads a "kB" field of /proc/pid/status, in bytes.
func status(pid int, field string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

type result struct {
	seconds   float64
	latencies []time.Duration // of the 200s counted
	codes     map[int]int     // counted answers by status; 0 = transport error
}

// load runs clients posting photos to url for warmup + d and counts what ends after the
// warm-up.
func load(url string, bodies [][]byte, clients int, warmup, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), warmup+d)
	defer cancel()
	from := time.Now().Add(warmup)
	var mu sync.Mutex
	res := result{codes: map[int]int{}}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			codes := map[int]int{}
			for i := c; ctx.Err() == nil; i += clients {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/predict", bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", "image/jpeg")
				resp, err := client.Do(req)
				code := 0
				if err == nil {
					var buf [512]byte
					for {
						if _, e := resp.Body.Read(buf[:]); e != nil {
							break
						}
					}
					resp.Body.Close()
					code = resp.StatusCode
				}
				if ctx.Err() != nil || t0.Before(from) {
					continue // cut by the end, or warm-up
				}
				codes[code]++
				if code == 200 {
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			for k, v := range codes {
				res.codes[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.seconds = d.Seconds()
	return res
}

func report(ceiling float64, r result, m memory, clients int) {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	ok := r.codes[200]
	errs := 0
	var errText []string
	for code, k := range r.codes {
		if code != 200 {
			errs += k
			errText = append(errText, fmt.Sprintf("%d x %d", k, code))
		}
	}
	tput := float64(ok) / r.seconds
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "in-process (classifier.PredictFiles)\t%.1f images/s\t(the ceiling)\n", ceiling)
	fmt.Fprintf(w, "catdog serve, %d clients\t%.1f images/s\t%.2f x the ceiling\n", clients, tput, tput/ceiling)
	fmt.Fprintf(w, "latency p50 / p95 / p99\t%s / %s / %s\t%d answers in %.0f s\n",
		pct(0.50).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), ok, r.seconds)
	fmt.Fprintf(w, "errors\t%d\t%s\n", errs, strings.Join(errText, ", "))
	third := len(m.samples) / 3
	if third > 0 {
		mean := func(xs []int64) float64 {
			s := 0.0
			for _, x := range xs {
				s += float64(x)
			}
			return s / float64(len(xs)) / (1 << 20)
		}
		first, last := mean(m.samples[:third]), mean(m.samples[len(m.samples)-third:])
		fmt.Fprintf(w, "server memory (RSS)\tpeak %.0f MiB\tfirst third %.0f MiB, last third %.0f MiB (%+.1f %%)\n",
			float64(m.peak)/(1<<20), first, last, 100*(last-first)/first)
	}
	w.Flush()
	fmt.Println()
	verdict := "met"
	if tput < 0.8*ceiling || errs > 0 {
		verdict = "NOT met"
	}
	fmt.Printf("target (>= 80 %% of the ceiling with %d clients, no errors): %s\n", clients, verdict)
}
