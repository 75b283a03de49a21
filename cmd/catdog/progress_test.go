package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressOffTerminal: written to a buffer (a log, a pipe), progress is a few plain
// lines, never a bar's carriage returns; with --quiet nothing.
func TestProgressOffTerminal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		quiet bool
		want  []string
	}{
		{"log", false, []string{"decoding: 60/200 (30 %), ", " photos/s, about ", "decoding: 200/200, ", " in "}},
		{"quiet", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			a := newApp(&out, &errOut)
			a.v.Set("quiet", tc.quiet)
			b := a.progress(200, "decoding", "photos")
			if lb, ok := b.(*lineBar); ok {
				lb.start, lb.last = time.Now().Add(-time.Minute), time.Now().Add(-time.Minute)
			}
			for n := 10; n <= 200; n += 10 {
				b.Set(n)
				if n == 50 {
					if lb, ok := b.(*lineBar); ok {
						lb.last = time.Now().Add(-time.Minute) // the next Set is due a line
					}
				}
			}
			b.Finish()
			b.Finish()
			got := errOut.String()
			if strings.Contains(got, "\r") {
				t.Fatalf("carriage returns in a log:\n%q", got)
			}
			if tc.want == nil {
				if got != "" {
					t.Fatalf("quiet, got %q", got)
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(got), "\n")
			if len(lines) != 3 {
				t.Fatalf("%d lines, want 3 (at 10, at 60, finished):\n%s", len(lines), got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("no %q in:\n%s", w, got)
				}
			}
		})
	}
}
