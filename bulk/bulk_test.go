package bulk

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/shard"
)

// TestListRanges checks that a list file read as a stream gives its non-empty lines
// (LF or CRLF ends, with or without a last newline) in order, that the shards' ranges
// cover it once, that a list in memory with the same paths has the same checksum, and that
// a list file that shrank after it was opened is an error, not a short run.
func TestListRanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "list.txt")
	want := []string{"a.jpg", "b c.jpg", "dir/d.png", "e.jpg", "f.jpg", "g.jpg", "h.jpg"}
	body := "a.jpg\r\nb c.jpg\n\ndir/d.png\ne.jpg\nf.jpg\ng.jpg\nh.jpg"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := OpenList(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != len(want) || l.Checksum() != ListOf(want).Checksum() {
		t.Fatalf("%d entries, checksum %.12s; want %d, %.12s", l.Len(), l.Checksum(), len(want), ListOf(want).Checksum())
	}
	var all []string
	for i := range 3 {
		lo, hi := shard.Shard{Index: i, Count: 3}.Range(l.Len())
		for p, err := range l.Range(lo, hi) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, p)
		}
	}
	if !slices.Equal(all, want) {
		t.Errorf("the shards read %q, want %q", all, want)
	}
	if err := os.WriteFile(path, []byte("a.jpg\nb.jpg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var last error
	for _, err := range l.Range(0, l.Len()) {
		last = err
	}
	if last == nil || !strings.Contains(last.Error(), "changed") {
		t.Errorf("a list that shrank: %v, want an error", last)
	}
}

// TestChunkRange checks that the shards take whole chunks of the list, together every file
// once, with more shards than chunks too.
func TestChunkRange(t *testing.T) {
	for _, tc := range []struct{ n, chunk, count int }{{101, 64, 3}, {200, 64, 3}, {60, 64, 8}, {0, 64, 2}, {1000, 7, 9}} {
		next := 0
		for i := range tc.count {
			lo, hi := ChunkRange(shard.Shard{Index: i, Count: tc.count}, tc.n, tc.chunk)
			if lo != next || hi < lo || (lo%tc.chunk != 0 && lo != tc.n) || (hi%tc.chunk != 0 && hi != tc.n) {
				t.Fatalf("%d files in chunks of %d, shard %d/%d: [%d, %d), want whole chunks from %d", tc.n, tc.chunk, i, tc.count, lo, hi, next)
			}
			next = hi
		}
		if next != tc.n {
			t.Errorf("%d files: the shards end at %d", tc.n, next)
		}
	}
}

// TestListChangedSameLength checks that a list file whose entries change but not their
// number, after it was opened, ends its Range with an error.
func TestListChangedSameLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(path, []byte("a.jpg\nb.jpg\nc.jpg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := OpenList(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("a.jpg\nX.jpg\nc.jpg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var last error
	for _, err := range l.Range(0, 1) { // even a shard that reads only the first entry
		last = err
	}
	if last == nil || !strings.Contains(last.Error(), "changed") {
		t.Errorf("a list changed under the shard: %v, want an error", last)
	}
}
