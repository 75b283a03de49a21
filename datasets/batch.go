package datasets

import (
	"fmt"

	"github.com/catdog-ml/catdog/internal/imgutil"
)

// All names every row, in order, for Batches.
const All = "all"

// BatchOptions configures Batches.
type BatchOptions struct {
	Size     int    // images per batch; 0 means 32
	Shuffle  bool   // shuffle the split's rows, from Seed
	Seed     uint64 // for Shuffle: use a new seed per epoch for a new order
	DropLast bool   // leave out a last, smaller batch
}

// Batches iterates over a split in batches:
//
//	it := ds.Batches(datasets.Train, datasets.BatchOptions{Size: 32, Shuffle: true, Seed: epoch})
//	for it.Next() {
//		b := it.Batch()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
type Batches struct {
	d     *Dataset
	order []int64
	size  int
	pos   int
	drop  bool
	cur   *Batch
	err   error
}

// Batches returns an iterator over the rows of split (Train, Valid, Test, or All).
func (d *Dataset) Batches(split string, o BatchOptions) *Batches {
	it := &Batches{d: d, size: o.Size, drop: o.DropLast}
	if it.size <= 0 {
		it.size = 32
	}
	var rows []int64
	if split == All {
		rows = make([]int64, d.Len())
		for i := range rows {
			rows[i] = int64(i)
		}
	} else if s, ok := d.splits[split]; ok {
		rows = append([]int64(nil), s...)
	} else {
		it.err = fmt.Errorf("unknown split %q (want train, valid, test or all)", split)
		return it
	}
	if o.Shuffle {
		shuffle(newRNG(o.Seed), rows)
	}
	it.order = rows
	return it
}

// Len returns the number of batches the iterator yields in all.
func (it *Batches) Len() int {
	n := len(it.order) / it.size
	if !it.drop && len(it.order)%it.size != 0 {
		n++
	}
	return n
}

// Next reads the next batch and reports whether there is one. Each batch has its own
// memory, so it may be kept after Next is called again.
func (it *Batches) Next() bool {
	if it.err != nil || it.pos >= len(it.order) {
		return false
	}
	end := min(it.pos+it.size, len(it.order))
	if it.drop && end-it.pos < it.size {
		return false
	}
	idx := it.order[it.pos:end]
	it.pos = end
	s := it.d.Size()
	b := &Batch{Size: s, Index: idx, Images: make([]uint8, len(idx)*s*s*3), Labels: make([]uint8, len(idx))}
	if err := it.d.ReadRows(b.Images, idx); err != nil {
		it.err = err
		return false
	}
	for k, j := range idx {
		b.Labels[k] = it.d.labels[j]
	}
	it.cur = b
	return true
}

// Batch returns the batch read by the last successful Next.
func (it *Batches) Batch() *Batch { return it.cur }

// Err returns the error that stopped the iteration, if any.
func (it *Batches) Err() error { return it.err }

// Batch is a set of images with their labels.
type Batch struct {
	Size   int     // images are Size x Size x 3
	Images []uint8 // N x Size x Size x 3, RGB, HWC
	Labels []uint8 // N labels, 0 = dog, 1 = cat
	Index  []int64 // N row numbers in the dataset
}

// Len returns the number of images in the batch.
func (b *Batch) Len() int { return len(b.Labels) }

// Layout is the order of a float tensor's axes.
type Layout int

// Layouts.
const (
	NHWC Layout = iota // batch, height, width, channel (the stored order)
	NCHW               // batch, channel, height, width (ONNX, PyTorch)
)

// Normalize says how to turn pixels into floats: v = (pixel*Scale - Mean[c]) / Std[c],
// channels in RGB order. A zero Scale means 1 and a zero Std means 1, so the zero value
// gives the raw 0..255 values in NHWC.
type Normalize struct {
	Layout Layout
	Scale  float32
	Mean   [3]float32
	Std    [3]float32
}

// ImageNet returns the normalisation of torchvision's ImageNet models (pixels scaled to
// 0..1, then mean and standard deviation per channel), in NCHW.
func ImageNet() Normalize {
	return Normalize{Layout: NCHW, Scale: 1.0 / 255, Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}
}

// Float32 returns the batch's images as float32, normalised and laid out as n says. Only
// this batch is converted: never hold a whole dataset as floats.
func (b *Batch) Float32(n Normalize) []float32 {
	return b.Float32Into(nil, n)
}

// Float32Into is Float32 writing into dst, grown if needed.
func (b *Batch) Float32Into(dst []float32, n Normalize) []float32 {
	total := len(b.Images)
	if cap(dst) < total {
		dst = make([]float32, total)
	}
	dst = dst[:total]
	scale := n.Scale
	if scale == 0 {
		scale = 1
	}
	// v = p*mul[c] + add[c]
	var mul, add [3]float32
	for c := range 3 {
		std := n.Std[c]
		if std == 0 {
			std = 1
		}
		mul[c] = scale / std
		add[c] = -n.Mean[c] / std
	}
	imgutil.ToFloat32(dst, b.Images, b.Size*b.Size, imgutil.Affine{Mul: mul, Add: add, Src: [3]int{0, 1, 2}, HWC: n.Layout != NCHW})
	return dst
}
