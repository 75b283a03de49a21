package shard

import (
	"strings"
	"testing"
)

func TestRangeCoversOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100, 101} {
		for count := 1; count <= 9; count++ {
			next := 0
			for i := range count {
				lo, hi := Shard{i, count}.Range(n)
				if lo != next || hi < lo {
					t.Fatalf("n=%d, shard %d/%d: [%d, %d), want it to start at %d", n, i, count, lo, hi, next)
				}
				if d := hi - lo; d < n/count || d > n/count+1 {
					t.Errorf("n=%d, shard %d/%d: %d items, want %d or %d", n, i, count, d, n/count, n/count+1)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("n=%d in %d shards: the runs end at %d", n, count, next)
			}
		}
	}
}

func TestResolve(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name  string
		spec  string
		count int
		env   map[string]string
		want  string // the shard, "none", or an error's words
		err   bool
	}{
		{"flag", "2/3", 0, nil, "2/3", false},
		{"flag wins over the job index", "0/2", 0, map[string]string{IndexEnv: "4"}, "0/2", false},
		{"flag and count agree", "1/5", 5, nil, "1/5", false},
		{"flag and count disagree", "0/2", 5, nil, "which is it", true},
		{"count and job index", "", 4, map[string]string{IndexEnv: "3"}, "3/4", false},
		{"count from env", "", 0, map[string]string{IndexEnv: "1", CountEnv: "2"}, "1/2", false},
		{"not sharded", "", 0, map[string]string{IndexEnv: "1"}, "none", false},
		{"count without index", "", 3, nil, "JOB_COMPLETION_INDEX", true},
		{"index past count", "", 3, map[string]string{IndexEnv: "3"}, "0 <= INDEX < COUNT", true},
		{"bad flag", "3", 0, nil, "INDEX/COUNT", true},
		{"index equals count", "3/3", 0, nil, "0 <= INDEX < COUNT", true},
		{"negative", "-1/3", 0, nil, "0 <= INDEX < COUNT", true},
		{"bad env count", "", 0, map[string]string{IndexEnv: "0", CountEnv: "x"}, "CATDOG_SHARDS", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Resolve(tc.spec, tc.count, env(tc.env))
			got := "none"
			switch {
			case err != nil:
				got = err.Error()
			case s != nil:
				got = s.String()
			}
			if !strings.Contains(got, tc.want) || (err != nil) != tc.err {
				t.Errorf("Resolve(%q, %d, %v) = %q, want %q", tc.spec, tc.count, tc.env, got, tc.want)
			}
		})
	}
}
