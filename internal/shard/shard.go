// Package shard cuts a job's work into contiguous slices for separate processes, such as
// the pods of a Kubernetes Indexed Job: which slice this process takes, from a flag or from
// the environment the Job gives each pod.
package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// Env names: the index Kubernetes gives each pod of an Indexed Job, and the shard count
// catdog reads when no flag gives it.
const (
	IndexEnv = "JOB_COMPLETION_INDEX"
	CountEnv = "CATDOG_SHARDS"
)

// A Shard is slice Index (from 0) of Count.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// String returns "INDEX/COUNT", as Parse reads it.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Name returns "INDEX-of-COUNT", a file or folder name for the shard's output.
func (s Shard) Name() string { return fmt.Sprintf("%d-of-%d", s.Index, s.Count) }

// MaxCount is the most shards a job may have.
const MaxCount = 1 << 16

// Valid reports an error unless 0 <= Index < Count <= MaxCount.
func (s Shard) Valid() error {
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %s: want INDEX/COUNT with 0 <= INDEX < COUNT", s)
	}
	if s.Count > MaxCount {
		return fmt.Errorf("shard %s: at most %d shards", s, MaxCount)
	}
	return nil
}

// Range returns the part [lo, hi) of n items, in order, that the shard takes: the n items
// cut into Count contiguous runs whose lengths differ by at most one.
func (s Shard) Range(n int) (lo, hi int) {
	return s.Index * n / s.Count, (s.Index + 1) * n / s.Count
}

// Parse reads "INDEX/COUNT", such as "2/8".
func Parse(v string) (Shard, error) {
	i, c, ok := strings.Cut(v, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want INDEX/COUNT, such as 0/4", v)
	}
	var s Shard
	var err error
	if s.Index, err = strconv.Atoi(strings.TrimSpace(i)); err != nil {
		return Shard{}, fmt.Errorf("shard %q: index: %w", v, err)
	}
	if s.Count, err = strconv.Atoi(strings.TrimSpace(c)); err != nil {
		return Shard{}, fmt.Errorf("shard %q: count: %w", v, err)
	}
	return s, s.Valid()
}

// Resolve returns the shard a process takes, or nil when the work is not sharded:
//   - spec "INDEX/COUNT" (a --shard flag) when given (count, when not 0, must agree);
//   - else a count (a --shards flag, or CountEnv when count is 0) with the index from
//     IndexEnv, which must then be set;
//   - else nil.
//
// getenv is os.Getenv, or a stand-in in tests.
func Resolve(spec string, count int, getenv func(string) string) (*Shard, error) {
	if spec != "" {
		s, err := Parse(spec)
		if err != nil {
			return nil, err
		}
		if count != 0 && count != s.Count {
			return nil, fmt.Errorf("shard %s, but %d shards given (--shards or %s): which is it?", s, count, CountEnv)
		}
		return &s, nil
	}
	if count == 0 {
		if v := getenv(CountEnv); v != "" {
			c, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%s=%q: %w", CountEnv, v, err)
			}
			count = c
		}
	}
	if count == 0 {
		return nil, nil
	}
	v := getenv(IndexEnv)
	if v == "" {
		return nil, fmt.Errorf("%d shards but no index: give --shard INDEX/%d, or set %s (Kubernetes sets it in each pod of an Indexed Job)", count, count, IndexEnv)
	}
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", IndexEnv, v, err)
	}
	s := Shard{Index: i, Count: count}
	if err := s.Valid(); err != nil {
		return nil, err
	}
	return &s, nil
}
