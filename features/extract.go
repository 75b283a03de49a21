package features

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/fetch"
	"github.com/catdog-ml/catdog/internal/half"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/internal/shard"
)

// DefaultBatch is the number of images per onnxruntime run when Options.Batch is 0.
const DefaultBatch = 16

// Options configure Extract.
type Options struct {
	// Backbone names the backbone (backbones.Load): "vgg16", "vgg16-random" or an imported one.
	Backbone string
	// Backbones are passed to backbones.Load (File, CacheDir, NoDownload, Seed...). Its
	// InputSize is set by Extract to the dataset's image size.
	Backbones backbones.Options
	// Data is the prepared dataset folder (catdog prepare --out).
	Data string
	// Out is the features folder; empty means <Data>/features/<Backbone>.
	Out string
	// Provider is the onnxruntime execution provider: auto (default), cuda or cpu.
	Provider string
	// Threads for onnxruntime; 0 means every core.
	Threads int
	// Batch is the number of images per run; 0 means DefaultBatch.
	Batch int
	// DType of the stored features: "float32" (default) or "float16".
	DType string
	// Force extracts even when the cache is valid.
	Force bool
	// Shard, when set, computes only this shard's share of the batches, into its part
	// folder (PartDir); Merge then assembles the parts into Out. See Part.
	Shard *shard.Shard
	// Progress, if set, is called after each batch with the images done over all splits.
	Progress func(done, total int)
	// Notify, if set, receives notices for the user: random weights, CPU fallback.
	Notify func(msg string)
}

// Result is what Extract did.
type Result struct {
	Dir      string
	Info     *Info
	CacheHit bool // the folder already held these features: nothing was computed
	// Backbone is the backbone the features were computed with, as loaded to compute them
	// or to check the cache: a caller that composes it in front of a head (package
	// transfer) need not load and convert it again.
	Backbone *backbones.Backbone
	// Part is the shard's part when Options.Shard was set (Dir is then its folder, and Info
	// describes its arrays).
	Part *Part
}

// Extract computes the backbone's features for every split of the dataset and writes the
// features folder (see the package documentation). The context stops it between batches,
// leaving no partial file behind.
func Extract(ctx context.Context, opts Options) (*Result, error) {
	if opts.Backbone == "" {
		return nil, errors.New("features: no backbone named")
	}
	if opts.Data == "" {
		return nil, errors.New("features: no dataset folder named")
	}
	dtype := opts.DType
	switch dtype {
	case "", "float32":
		dtype = "float32"
	case "float16":
	default:
		return nil, fmt.Errorf("features: dtype %q: want float32 or float16", opts.DType)
	}
	batch := opts.Batch
	if batch == 0 {
		batch = DefaultBatch
	}
	if batch < 0 {
		return nil, fmt.Errorf("features: batch %d: want a positive number", batch)
	}
	provider, err := ort.ParseProvider(opts.Provider)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	notify := opts.Notify
	if notify == nil {
		notify = func(string) {}
	}

	ds, err := datasets.Open(opts.Data)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	defer ds.Close()
	dataSum, err := DataChecksum(ds.Manifest())
	if err != nil {
		return nil, fmt.Errorf("features: %s: %w", opts.Data, err)
	}

	bopts := opts.Backbones
	bopts.InputSize = ds.Size()
	bb, err := backbones.Load(ctx, opts.Backbone, bopts)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	for _, w := range bb.Warnings {
		notify(w)
	}
	spec := bb.Spec
	if len(spec.OutputShape) < 2 {
		return nil, fmt.Errorf("features: backbone %s: unknown feature shape %v", spec.Name, spec.OutputShape)
	}
	featShape := append([]int64(nil), spec.OutputShape[1:]...)
	per := 1
	for _, d := range featShape {
		if d <= 0 {
			return nil, fmt.Errorf("features: backbone %s: feature shape %v is not fixed", spec.Name, spec.OutputShape)
		}
		per *= int(d)
	}

	out := opts.Out
	if out == "" {
		out = filepath.Join(opts.Data, "features", DirName(spec.Name, bopts.CutAt))
	}
	info := &Info{
		Format: Format, Backbone: spec.Name, BackboneSHA256: spec.SHA256, BackboneFile: bb.Path,
		BackboneFiles: bb.Files, Weights: spec.Weights, RandomWeights: spec.Random,
		CutAt: bopts.CutAt, Pool: bopts.Pool, Input: bb.Input, Cut: bb.Output, InputSize: spec.InputSize,
		Layout: string(spec.Layout), Channels: string(spec.Channels), Scale: spec.Scale,
		Mean: spec.Mean[:], Std: spec.Std[:], Preprocess: spec.PreprocessString(),
		Data: opts.Data, DataChecksum: dataSum, ResizeFilter: ds.Manifest().Filter, Classes: ds.Classes(),
		DType: dtype, FeatureShape: featShape, Splits: map[string]SplitInfo{},
	}
	info.Key = cacheKey(info)
	dir := out // where this run writes: the features folder, or the shard's part folder
	if opts.Shard != nil {
		if err := opts.Shard.Valid(); err != nil {
			return nil, fmt.Errorf("features: %w", err)
		}
		dir = PartDir(out, *opts.Shard)
		if !opts.Force {
			if old, err := OpenPart(dir); err == nil && old.Info.Key == info.Key && old.Shard == *opts.Shard && old.Info.Batch == batch {
				return &Result{Dir: dir, Info: &old.Info, CacheHit: true, Backbone: bb, Part: old}, nil
			}
		}
	} else if !opts.Force {
		if old, err := Open(out); err == nil && old.Key == info.Key {
			return &Result{Dir: out, Info: old, CacheHit: true, Backbone: bb}, nil
		}
	}

	env, err := ort.Open()
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	defer env.Close()
	model, err := bb.Model.Encode()
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	sess, err := env.NewSession(model, ort.SessionOptions{
		Provider: provider, Threads: opts.Threads,
		Inputs: []string{bb.Input}, Outputs: []string{bb.Output},
	})
	if err != nil {
		return nil, fmt.Errorf("features: backbone %s: %w", spec.Name, err)
	}
	defer sess.Close()
	if sess.Fallback != "" {
		notify(sess.Fallback)
	}
	info.Provider, info.ORTVersion, info.Batch = sess.Provider, env.Version(), batch

	unlock, err := atomicfile.Lock(dir)
	if err != nil {
		if errors.Is(err, atomicfile.ErrLocked) {
			return nil, fmt.Errorf("features: another catdog extract-features is writing into %s; wait for it, or choose another --out (%w)", dir, err)
		}
		return nil, fmt.Errorf("features: --out %s: %w", dir, err)
	}
	defer unlock()
	if err := atomicfile.CleanTemps(dir); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	// Once onnxruntime is known to work, the old description goes first: a folder without
	// features.json (a part without part.json) is never taken as a cache, whatever arrays
	// it holds.
	for _, name := range []string{InfoFile, PartFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("features: %w", err)
		}
	}

	// The rows of each split this run computes: all of them, or the shard's batches.
	sizes := partSizes(ds)
	from, to := map[string]int{}, sizes
	if opts.Shard != nil {
		from, to = batchRanges(sizes, batch, *opts.Shard)
	}
	x := &extractor{ds: ds, sess: sess, spec: spec, batch: batch, dtype: dtype, featShape: featShape, per: per}
	for _, split := range datasets.SplitNames() {
		x.total += to[split] - from[split]
	}
	x.progress = opts.Progress
	start := time.Now()
	for _, split := range datasets.SplitNames() {
		si, err := x.split(ctx, dir, split, from[split], to[split])
		if err != nil {
			return nil, fmt.Errorf("features: %s split: %w", split, err)
		}
		info.Splits[split] = si
	}
	info.Seconds = time.Since(start).Seconds()
	if info.Seconds > 0 {
		info.ImagesPerSecond = float64(x.total) / info.Seconds
	}
	if opts.Shard != nil {
		p := &Part{Format: Format, Shard: *opts.Shard, From: from, SplitSizes: sizes, Info: *info}
		if err := writeDescription(dir, PartFile, p.Info.sums(), p); err != nil {
			return nil, fmt.Errorf("features: %w", err)
		}
		return &Result{Dir: dir, Info: &p.Info, Backbone: bb, Part: p}, nil
	}
	if err := writeDescription(out, InfoFile, info.sums(), info); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	return &Result{Dir: out, Info: info, Backbone: bb}, nil
}

type extractor struct {
	ds        *datasets.Dataset
	sess      *ort.Session
	spec      backbones.Spec
	batch     int
	dtype     string
	featShape []int64
	per       int // feature values per image
	total     int
	done      int
	progress  func(done, total int)
}

// split streams the features of one split's rows [from, to) to <split>_features.npy in
// batches from the first, then writes their labels.
func (x *extractor) split(ctx context.Context, out, split string, from, to int) (SplitInfo, error) {
	rows := x.ds.Split(split)[from:to]
	n := len(rows)
	shape := []int{n}
	for _, d := range x.featShape {
		shape = append(shape, int(d))
	}
	si := SplitInfo{Count: n, Features: FeaturesFile(split), Labels: LabelsFile(split), Shape: shape}
	f, err := atomicfile.Create(filepath.Join(out, si.Features))
	if err != nil {
		return si, err
	}
	defer f.Abort()
	dt := npy.Float32
	if x.dtype == "float16" {
		dt = npy.Float16
	}
	h := sha256.New()
	w, err := npy.NewWriter(io.MultiWriter(f, h), dt, shape)
	if err != nil {
		return si, err
	}
	labels := make([]uint8, 0, n)
	size := x.ds.Size()
	img := size * size * 3
	in := make([]float32, x.batch*img)
	pix := make([]uint8, x.batch*img)
	all := x.ds.Labels()
	var raw []byte
	for b0 := 0; b0 < n; b0 += x.batch {
		if err := ctx.Err(); err != nil {
			return si, err
		}
		idx := rows[b0:min(b0+x.batch, n)]
		k := len(idx)
		if err := x.ds.ReadRows(pix[:k*img], idx); err != nil {
			return si, err
		}
		for i := 0; i < k; i++ {
			x.spec.FillInput(in[i*img:(i+1)*img], pix[i*img:(i+1)*img])
		}
		dims := []int64{int64(k), 3, int64(size), int64(size)}
		if x.spec.Layout == backbones.NHWC {
			dims = []int64{int64(k), int64(size), int64(size), 3}
		}
		feats, err := x.run(in[:k*img], dims)
		if err != nil {
			return si, err
		}
		if len(feats) != k*x.per {
			return si, fmt.Errorf("the backbone gave %d values for %d images, want %d x %v", len(feats), k, k, x.featShape)
		}
		raw = encode(raw[:0], feats, x.dtype)
		if _, err := w.Write(raw); err != nil {
			return si, err
		}
		for _, r := range idx {
			labels = append(labels, all[r])
		}
		x.done += k
		if x.progress != nil {
			x.progress(x.done, x.total)
		}
	}
	if err := w.Close(); err != nil {
		return si, err
	}
	if err := f.Commit(); err != nil {
		return si, err
	}
	si.FeaturesSHA256 = hex.EncodeToString(h.Sum(nil))
	lp := filepath.Join(out, si.Labels)
	if err := npy.WriteFile(lp, []int{n}, labels); err != nil {
		return si, err
	}
	if si.LabelsSHA256, err = fetch.SHA256(lp); err != nil {
		return si, err
	}
	return si, nil
}

// run feeds one batch and returns the features, owned by the caller's next encode.
func (x *extractor) run(in []float32, dims []int64) ([]float32, error) {
	t, err := onnxruntime.NewTensor(onnxruntime.NewShape(dims...), in)
	if err != nil {
		return nil, err
	}
	defer t.Destroy()
	outs := []onnxruntime.Value{nil}
	if err := x.sess.Run([]onnxruntime.Value{t}, outs); err != nil {
		return nil, err
	}
	defer outs[0].Destroy()
	ft, ok := outs[0].(*onnxruntime.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("the backbone's output is %T, want float32", outs[0])
	}
	return append([]float32(nil), ft.GetData()...), nil
}

// encode appends the little-endian bytes of v as float32 or float16 to dst.
func encode(dst []byte, v []float32, dtype string) []byte {
	if dtype == "float16" {
		for _, f := range v {
			dst = binary.LittleEndian.AppendUint16(dst, half.FromFloat32(f))
		}
		return dst
	}
	for _, f := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
	}
	return dst
}
