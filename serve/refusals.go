package serve

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// refusalLog writes the refusals of overload (503: queue full, too many large images,
// shutting down) to the log at most once per interval for each reason: the first of a
// quiet spell at once, as any other refusal, then one line at the end of each interval
// that saw more, with their count. A server refusing thousands of requests a second thus
// writes a line every few seconds, not one per request; the metrics count every one.
type refusalLog struct {
	log   *slog.Logger
	every time.Duration

	mu      sync.Mutex
	pending map[string]*refusals // by reason, while an interval is open
}

// refusals are those of one reason counted in the open interval.
type refusals struct {
	what   string    // what the line says: "queue full"
	status int       // the status they got
	count  int       // since the last line
	since  time.Time // of the last line
	timer  *time.Timer
}

func newRefusalLog(log *slog.Logger, every time.Duration) *refusalLog {
	return &refusalLog{log: log, every: every, pending: map[string]*refusals{}}
}

// add logs the refusal e of a request from remote now if none of its reason was logged in
// the last interval, and otherwise counts it for the line at the end of the interval. what
// is how that line names the reason.
func (l *refusalLog) add(e *httpError, what, remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.pending[e.reason]; r != nil {
		r.count++
		return
	}
	l.log.Warn("request refused", "status", e.status, "reason", e.reason, "error", e.msg, "remote", remote)
	reason := e.reason
	l.pending[reason] = &refusals{what: what, status: e.status, since: time.Now(),
		timer: time.AfterFunc(l.every, func() { l.flush(reason) })}
}

// flush ends the interval of reason: the line with the count, if any were counted, and a
// new interval; otherwise the next refusal is logged at once.
func (l *refusalLog) flush(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.pending[reason]
	if r == nil {
		return
	}
	if r.count == 0 {
		delete(l.pending, reason)
		return
	}
	l.line(reason, r)
	r.count, r.since = 0, time.Now()
	r.timer.Reset(l.every)
}

// close writes the counts not yet written and stops the timers. Refusals after it start
// new intervals.
func (l *refusalLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for reason, r := range l.pending {
		r.timer.Stop()
		if r.count > 0 {
			l.line(reason, r)
		}
		delete(l.pending, reason)
	}
}

func (l *refusalLog) line(reason string, r *refusals) {
	d := time.Since(r.since)
	if d >= time.Second {
		d = d.Round(time.Second)
	} else {
		d = d.Round(time.Millisecond)
	}
	noun := "requests"
	if r.count == 1 {
		noun = "request"
	}
	l.log.Warn(fmt.Sprintf("refused %d %s in the last %s: %s", r.count, noun, d, r.what),
		"status", r.status, "reason", reason, "count", r.count)
}
