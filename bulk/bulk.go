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

	"github.com/catdog-ml/catdog/internal/shard"
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

// Range yields the entries [lo, hi) in order. A list file is read to its end, hashed on
// the way: if it no longer has the entries it had when opened (another length or another
// checksum), the last thing Range yields is an error, so that no part claims a list it did
// not read.
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
		h := sha256.New()
		i := 0
		for p, err := range l.read() {
			if err != nil {
				yield("", err)
				return
			}
			fmt.Fprintf(h, "%s\n", p)
			if i >= lo && i < hi && !yield(p, nil) {
				return
			}
			i++
		}
		if sum := hex.EncodeToString(h.Sum(nil)); i != l.n || sum != l.checksum {
			yield("", fmt.Errorf("bulk: %s changed while it was read (%d entries, SHA-256 %.12s; %d, %.12s when it was opened)", l.path, i, sum, l.n, l.checksum))
		}
	}
}

// ChunkRange returns the files [lo, hi) of a list of n that shard s takes when the files
// are classified chunk at a time: a contiguous run of the whole list's chunks, so that each
// file is classified in the same chunk, and so in the same batches, as by one process.
func ChunkRange(s shard.Shard, n, chunk int) (lo, hi int) {
	clo, chi := s.Range((n + chunk - 1) / chunk)
	return min(clo*chunk, n), min(chi*chunk, n)
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
