package bulk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/fetch"
	"github.com/catdog-ml/catdog/internal/shard"
)

// Format is the version of the part layout.
const Format = 1

// PartFile is the description a shard writes last in its part folder; ResultsFile holds
// its results.
const (
	PartFile    = "part.json"
	ResultsFile = "results"
)

// PartsDir returns the folder that the shards of a run writing the results file out put
// their parts into: out + ".parts".
func PartsDir(out string) string { return out + ".parts" }

// PartDir returns the folder of shard s's part: PartsDir(out)/INDEX-of-COUNT.
func PartDir(out string, s shard.Shard) string { return filepath.Join(PartsDir(out), s.Name()) }

// A Tally counts the files whose folder names their class (see catdog predict) and how
// many of them a run classified right: overall, among its top k, and per class. Tallies of
// the parts add up to the whole run's.
type Tally struct {
	N        int   `json:"n"`
	Right    int   `json:"right"`
	InTop    int   `json:"in_top"`
	PerN     []int `json:"per_n"`
	PerRight []int `json:"per_right"`
}

// Add adds t2 to t.
func (t *Tally) Add(t2 Tally) {
	t.N, t.Right, t.InTop = t.N+t2.N, t.Right+t2.Right, t.InTop+t2.InTop
	for len(t.PerN) < len(t2.PerN) {
		t.PerN, t.PerRight = append(t.PerN, 0), append(t.PerRight, 0)
	}
	for k := range t2.PerN {
		t.PerN[k] += t2.PerN[k]
		t.PerRight[k] += t2.PerRight[k]
	}
}

// A Part is part.json: what one shard classified and what it wrote.
type Part struct {
	Format int         `json:"format"`
	Shard  shard.Shard `json:"shard"`
	// List and Files identify the whole list (its checksum and length); From and Count the
	// shard's run of it.
	List  string `json:"list_sha256"`
	Files int    `json:"files"`
	From  int    `json:"from"`
	Count int    `json:"count"`
	// Chunk is the number of files classified at a time: the shards take whole chunks
	// (ChunkRange).
	Chunk int `json:"chunk"`
	// Settings names everything else the results depend on (the model's checksum, the
	// output format, the threshold...), as the caller writes it: parts of different
	// settings are never merged.
	Settings string `json:"settings"`
	// Provider is the execution provider the shard's model ran on (cpu, cuda), as
	// onnxruntime gave it: parts of different providers are never merged.
	Provider string `json:"provider"`
	// Failed counts the files that could not be classified (their errors are in the
	// results, or were reported by the shard), Tally the accuracy counts.
	Failed int   `json:"failed"`
	Tally  Tally `json:"tally"`
	// Labels are the model's class names and Top the k of the top-k accuracy (0: none), for
	// the merge to print the accuracy as one process does.
	Labels []string `json:"labels,omitempty"`
	Top    int      `json:"top,omitempty"`
	// Results is the results file's SHA-256 and Bytes its size.
	Results string `json:"results_sha256"`
	Bytes   int64  `json:"bytes"`
}

// matches says why p is not a part of the run q describes ("" when it is).
func (p *Part) matches(q *Part) string {
	switch {
	case p.Shard.Count != q.Shard.Count:
		return fmt.Sprintf("one of %d shards, not %d", p.Shard.Count, q.Shard.Count)
	case p.Chunk != q.Chunk:
		return fmt.Sprintf("chunks of %d files, not %d", p.Chunk, q.Chunk)
	case p.List != q.List || p.Files != q.Files:
		return fmt.Sprintf("another list of files (%d files, SHA-256 %.12s; not %d, %.12s)", p.Files, p.List, q.Files, q.List)
	case p.Settings != q.Settings:
		return fmt.Sprintf("other settings (%s; not %s)", p.Settings, q.Settings)
	case p.Provider != q.Provider:
		return fmt.Sprintf("computed on %s, not %s (execution providers round differently)", p.Provider, q.Provider)
	}
	return ""
}

// OpenPart reads the part in dir and checks its results file against the checksum it
// records. A folder without part.json is a shard that did not finish.
func OpenPart(dir string) (*Part, error) {
	data, err := os.ReadFile(filepath.Join(dir, PartFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("bulk: part %s is incomplete (no %s: its shard was stopped before the end); run that shard again", dir, PartFile)
	}
	if err != nil {
		return nil, fmt.Errorf("bulk: %w", err)
	}
	var p Part
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("bulk: %s: %w", filepath.Join(dir, PartFile), err)
	}
	if p.Format != Format {
		return nil, fmt.Errorf("bulk: part %s has format %d, this catdog reads %d: run that shard again", dir, p.Format, Format)
	}
	if err := p.Shard.Valid(); err != nil {
		return nil, fmt.Errorf("bulk: part %s: %w", dir, err)
	}
	if p.Chunk < 1 || len(p.Tally.PerN) != len(p.Tally.PerRight) {
		return nil, fmt.Errorf("bulk: part %s: %s is malformed (chunk %d, tally of %d and %d classes)", dir, PartFile, p.Chunk, len(p.Tally.PerN), len(p.Tally.PerRight))
	}
	results := filepath.Join(dir, ResultsFile)
	st, err := os.Stat(results)
	if err != nil {
		return nil, fmt.Errorf("bulk: part %s: %w", dir, err)
	}
	sum, err := fetch.SHA256(results)
	if err != nil {
		return nil, fmt.Errorf("bulk: part %s: %w", dir, err)
	}
	if sum != p.Results || st.Size() != p.Bytes {
		return nil, fmt.Errorf("bulk: part %s: %s changed since its shard wrote it (SHA-256 %.12s, recorded %.12s): run that shard again", dir, ResultsFile, sum, p.Results)
	}
	return &p, nil
}

// A PartWriter writes a shard's results into its part folder: Write the results, then
// Commit with the part's description, or Close to leave no part.
type PartWriter struct {
	dir    string
	f      *atomicfile.File
	h      hash.Hash
	n      int64
	unlock func()
	done   bool
}

// CreatePart starts the part of shard s of a run writing out: it takes the part folder's
// lock and removes any part.json there first, so that a part half-written by a killed
// shard is never taken for a finished one.
func CreatePart(out string, s shard.Shard) (*PartWriter, error) {
	dir := PartDir(out, s)
	unlock, err := atomicfile.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("bulk: %w", err)
	}
	if err := atomicfile.CleanTemps(dir); err != nil {
		unlock()
		return nil, fmt.Errorf("bulk: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, PartFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		unlock()
		return nil, fmt.Errorf("bulk: %w", err)
	}
	f, err := atomicfile.Create(filepath.Join(dir, ResultsFile))
	if err != nil {
		unlock()
		return nil, fmt.Errorf("bulk: %w", err)
	}
	return &PartWriter{dir: dir, f: f, h: sha256.New(), unlock: unlock}, nil
}

// Dir returns the part folder.
func (w *PartWriter) Dir() string { return w.dir }

// Write writes results.
func (w *PartWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	w.h.Write(b[:n])
	w.n += int64(n)
	return n, err
}

// Commit puts the results in place and writes p (its checksum and size filled in) as
// part.json, last.
func (w *PartWriter) Commit(p *Part) error {
	if w.done {
		return errors.New("bulk: part committed or closed already")
	}
	w.done = true
	defer w.unlock()
	if err := w.f.Commit(); err != nil {
		return fmt.Errorf("bulk: %w", err)
	}
	p.Format, p.Results, p.Bytes = Format, hex.EncodeToString(w.h.Sum(nil)), w.n
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(w.dir, PartFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("bulk: %w", err)
	}
	return nil
}

// Close abandons an uncommitted part: its results go, no part.json is written. After
// Commit it does nothing.
func (w *PartWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.f.Abort()
	w.unlock()
	return err
}

// Merge assembles the parts of a sharded run into out: their results concatenated in
// shard order, the file one process would have written (byte for byte), written
// atomically. It refuses, naming them, parts that are missing or incomplete, duplicated,
// changed since their shard wrote them, or foreign (another list, other settings, another
// number of shards; shards, when not 0, is the number expected). It returns a Part that
// sums them up: Files, Failed and Tally for the whole run. The parts stay.
func Merge(ctx context.Context, out string, shards int) (*Part, error) {
	dirs, err := filepath.Glob(filepath.Join(PartsDir(out), "*"))
	if err != nil {
		return nil, fmt.Errorf("bulk: %w", err)
	}
	sort.Strings(dirs)
	var parts []*Part
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		p, err := OpenPart(d)
		if err != nil {
			return nil, err
		}
		if filepath.Base(d) != p.Shard.Name() {
			return nil, fmt.Errorf("bulk: %s holds part %s: a copy or a duplicate; remove it", d, p.Shard.Name())
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("bulk: no parts in %s (run the shards first)", PartsDir(out))
	}
	first := parts[0]
	if shards != 0 && first.Shard.Count != shards {
		return nil, fmt.Errorf("bulk: %s is one of %d shards, not of the %d expected", first.Shard.Name(), first.Shard.Count, shards)
	}
	byIndex := make([]*Part, first.Shard.Count)
	for _, p := range parts {
		if why := p.matches(first); why != "" {
			return nil, fmt.Errorf("bulk: part %s is foreign to %s: %s; remove the stale parts", p.Shard.Name(), first.Shard.Name(), why)
		}
		byIndex[p.Shard.Index] = p
	}
	var missing []string
	for i, p := range byIndex {
		if p == nil {
			missing = append(missing, shard.Shard{Index: i, Count: first.Shard.Count}.Name())
			continue
		}
		if lo, hi := ChunkRange(p.Shard, p.Files, p.Chunk); p.From != lo || p.Count != hi-lo {
			return nil, fmt.Errorf("bulk: part %s holds files %d..+%d, shard %s takes %d..%d", p.Shard.Name(), p.From, p.Count, p.Shard, lo, hi)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bulk: %s: missing part(s) %s of %d; run those shards", PartsDir(out), strings.Join(missing, ", "), first.Shard.Count)
	}
	f, err := atomicfile.Create(out)
	if err != nil {
		return nil, fmt.Errorf("bulk: %w", err)
	}
	defer f.Abort()
	sum := &Part{Format: Format, Shard: shard.Shard{Count: first.Shard.Count}, List: first.List, Files: first.Files, Count: first.Files,
		Chunk: first.Chunk, Settings: first.Settings, Provider: first.Provider, Labels: first.Labels, Top: first.Top}
	for _, p := range byIndex {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := copyChecked(f, filepath.Join(PartDir(out, p.Shard), ResultsFile), p.Results); err != nil {
			return nil, err
		}
		sum.Failed += p.Failed
		sum.Tally.Add(p.Tally)
	}
	if err := f.Commit(); err != nil {
		return nil, fmt.Errorf("bulk: %w", err)
	}
	return sum, nil
}

// copyChecked copies the file at path to w, refusing it if its SHA-256 is not want.
func copyChecked(w io.Writer, path, want string) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bulk: %w", err)
	}
	defer src.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), src); err != nil {
		return fmt.Errorf("bulk: %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("bulk: %s changed while it was merged (SHA-256 %.12s, recorded %.12s): run that shard again", path, got, want)
	}
	return nil
}
