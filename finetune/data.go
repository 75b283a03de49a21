package finetune

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/internal/half"
	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/internal/npy"
)

// The splits of a dataset.
const (
	Train = "train"
	Valid = "valid"
	Test  = "test"
)

// source hands out training samples as float32 by split and row.
type source interface {
	// shape is the shape of one sample as the model sees it.
	shape() []int
	// len is the number of samples in split.
	len(split string) int
	// labels returns the labels of split, 0 = dog, 1 = cat.
	labels(split string) []uint8
	// read fills x (len(rows) samples) and y with the samples at positions rows of split;
	// aug, when not nil, changes raw images before conversion.
	read(split string, rows []int, x, y []float32, aug func(raw []uint8, n int)) error
	close() error
}

// limited is a source cut to at most n samples per split, taken evenly spaced through
// each split so that both classes stay represented (prepared splits list cats, then dogs).
type limited struct {
	source
	rows map[string][]int
}

func limit(src source, n int) source {
	if n <= 0 {
		return src
	}
	l := &limited{source: src, rows: map[string][]int{}}
	for _, sp := range []string{Train, Valid, Test} {
		total := src.len(sp)
		k := min(n, total)
		rows := make([]int, k)
		for i := range rows {
			rows[i] = i * total / k
		}
		l.rows[sp] = rows
	}
	return l
}

func (l *limited) len(split string) int { return len(l.rows[split]) }

func (l *limited) labels(split string) []uint8 {
	all := l.source.labels(split)
	out := make([]uint8, len(l.rows[split]))
	for i, r := range l.rows[split] {
		out[i] = all[r]
	}
	return out
}

func (l *limited) read(split string, rows []int, x, y []float32, aug func([]uint8, int)) error {
	m := make([]int, len(rows))
	for i, r := range rows {
		m[i] = l.rows[split][r]
	}
	return l.source.read(split, m, x, y, aug)
}

// imageSource streams the uint8 RGB images of a prepared dataset (datasets.Open, which
// checks the folder first) and converts each batch to float32 NCHW scaled by ImageScale.
type imageSource struct {
	ds     *datasets.Dataset
	size   int
	lab    []uint8
	splits map[string][]int64
	raw    []uint8
}

// ImageScale is the factor from uint8 pixel values to the network's input (x/255); the
// exported model applies it in its graph.
const ImageScale = float32(1.0 / 255)

func openImages(dir string) (*imageSource, error) {
	ds, err := datasets.Open(dir)
	if err != nil {
		return nil, err
	}
	s := &imageSource{ds: ds, size: ds.Size(), lab: ds.Labels(), splits: map[string][]int64{}}
	for _, sp := range datasets.SplitNames() {
		s.splits[sp] = ds.Split(sp)
	}
	return s, nil
}

func (s *imageSource) shape() []int         { return []int{3, s.size, s.size} }
func (s *imageSource) len(split string) int { return len(s.splits[split]) }
func (s *imageSource) close() error         { return s.ds.Close() }
func (s *imageSource) labels(split string) []uint8 {
	out := make([]uint8, len(s.splits[split]))
	for i, r := range s.splits[split] {
		out[i] = s.lab[r]
	}
	return out
}

func (s *imageSource) read(split string, rows []int, x, y []float32, aug func([]uint8, int)) error {
	per := s.size * s.size * 3
	if cap(s.raw) < len(rows)*per {
		s.raw = make([]uint8, len(rows)*per)
	}
	raw := s.raw[:len(rows)*per]
	idx := s.splits[split]
	want := make([]int64, len(rows))
	for i, r := range rows {
		want[i] = idx[r]
		y[i] = float32(s.lab[idx[r]])
	}
	if err := s.ds.ReadRows(raw, want); err != nil {
		return err
	}
	if aug != nil {
		aug(raw, len(rows))
	}
	imgutil.ToFloat32(x[:len(rows)*per], raw, s.size*s.size, imgutil.Scaled(ImageScale))
	return nil
}

// featureSource reads cached backbone features, `<split>_features.npy` (float32 or
// float16, (n, ...)) and `<split>_labels.npy` (uint8, (n,)), row by row.
type featureSource struct {
	files  map[string]*npy.File
	lab    map[string][]uint8
	sample []int
	buf    []byte
}

// openFeatures opens the features of dir, joined with those of the join folders when given
// (see joinedSource). infos holds the folders' features.json, opened (and so checked) by
// features.Open; a folder missing from it is opened here.
func openFeatures(infos map[string]*features.Info, dir string, join ...string) (source, error) {
	info := func(d string) (*features.Info, error) {
		if i, ok := infos[d]; ok {
			return i, nil
		}
		return features.Open(d)
	}
	fi, err := info(dir)
	if err != nil {
		return nil, err
	}
	first, err := openFeatureDir(dir, fi)
	if err != nil || len(join) == 0 {
		return first, err
	}
	j := &joinedSource{parts: []*featureSource{first}}
	want := fi.DataChecksum
	for _, d := range join {
		di, err := info(d)
		if err != nil {
			j.close()
			return nil, err
		}
		f, err := openFeatureDir(d, di)
		if err != nil {
			j.close()
			return nil, err
		}
		j.parts = append(j.parts, f)
		if got := di.DataChecksum; got != want {
			j.close()
			return nil, fmt.Errorf("features in %s and %s come from different datasets (data checksums %.12s and %.12s): extract both from one", dir, d, want, got)
		}
		for _, sp := range []string{Train, Valid, Test} {
			if string(f.lab[sp]) != string(first.lab[sp]) {
				j.close()
				return nil, fmt.Errorf("features in %s and %s have different %s labels: extract both from one dataset", dir, d, sp)
			}
		}
	}
	return j, nil
}

// joinedSource joins the features of several folders of one dataset, sample by sample:
// each sample is the concatenation of every folder's features (flattened), in order.
type joinedSource struct {
	parts []*featureSource
	buf   []float32
}

func (j *joinedSource) shape() []int {
	n := 0
	for _, p := range j.parts {
		n += prod(p.sample)
	}
	return []int{n}
}
func (j *joinedSource) len(split string) int        { return j.parts[0].len(split) }
func (j *joinedSource) labels(split string) []uint8 { return j.parts[0].labels(split) }
func (j *joinedSource) close() error {
	var errs []error
	for _, p := range j.parts {
		errs = append(errs, p.close())
	}
	return errors.Join(errs...)
}

func (j *joinedSource) read(split string, rows []int, x, y []float32, aug func([]uint8, int)) error {
	per := j.shape()[0]
	off := 0
	for _, p := range j.parts {
		d := prod(p.sample)
		if cap(j.buf) < len(rows)*d {
			j.buf = make([]float32, len(rows)*d)
		}
		buf := j.buf[:len(rows)*d]
		if err := p.read(split, rows, buf, y, aug); err != nil {
			return err
		}
		for i := range rows {
			copy(x[i*per+off:i*per+off+d], buf[i*d:(i+1)*d])
		}
		off += d
	}
	return nil
}

// openFeatureDir opens the arrays of the features folder dir, described by info (from
// features.Open, which checked every array against it).
func openFeatureDir(dir string, info *features.Info) (*featureSource, error) {
	s := &featureSource{files: map[string]*npy.File{}, lab: map[string][]uint8{}}
	for _, sp := range []string{Train, Valid, Test} {
		si := info.Splits[sp]
		f, err := npy.Open(filepath.Join(dir, si.Features))
		if err != nil {
			s.close()
			return nil, err
		}
		s.files[sp] = f
		if s.sample == nil {
			s.sample = append([]int(nil), f.Shape[1:]...)
		}
		lab, _, err := npy.ReadFile[uint8](filepath.Join(dir, si.Labels))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("reading %s labels: %w", sp, err)
		}
		s.lab[sp] = lab
	}
	// Models take (C, H, W) or (D) samples: other ranks are flattened.
	if len(s.sample) != 1 && len(s.sample) != 3 {
		s.sample = []int{prod(s.sample)}
	}
	return s, nil
}

func (s *featureSource) shape() []int                { return s.sample }
func (s *featureSource) len(split string) int        { return len(s.lab[split]) }
func (s *featureSource) labels(split string) []uint8 { return append([]uint8(nil), s.lab[split]...) }
func (s *featureSource) close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

func (s *featureSource) read(split string, rows []int, x, y []float32, _ func([]uint8, int)) error {
	f := s.files[split]
	per := prod(s.sample)
	rs := int(f.RowSize())
	if len(s.buf) < rs {
		s.buf = make([]byte, rs)
	}
	b := s.buf[:rs]
	for i, r := range rows {
		if err := f.ReadRows(b, r, 1); err != nil {
			return fmt.Errorf("reading %s feature row %d: %w", split, r, err)
		}
		out := x[i*per : (i+1)*per]
		if f.DType == npy.Float32 {
			for j := range out {
				out[j] = math.Float32frombits(uint32(b[4*j]) | uint32(b[4*j+1])<<8 | uint32(b[4*j+2])<<16 | uint32(b[4*j+3])<<24)
			}
		} else {
			for j := range out {
				out[j] = half.ToFloat32(uint16(b[2*j]) | uint16(b[2*j+1])<<8)
			}
		}
		y[i] = float32(s.lab[split][r])
	}
	return nil
}
