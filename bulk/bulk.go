// Package bulk classifies long lists of image files in shards, for several processes or
// machines (the pods of a Kubernetes Indexed Job): the list, read as a stream so that
// memory does not grow with it; the contiguous run of it each shard takes; the part a
// shard writes (its results, then part.json, last); and Merge, which assembles the parts
// into the file one process would have written, byte for byte.
//
// The results themselves (one line per file, text or JSON Lines) are written by the
// caller (catdog predict); bulk only cuts, records and joins them.
package bulk

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
)

// A List is the files a run classifies, in order: the lines of a list file (one path per
// line; empty lines are skipped), or paths given in memory. Its Checksum identifies it, so
// that parts computed from two different lists are never merged.
type List struct {
	path     string   // the list file, or "" for paths
	paths    []string // when given in memory
	n        int
	checksum string
}

// OpenList reads the list file at path once, to count its entries and hash them; Range
// reads it again for each run.
func OpenList(path string) (*List, error) {
	l := &List{path: path}
	h := sha256.New()
	for p, err := range l.read() {
		if err != nil {
			return nil, err
		}
		l.n++
		fmt.Fprintf(h, "%s\n", p)
	}
	l.checksum = hex.EncodeToString(h.Sum(nil))
	return l, nil
}

// ListOf returns a List of paths held in memory.
func ListOf(paths []string) *List {
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s\n", p)
	}
	return &List{paths: paths, n: len(paths), checksum: hex.EncodeToString(h.Sum(nil))}
}

// Len returns the number of entries.
func (l *List) Len() int { return l.n }

// Checksum returns the SHA-256 of the entries, each followed by a newline.
func (l *List) Checksum() string { return l.checksum }

// Range yields the entries [lo, hi) in order, with an error (and nothing more) if the list
// file cannot be read or has changed length.
func (l *List) Range(lo, hi int) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if l.path == "" {
			for _, p := range l.paths[lo:hi] {
				if !yield(p, nil) {
					return
				}
			}
			return
		}
		i := 0
		for p, err := range l.read() {
			if err != nil {
				yield("", err)
				return
			}
			if i >= lo && i < hi && !yield(p, nil) {
				return
			}
			if i++; i >= hi {
				return
			}
		}
		if i < hi {
			yield("", fmt.Errorf("bulk: %s has %d entries now, %d when it was opened", l.path, i, l.n))
		}
	}
}

// read yields the non-empty lines of the list file, without their line ends.
func (l *List) read() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		f, err := os.Open(l.path)
		if err != nil {
			yield("", fmt.Errorf("bulk: %w", err))
			return
		}
		defer f.Close()
		r := bufio.NewReaderSize(f, 1<<16)
		for {
			line, err := r.ReadString('\n')
			if p := strings.TrimRight(line, "\r\n"); p != "" {
				if !yield(p, nil) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				yield("", fmt.Errorf("bulk: %s: %w", l.path, err))
				return
			}
		}
	}
}
