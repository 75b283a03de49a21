package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressBar shows the progress of long work: a progress bar on a terminal, a plain line every
// few seconds when the output is a file or a pipe (a log then holds lines, not thousands
// of carriage returns), nothing with --quiet.
type progressBar interface {
	Set(n int) error
	Describe(description string)
	Finish() error
}

// lineEvery is how often a bar writes a line when not on a terminal.
const lineEvery = 10 * time.Second

// progress starts a bar over total steps. unit names what is counted ("images"); with a
// unit the bar shows a rate, without (steps of uneven size) it does not.
func (a *app) progress(total int, description, unit string) progressBar {
	if a.v.GetBool("quiet") {
		return &lineBar{w: io.Discard}
	}
	if f, ok := a.errOut.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return &lineBar{w: a.errOut, desc: description, unit: unit, total: total, start: time.Now(), last: time.Now()}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(a.errOut),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(a.errOut) }),
		progressbar.OptionFullWidth(),
	}
	if unit != "" {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	return progressbar.NewOptions(total, opts...)
}

// lineBar writes "description: n/total (p %), r unit/s, about t left" at most every
// lineEvery, and a last line when finished.
type lineBar struct {
	w           io.Writer
	desc, unit  string
	total, n    int
	start, last time.Time
	done        bool
}

func (b *lineBar) Set(n int) error {
	b.n = n
	if now := time.Now(); now.Sub(b.last) >= lineEvery && n < b.total {
		b.last = now
		b.line(now, false)
	}
	return nil
}

func (b *lineBar) Describe(d string) { b.desc = d }

func (b *lineBar) Finish() error {
	if !b.done && b.w != io.Discard {
		b.done = true
		b.n = b.total
		b.line(time.Now(), true)
	}
	return nil
}

func (b *lineBar) line(now time.Time, finished bool) {
	el := now.Sub(b.start)
	s := fmt.Sprintf("%s: %d/%d", b.desc, b.n, b.total)
	if b.total > 0 && !finished {
		s += fmt.Sprintf(" (%d %%)", 100*b.n/b.total)
	}
	if b.unit != "" && el > 0 {
		s += fmt.Sprintf(", %.3g %s/s", float64(b.n)/el.Seconds(), b.unit)
	}
	if finished {
		s += fmt.Sprintf(" in %s", el.Round(100*time.Millisecond))
	} else if b.n > 0 && b.total > b.n {
		left := time.Duration(float64(el) * float64(b.total-b.n) / float64(b.n))
		s += fmt.Sprintf(", about %s left", left.Round(time.Second))
	}
	fmt.Fprintln(b.w, s)
}
