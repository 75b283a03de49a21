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
// -api v2 has the clients use the Open Inference Protocol instead of /v1/predict: POST
// /v2/models/NAME/infer, the photo as a BYTES input in the binary tensor data extension,
// the label asked for as JSON.
//
// With -swap D it serves a model repository instead of one file (catdog serve --models, a
// temporary folder holding the model as version 1) and, under the load, writes a new
// version every D (a temporary folder renamed into place, the same model file), waits until
// the server answers that version's readiness, and removes the version before the last. It
// prints, besides the above, the versions swapped in and how long each took to be served.
// Its clients use the protocol (-api v2) and the model's newest version.
//
// A soak is a long run: -duration up to 1h; memory is printed at the start, the middle and
// the end (the means of the first, middle and last tenths of the samples) and as a
// least-squares slope in MiB per minute with its 95 % interval.
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
//	go run ./bench/serve -model runs/mobilenet-v1-075-head-.../model.onnx -api v2 -duration 10m
//	go run ./bench/serve -model runs/mobilenet-v1-075-head-.../model.onnx -swap 30s -duration 10m
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
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
	"github.com/catdog-ml/catdog/serve"
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
	api := flag.String("api", "v1", "how clients ask: v1 (POST /v1/predict) or v2 (the Open Inference Protocol)")
	swap := flag.Duration("swap", 0, "serve a model repository and write a new version of the model this often under the load")
	flag.Parse()
	log.SetFlags(0)
	switch {
	case *model == "":
		log.Fatal("bench/serve: -model is required")
	case *clients < 1 || *clients > 256:
		log.Fatal("bench/serve: -clients must be 1..256")
	case *duration <= 0 || *duration > time.Hour || *warmup < 0 || *warmup > time.Minute:
		log.Fatal("bench/serve: -duration must be at most 1h, -warmup at most 1m")
	case *api != "v1" && *api != "v2":
		log.Fatal("bench/serve: -api must be v1 or v2")
	case *swap < 0 || (*swap > 0 && *swap < time.Second):
		log.Fatal("bench/serve: -swap must be 0 (off) or at least 1s")
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

	serveArgs := []string{"--model", *model}
	var repo string
	if *swap > 0 {
		*api = "v2"
		if repo, err = os.MkdirTemp("", "catdog-repository-"); err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(repo)
		if err := putVersion(repo, 1, *model); err != nil {
			log.Fatal(err)
		}
		serveArgs = []string{"--models", repo}
	}
	srv, err := start(*catdog, append(serveArgs, strings.Fields(*extra)...))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.stop()
	url := srv.url + "/v1/predict"
	if *api == "v2" {
		if url, err = inferURL(srv.url); err != nil {
			log.Fatal(err)
		}
	}
	mem := srv.sampleMemory()
	heapStart := goHeap(srv.url)
	stopSwaps := func() []time.Duration { return nil }
	if *swap > 0 {
		stopSwaps = swapper(srv.url, repo, *model, *swap)
	}
	res := load(url, *api, bodies, *clients, *warmup, *duration)
	swaps := stopSwaps()
	heapEnd := goHeap(srv.url)
	rss := mem()
	if err := srv.stop(); err != nil {
		log.Printf("stopping catdog serve: %v", err)
	}
	report(ceiling, res, rss, *clients, *api)
	fmt.Printf("Go heap in use (go_memstats_heap_inuse_bytes): %.0f MiB at the start, %.0f MiB at the end: the rest of the resident memory is onnxruntime's and the C allocator's\n",
		heapStart/(1<<20), heapEnd/(1<<20))
	if *swap > 0 {
		swapReport(swaps, *swap)
	}
}

// modelDir is the model's name in the repository -swap serves.
const modelDir = "catdog"

// putVersion writes version v of the model file into repo as a publisher should: a
// temporary folder renamed into place.
func putVersion(repo string, v int, model string) error {
	data, err := os.ReadFile(model)
	if err != nil {
		return err
	}
	tmp := filepath.Join(repo, modelDir, fmt.Sprintf(".%d.tmp", v))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "model.onnx"), data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(repo, modelDir, strconv.Itoa(v)))
}

// swapper writes a new version every d until the returned function is called, which
// returns how long each version took to be served (-1 when it never was before the next).
func swapper(base, repo, model string, d time.Duration) func() []time.Duration {
	stop := make(chan struct{})
	done := make(chan []time.Duration)
	go func() {
		var took []time.Duration
		t := time.NewTicker(d)
		defer t.Stop()
		for v := 2; ; v++ {
			select {
			case <-stop:
				done <- took
				return
			case <-t.C:
			}
			start := time.Now()
			if err := putVersion(repo, v, model); err != nil {
				log.Printf("bench/serve: writing version %d: %v", v, err)
				took = append(took, -1)
				continue
			}
			ready := fmt.Sprintf("%s/v2/models/%s/versions/%d/ready", base, modelDir, v)
			served := time.Duration(-1)
			for time.Since(start) < d {
				if resp, err := http.Get(ready); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						served = time.Since(start)
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			took = append(took, served)
			os.RemoveAll(filepath.Join(repo, modelDir, strconv.Itoa(v-2)))
		}
	}()
	return func() []time.Duration {
		close(stop)
		return <-done
	}
}

func swapReport(took []time.Duration, every time.Duration) {
	var ok []time.Duration
	for _, d := range took {
		if d >= 0 {
			ok = append(ok, d)
		}
	}
	slices.Sort(ok)
	fmt.Printf("\nversions written every %s under the load: %d, served: %d", every, len(took), len(ok))
	if len(ok) > 0 {
		fmt.Printf(" (served after %s median, %s at most)", ok[len(ok)/2].Round(time.Millisecond), ok[len(ok)-1].Round(time.Millisecond))
	}
	fmt.Println()
}

// inferURL asks /v1/model the protocol's name of the model served (the first, with several)
// and returns its inference URL.
func inferURL(base string) (string, error) {
	resp, err := http.Get(base + "/v1/model")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var mi serve.ModelInfo
	if err := json.NewDecoder(resp.Body).Decode(&mi); err != nil || mi.Model == "" {
		return "", fmt.Errorf("/v1/model names no model (%v)", err)
	}
	return base + "/v2/models/" + mi.Model + "/infer", nil
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

// start runs catdog serve on a free loopback port with args (its model and more) and waits
// until it answers /healthz.
func start(bin string, extra []string) (*server, error) {
	args := append([]string{"-q", "serve", "--addr", "127.0.0.1:0"}, extra...)
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

// load runs clients posting photos to url (api v1: the photo as the body; v2: an inference
// request, the photo as binary tensor data) for warmup + d and counts what ends after the
// warm-up.
func load(url, api string, bodies [][]byte, clients int, warmup, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), warmup+d)
	defer cancel()
	from := time.Now().Add(warmup)
	var mu sync.Mutex
	res := result{codes: map[int]int{}}
	contentType, heads := "image/jpeg", make([]string, len(bodies))
	if api == "v2" { // each photo's inference request, made once
		contentType = "application/octet-stream"
		reqs := make([][]byte, len(bodies))
		for i, b := range bodies {
			var head int
			head, reqs[i] = inferBody(b)
			heads[i] = strconv.Itoa(head)
		}
		bodies = reqs
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			codes := map[int]int{}
			for i := c; ctx.Err() == nil; i += clients {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", contentType)
				if api == "v2" {
					req.Header.Set(serve.HeaderLength, heads[i%len(bodies)])
				}
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

// inferBody is an inference request for one photo in the binary tensor data extension: the
// JSON's length and the body.
func inferBody(photo []byte) (int, []byte) {
	req := serve.InferRequest{
		Inputs: []serve.RequestInput{{Name: serve.InputImageBytes, Datatype: serve.TypeBytes, Shape: []int64{1},
			Parameters: map[string]any{"binary_data_size": 4 + len(photo)}}},
		Outputs: []serve.RequestOutput{{Name: serve.OutputLabel}},
	}
	head, _ := json.Marshal(req)
	body := make([]byte, 0, len(head)+4+len(photo))
	body = binary.LittleEndian.AppendUint32(append(body, head...), uint32(len(photo)))
	return len(head), append(body, photo...)
}

func report(ceiling float64, r result, m memory, clients int, api string) {
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
	fmt.Fprintf(w, "catdog serve, %d clients (%s)\t%.1f images/s\t%.2f x the ceiling\n", clients, api, tput, tput/ceiling)
	fmt.Fprintf(w, "latency p50 / p95 / p99\t%s / %s / %s\t%d answers in %.0f s\n",
		pct(0.50).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), ok, r.seconds)
	fmt.Fprintf(w, "errors\t%d\t%s\n", errs, strings.Join(errText, ", "))
	if tenth := len(m.samples) / 10; tenth > 0 {
		mean := func(xs []int64) float64 {
			s := 0.0
			for _, x := range xs {
				s += float64(x)
			}
			return s / float64(len(xs)) / (1 << 20)
		}
		mid := len(m.samples)/2 - tenth/2
		first, middle, last := mean(m.samples[:tenth]), mean(m.samples[mid:mid+tenth]), mean(m.samples[len(m.samples)-tenth:])
		fmt.Fprintf(w, "server memory (RSS)\tpeak %.0f MiB\tstart %.0f MiB, middle %.0f MiB, end %.0f MiB (%+.1f %% start to end; means of tenths)\n",
			float64(m.peak)/(1<<20), first, middle, last, 100*(last-first)/first)
		slope, half := trend(m.samples)
		fmt.Fprintf(w, "memory trend\t%+.2f MiB/min\t95 %% interval [%+.2f, %+.2f] over %d samples, one a second\n",
			slope, slope-half, slope+half, len(m.samples))
		second := m.samples[len(m.samples)/2:]
		slope, half = trend(second)
		fmt.Fprintf(w, "memory trend, second half\t%+.2f MiB/min\t95 %% interval [%+.2f, %+.2f] over %d samples (after the allocators' warm-up)\n",
			slope, slope-half, slope+half, len(second))
	}
	w.Flush()
	fmt.Println()
	verdict := "met"
	if tput < 0.8*ceiling || errs > 0 {
		verdict = "NOT met"
	}
	fmt.Printf("target (>= 80 %% of the ceiling with %d clients, no errors): %s\n", clients, verdict)
}

// trend fits a line to samples taken once a second (bytes) and returns its slope in MiB per
// minute and the half-width of the slope's 95 % interval (least squares, normal errors;
// the samples' correlation makes it optimistic).
func trend(samples []int64) (slope, half float64) {
	n := float64(len(samples))
	if n < 3 {
		return 0, math.Inf(1)
	}
	var sx, sy float64
	for i, v := range samples {
		sx += float64(i)
		sy += float64(v) / (1 << 20)
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i, v := range samples {
		dx := float64(i) - mx
		sxx += dx * dx
		sxy += dx * (float64(v)/(1<<20) - my)
	}
	b := sxy / sxx
	var sse float64
	for i, v := range samples {
		r := float64(v)/(1<<20) - (my + b*(float64(i)-mx))
		sse += r * r
	}
	se := math.Sqrt(sse / (n - 2) / sxx)
	return 60 * b, 60 * 1.96 * se
}

// goHeap reads the server's Go heap in use from its /metrics (0 when it cannot).
func goHeap(base string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
