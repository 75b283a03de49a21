package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// phase is what one server did under one load: the normal photos' latencies, what the
// bombs got, and its memory.
type phase struct {
	latencies []time.Duration // of the normal photos answered 200, and of one waiting for over 1 s at the end
	normal    map[int]int     // normal photos' answers by status; 0 = transport error, -1 = waiting for over 1 s at the end
	bombs     map[int]int     // bombs' answers by status
	peak      int64           // VmHWM at the end of the load
	after     int64           // VmRSS after the load, once settled
}

// bombRun starts a fresh catdog serve, runs one client posting the photos one after
// another and bombs clients posting bomb in a loop, for warmup + d, then measures the
// server's memory settle later.
func bombRun(bin, model string, extra []string, bodies [][]byte, bomb []byte, bombs int, warmup, d, settle time.Duration) (phase, error) {
	srv, err := start(bin, append([]string{"--model", model}, extra...))
	if err != nil {
		return phase{}, err
	}
	defer srv.stop()
	p := phase{normal: map[int]int{}, bombs: map[int]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+d)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: bombs + 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	post := func(ctx context.Context, body []byte, ct string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", srv.url+"/v1/predict", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", ct)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range bombs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				code, _ := post(ctx, bomb, "image/png")
				if ctx.Err() != nil {
					return // cut by the end: not an answer
				}
				mu.Lock()
				p.bombs[code]++
				mu.Unlock()
			}
		}()
	}
	from := time.Now().Add(warmup)
	for i := 0; ctx.Err() == nil; i++ {
		t0 := time.Now()
		code, _ := post(ctx, bodies[i%len(bodies)], "image/jpeg")
		if t0.Before(from) {
			continue
		}
		if ctx.Err() != nil {
			if d := time.Since(t0); code == 0 && d >= time.Second { // stuck: count it, and how long it waited
				p.normal[-1]++
				p.latencies = append(p.latencies, d)
			}
			continue
		}
		p.normal[code]++
		if code == 200 {
			p.latencies = append(p.latencies, time.Since(t0))
		}
	}
	wg.Wait()
	p.peak = status(srv.cmd.Process.Pid, "VmHWM")
	time.Sleep(settle)
	p.after = status(srv.cmd.Process.Pid, "VmRSS")
	return p, srv.stop()
}

// bombsReport prints the phases side by side, one column each.
func bombsReport(names []string, ps []phase, settle time.Duration) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	row := func(what string, f func(p phase) string) {
		fmt.Fprint(w, what)
		for _, p := range ps {
			fmt.Fprint(w, "\t", f(p))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, "")
	for _, n := range names {
		fmt.Fprint(w, "\t", n)
	}
	fmt.Fprintln(w)
	pct := func(q float64) func(p phase) string {
		return func(p phase) string {
			l := slices.Sorted(slices.Values(p.latencies))
			if len(l) == 0 {
				return "-"
			}
			return l[min(len(l)-1, int(q*float64(len(l))))].Round(100 * time.Microsecond).String()
		}
	}
	row("normal photo p50", pct(0.50))
	row("normal photo p95", pct(0.95))
	row("normal photo p99", pct(0.99))
	row("normal photo max", pct(1))
	row("normal photos answered", func(p phase) string { return codes(p.normal) })
	row("bombs answered", func(p phase) string { return codes(p.bombs) })
	mib := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	row("server peak RSS (VmHWM)", func(p phase) string { return mib(p.peak) })
	row(fmt.Sprintf("server RSS %s after", settle), func(p phase) string { return mib(p.after) })
	w.Flush()
}

// codes writes answers by status, "310 x 200, 2 x 503", or "-" for none.
func codes(m map[int]int) string {
	if len(m) == 0 {
		return "-"
	}
	var s []string
	for _, c := range slices.Sorted(maps.Keys(m)) {
		name := fmt.Sprint(c)
		switch c {
		case 0:
			name = "failed"
		case -1:
			name = "still waiting (over 1 s) at the end"
		}
		s = append(s, fmt.Sprintf("%d x %s", m[c], name))
	}
	return strings.Join(s, ", ")
}
