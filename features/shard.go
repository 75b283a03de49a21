package features

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/internal/shard"
	"github.com/catdog-ml/catdog/internal/verify"
)

// PartsDir is the folder, inside a features folder, that sharded extractions write their
// parts into: one folder per shard, named after it ("0-of-4").
const PartsDir = "parts"

// PartFile is the description a shard writes last in its part folder.
const PartFile = "part.json"

// PartDir returns the folder shard s of an extraction into out writes.
func PartDir(out string, s shard.Shard) string {
	return filepath.Join(out, PartsDir, s.Name())
}

// A Part is part.json: one shard's share of an extraction. The shard takes a contiguous run
// of the extraction's batches (every split's batches, train, valid then test, in order), so
// that each image is computed in the same batch, at the same place, as by one process, and
// the merged arrays are the same bytes. Info describes the part's own arrays (their Count
// and checksums); From gives where each split's rows start in the whole split.
type Part struct {
	Format int         `json:"format"`
	Shard  shard.Shard `json:"shard"`
	// From is the first row of each split the part holds; SplitSizes the whole splits.
	From       map[string]int `json:"from"`
	SplitSizes map[string]int `json:"split_sizes"`
	Info       Info           `json:"info"`
}

// batchRanges returns the rows [from, to) of each split that shard s takes when the splits
// of the given sizes are run in batches of batch images: a contiguous run of the whole
// extraction's batches.
func batchRanges(sizes map[string]int, batch int, s shard.Shard) (from, to map[string]int) {
	from, to = map[string]int{}, map[string]int{}
	total := 0
	for _, split := range datasets.SplitNames() {
		total += (sizes[split] + batch - 1) / batch
	}
	lo, hi := s.Range(total)
	off := 0
	for _, split := range datasets.SplitNames() {
		n := sizes[split]
		nb := (n + batch - 1) / batch
		b0, b1 := min(max(lo-off, 0), nb), min(max(hi-off, 0), nb)
		from[split], to[split] = min(b0*batch, n), min(b1*batch, n)
		if b1 <= b0 {
			from[split], to[split] = 0, 0
		}
		off += nb
	}
	return from, to
}

// OpenPart reads part.json in dir and checks the part's arrays as Open checks a features
// folder's. A folder without part.json is a part whose extraction did not finish.
func OpenPart(dir string) (*Part, error) {
	data, err := os.ReadFile(filepath.Join(dir, PartFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("features: part %s is incomplete (no %s: its extraction was stopped before the end); run that shard again", dir, PartFile)
	}
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	var p Part
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("features: %s: %w", filepath.Join(dir, PartFile), err)
	}
	if p.Format != Format || p.Info.Format != Format {
		return nil, fmt.Errorf("features: part %s has format %d, this catdog reads %d: run that shard again", dir, p.Format, Format)
	}
	if err := p.Shard.Valid(); err != nil {
		return nil, fmt.Errorf("features: part %s: %w", dir, err)
	}
	if err := p.Info.check(dir); err != nil {
		return nil, err
	}
	if err := verify.Files(dir, p.Info.sums()); err != nil {
		return nil, fmt.Errorf("features: part %s: %w (run that shard again)", dir, err)
	}
	return &p, nil
}

// writeDescription stamps the arrays of dir whose checksums sums gives (verify.Record), then
// writes v as the folder's description, name (features.json or part.json), last and
// atomically: a reader finds it only once every array it names is in place.
func writeDescription(dir, name string, sums map[string]string, v any) error {
	if err := verify.Record(dir, sums); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, name), append(data, '\n'), 0o644)
}

// Merge assembles the parts that the shards of one extraction wrote into out/parts into
// the features folder out: the same arrays, byte for byte, as one process extracting with
// the same batch size writes, and features.json, whose Seconds add up the shards' and
// whose Shards says how many there were. It refuses, naming them, parts that are missing or
// incomplete, duplicated, or foreign: computed by another backbone, from another dataset or
// with other settings, cut into another number of shards or run in other batches. The
// parts stay (merging again gives the same files); remove out/parts when done. shards,
// when not 0, is the number of shards the parts must come from.
func Merge(ctx context.Context, out string, shards int) (*Info, error) {
	dirs, err := filepath.Glob(filepath.Join(out, PartsDir, "*"))
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
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
		if name := filepath.Base(d); name != p.Shard.Name() {
			return nil, fmt.Errorf("features: %s holds part %s: a copy or a duplicate; remove it", d, p.Shard.Name())
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("features: no parts in %s (run extract-features --shard INDEX/COUNT first)", filepath.Join(out, PartsDir))
	}
	first := parts[0]
	count := first.Shard.Count
	if shards != 0 && count != shards {
		return nil, fmt.Errorf("features: %s is one of %d shards, not of the %d expected", filepath.Join(PartsDir, first.Shard.Name()), count, shards)
	}
	byIndex := make([]*Part, count)
	for _, p := range parts {
		name := filepath.Join(PartsDir, p.Shard.Name())
		if p.Shard.Count != count {
			return nil, fmt.Errorf("features: %s is one of %d shards, %s one of %d: parts of two runs; remove the stale ones", filepath.Join(PartsDir, first.Shard.Name()), count, name, p.Shard.Count)
		}
		if why := foreign(&first.Info, &p.Info); why != "" {
			return nil, fmt.Errorf("features: %s is foreign to %s: %s", name, filepath.Join(PartsDir, first.Shard.Name()), why)
		}
		byIndex[p.Shard.Index] = p
	}
	var missing []string
	for i, p := range byIndex {
		if p == nil {
			missing = append(missing, shard.Shard{Index: i, Count: count}.Name())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("features: %s: missing part(s) %s of %d; run those shards", filepath.Join(out, PartsDir), strings.Join(missing, ", "), count)
	}
	for _, p := range byIndex {
		from, to := batchRanges(first.SplitSizes, first.Info.Batch, p.Shard)
		for _, split := range datasets.SplitNames() {
			if p.SplitSizes[split] != first.SplitSizes[split] || p.From[split] != from[split] || p.Info.Splits[split].Count != to[split]-from[split] {
				return nil, fmt.Errorf("features: part %s holds rows %d..+%d of the %s split, this extraction's shard %s takes %d..%d", p.Shard.Name(), p.From[split], p.Info.Splits[split].Count, split, p.Shard, from[split], to[split])
			}
		}
	}

	unlock, err := atomicfile.Lock(out)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	defer unlock()
	if err := atomicfile.CleanTemps(out); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	if err := os.Remove(filepath.Join(out, InfoFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("features: %w", err)
	}
	info := first.Info
	info.Splits, info.Seconds, info.ImagesPerSecond, info.Shards = map[string]SplitInfo{}, 0, 0, count
	total := 0
	for _, p := range byIndex {
		info.Seconds += p.Info.Seconds
	}
	dt := npy.Float32
	if info.DType == "float16" {
		dt = npy.Float16
	}
	for _, split := range datasets.SplitNames() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := first.SplitSizes[split]
		total += n
		shape := []int{n}
		for _, d := range info.FeatureShape {
			shape = append(shape, int(d))
		}
		si := SplitInfo{Count: n, Features: FeaturesFile(split), Labels: LabelsFile(split), Shape: shape}
		if si.FeaturesSHA256, err = concat(out, si.Features, dt, shape, byIndex); err != nil {
			return nil, fmt.Errorf("features: %s split: %w", split, err)
		}
		if si.LabelsSHA256, err = concat(out, si.Labels, npy.Uint8, []int{n}, byIndex); err != nil {
			return nil, fmt.Errorf("features: %s split: %w", split, err)
		}
		info.Splits[split] = si
	}
	if info.Seconds > 0 {
		info.ImagesPerSecond = float64(total) / info.Seconds
	}
	if err := writeDescription(out, InfoFile, info.sums(), &info); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	return &info, nil
}

// foreign says why part b was not computed as part a was ("" when it was).
func foreign(a, b *Info) string {
	switch {
	case a.Backbone != b.Backbone || a.BackboneSHA256 != b.BackboneSHA256:
		return fmt.Sprintf("backbone %s (SHA-256 %.12s), not %s (%.12s)", b.Backbone, b.BackboneSHA256, a.Backbone, a.BackboneSHA256)
	case a.DataChecksum != b.DataChecksum:
		return fmt.Sprintf("another dataset (checksum %.12s, not %.12s)", b.DataChecksum, a.DataChecksum)
	case a.DType != b.DType:
		return fmt.Sprintf("features stored as %s, not %s", b.DType, a.DType)
	case a.Provider != b.Provider:
		return fmt.Sprintf("computed on %s, not %s (execution providers round differently)", b.Provider, a.Provider)
	case a.Batch != b.Batch:
		return fmt.Sprintf("batches of %d, not %d (a shard's batches are the whole run's)", b.Batch, a.Batch)
	case a.Key != b.Key:
		return fmt.Sprintf("other settings (cut, input size, preprocessing or classes: cache key %.12s, not %.12s)", b.Key, a.Key)
	}
	return ""
}

// concat writes out/name, an array of shape, from the same file of every part, in order:
// a new header, then each part's data, each part file hashed on the way and refused if it
// no longer has the checksum its part.json records. It returns the new file's SHA-256.
func concat(out, name string, dt npy.DType, shape []int, parts []*Part) (string, error) {
	f, err := atomicfile.Create(filepath.Join(out, name))
	if err != nil {
		return "", err
	}
	defer f.Abort()
	h := sha256.New()
	w, err := npy.NewWriter(io.MultiWriter(f, h), dt, shape)
	if err != nil {
		return "", err
	}
	for _, p := range parts {
		if err := copyPart(w, PartDir(out, p.Shard), name, p.Info.sums()[name]); err != nil {
			return "", err
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := f.Commit(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyPart copies the data of the array dir/name to w, checking the file's SHA-256.
func copyPart(w io.Writer, dir, name, want string) error {
	path := filepath.Join(dir, name)
	a, err := npy.Open(path)
	if err != nil {
		return err
	}
	off := a.DataOffset()
	a.Close()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, f, off); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := io.Copy(io.MultiWriter(w, h), f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s changed since its part was written (SHA-256 %.12s, recorded %.12s): run that shard again", path, got, want)
	}
	return nil
}

// partSizes returns the sizes of the dataset's splits.
func partSizes(ds *datasets.Dataset) map[string]int {
	m := map[string]int{}
	for _, split := range datasets.SplitNames() {
		m[split] = len(ds.Split(split))
	}
	return m
}
