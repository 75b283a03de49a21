package datasets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/internal/npy"
	"github.com/catdog-ml/catdog/internal/plot"
)

// Filter names the resampling filter images are resized with.
type Filter = imgutil.Filter

// The resampling filters.
const (
	Bilinear   = imgutil.Bilinear // the default: averages the pixels each output pixel covers
	Nearest    = imgutil.Nearest
	CatmullRom = imgutil.CatmullRom
)

// ParseFilter returns the filter called name ("" means Bilinear): bilinear, nearest or
// catmullrom.
func ParseFilter(name string) (Filter, error) { return imgutil.ParseFilter(name) }

// Size limits for prepared images: imgutil's, the one set catdog uses.
const (
	DefaultSize = 200
	MinSize     = imgutil.MinSize
	MaxSize     = imgutil.MaxSize
)

// Options configures Prepare.
type Options struct {
	// Data is the source: Kaggle's train.zip, a folder (extracted train/, a folder per
	// class, PetImages), or a zip of one. Empty means download PetImages as Download says.
	Data string
	// Classes, if not empty, names the classes of a folder per class in label order, and
	// keeps only them; empty means every class folder, in sorted order. Dogs vs. Cats keeps
	// its labels, dog then cat, whatever its folders are called.
	Classes []string
	// Out is the folder to write; it is created if needed.
	Out string
	// Size is the side of the square images (MinSize..MaxSize); 0 means DefaultSize.
	Size int
	// Filter is the resize filter (default Bilinear).
	Filter Filter
	// Seed drives the split.
	Seed uint64
	// PerClass, if positive, keeps only the first PerClass labelled files of each class
	// (in name order), for quick runs; the others are counted in Manifest.LeftOut.
	PerClass int
	// Workers decoding in parallel; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// MaxPixels refuses images declaring more pixels; 0 means imgutil.MaxPixels.
	MaxPixels int
	// Download is used when Data is empty.
	Download Download
	// Version is catdog's version for the manifest; empty means the module's build version.
	Version string
	// OnBalance, if set, is called with the class names and balance once the source is
	// listed, before any decoding.
	OnBalance func(classes []string, b Balance)
	// Warn, if set, receives warnings: a split left empty by too small a source, a class
	// of fewer than SmallClass photos.
	Warn func(string)
	// Progress, if set, is called after each file is decoded (or skipped), in file order.
	Progress func(done, total int)
}

// Prepare decodes every image of a source into size x size RGB, and writes to opts.Out:
// the photos and labels as .npy arrays in file order, a stratified 60/20/20 split, two
// charts and manifest.json (see the package documentation). Every file is written
// atomically and the manifest last, so an interrupted run leaves the folder without a
// manifest, never with a half-written file; running again completes it.
//
// Decoding runs on opts.Workers goroutines; only a small window of decoded images is held
// at any time, so memory does not grow with the number of images.
func Prepare(ctx context.Context, opts Options) (*Manifest, error) {
	if opts.Size == 0 {
		opts.Size = DefaultSize
	}
	if opts.Size < MinSize || opts.Size > MaxSize {
		return nil, fmt.Errorf("image size %d outside %d..%d", opts.Size, MinSize, MaxSize)
	}
	if opts.Out == "" {
		return nil, errors.New("no output folder given")
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Filter < 0 || int(opts.Filter) >= len(imgutil.FilterNames()) {
		return nil, fmt.Errorf("unknown resize filter %v", opts.Filter)
	}
	info := SourceInfo{Path: opts.Data}
	if opts.Data != "" {
		abs, err := filepath.Abs(opts.Data)
		if err != nil {
			return nil, fmt.Errorf("data source: %w", err)
		}
		info.Path = abs
	} else {
		p, err := opts.Download.Fetch(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w\n\n%s", err, noDataHelp)
		}
		info.Path = p
		info.URL = opts.Download.URL
		if info.URL == "" {
			info.URL = PetImagesURL
		}
	}
	src, err := openSource(info.Path, opts.Out)
	if err != nil {
		return nil, err
	}
	defer src.close()
	info.Kind = kindOf(src)
	if len(src.entries) == 0 {
		return nil, fmt.Errorf("data source %s holds no files", info.Path)
	}
	classes, err := src.classify(opts.Classes)
	if errors.Is(err, errNoClass) {
		for _, e := range src.entries {
			if path.Base(e.name) == "train.zip" {
				return nil, fmt.Errorf("data source %s holds %s, not the photos themselves: extract it (unzip %s %s) and pass --data train.zip", info.Path, e.name, filepath.Base(info.Path), e.name)
			}
		}
		return nil, fmt.Errorf("data source %s holds %d files but none labelled (%s)", info.Path, len(src.entries), wantLayout)
	}
	if err != nil {
		return nil, fmt.Errorf("data source %s: %w", info.Path, err)
	}

	// Listing: what the names say, before any decoding.
	var cands []int // indices into src.entries of labelled files
	var skipped []Skipped
	counts := make(ClassCounts, len(classes))
	leftOut := 0
	for i, e := range src.entries {
		if e.kind != "" {
			skipped = append(skipped, Skipped{File: e.name, Kind: e.kind, Reason: e.why})
			continue
		}
		if opts.PerClass > 0 && counts[e.label] >= opts.PerClass {
			leftOut++
			continue
		}
		cands = append(cands, i)
		counts[e.label]++
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("data source %s holds %d files but none labelled (%s)", info.Path, len(src.entries), wantLayout)
	}
	if err := needAll(counts, classes, info.Path, "labelled files"); err != nil {
		return nil, err
	}
	bal := newBalance(counts)
	if opts.OnBalance != nil {
		opts.OnBalance(classes, bal)
	}
	photosFile, labelsFile := (&Manifest{Classes: classes}).ArrayFiles()

	// One writer at a time: a second prepare into the same folder is refused, and what a
	// killed one left behind is removed.
	dw, err := Create(opts.Out, "catdog prepare")
	if err != nil {
		return nil, err
	}
	defer dw.Abort()
	photos, err := dw.Create(photosFile)
	if err != nil {
		return nil, err
	}
	rw, err := npy.NewRowWriter(photos, npy.Uint8, []int{opts.Size, opts.Size, 3})
	if err != nil {
		return nil, err
	}

	var labels []uint8
	var files []string
	var widths, heights []float64
	kept := make(ClassCounts, len(classes))
	err = decodeAll(ctx, src, cands, opts, func(i int, r result) error {
		e := src.entries[cands[i]]
		if r.cfg.Width > 0 && r.cfg.Height > 0 && r.err == nil {
			widths = append(widths, float64(r.cfg.Width))
			heights = append(heights, float64(r.cfg.Height))
		}
		if r.err != nil {
			skipped = append(skipped, Skipped{File: e.name, Kind: r.kind, Reason: r.err.Error()})
			return nil
		}
		if _, err := rw.Write(r.pix); err != nil {
			return fmt.Errorf("writing %s: %w", photosFile, err)
		}
		labels = append(labels, uint8(e.label))
		files = append(files, e.name)
		kept[e.label]++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := rw.Close(); err != nil {
		return nil, err
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("no image of %s could be decoded (%d skipped)", info.Path, len(skipped))
	}
	if err := needAll(kept, classes, info.Path, "decodable images"); err != nil {
		return nil, err
	}
	if opts.Warn != nil {
		for i, n := range kept {
			if n < SmallClass {
				opts.Warn(fmt.Sprintf("class %s has %d photos only: its test split holds about %d, too few to measure it (aim for %d or more)", classes[i], n, (n+2)/5, SmallClass))
			}
		}
	}
	sort.SliceStable(skipped, func(i, j int) bool { return skipped[i].File < skipped[j].File })

	m := &Manifest{
		Format:        ManifestFormat,
		Source:        info,
		Size:          opts.Size,
		Filter:        opts.Filter.String(),
		Seed:          opts.Seed,
		Classes:       classes,
		ClassesAsked:  opts.Classes,
		PerClass:      max(opts.PerClass, 0),
		Seen:          len(src.entries) - leftOut,
		LeftOut:       leftOut,
		Kept:          len(labels),
		Counts:        kept,
		Balance:       bal,
		Splits:        map[string]SplitInfo{},
		OriginalSizes: sizeStats(widths, heights),
		Versions:      Versions{Catdog: opts.Version, Go: runtime.Version()},
		Files:         files,
		Skipped:       append([]Skipped{}, skipped...), // [] rather than null when none
	}
	if m.Versions.Catdog == "" {
		m.Versions.Catdog = buildVersion()
	}
	if m.Seen != m.Kept+len(m.Skipped) {
		return nil, fmt.Errorf("internal error: seen %d != kept %d + skipped %d", m.Seen, m.Kept, len(m.Skipped))
	}

	// Everything else goes to temporary files too; the manifest is committed last.
	if err := dw.Done(photosFile, "uint8", []int{len(labels), opts.Size, opts.Size, 3}); err != nil {
		return nil, err
	}
	if err := dw.Write(labelsFile, "uint8", []int{len(labels)}, func(w io.Writer) error { return npy.Write(w, []int{len(labels)}, labels) }); err != nil {
		return nil, err
	}
	tr, va, te := stratifiedSplit(labels, len(classes), opts.Seed)
	for i, idx := range [][]int64{tr, va, te} {
		if len(idx) == 0 && opts.Warn != nil {
			opts.Warn(fmt.Sprintf("the %s split is empty: %d images are too few to split 60/20/20 (training needs train and valid, evaluation test): add photos",
				SplitNames()[i], len(labels)))
		}
	}
	for i, idx := range [][]int64{tr, va, te} {
		name := SplitNames()[i]
		m.Splits[name] = SplitInfo{Count: len(idx), Counts: CountLabels(labels, idx, len(classes))}
		if err := dw.Write(SplitFile(name), "int64", []int{len(idx)}, func(w io.Writer) error { return npy.Write(w, []int{len(idx)}, idx) }); err != nil {
			return nil, err
		}
	}
	charts := map[string]func() ([]byte, error){
		ClassBalanceFile: func() ([]byte, error) {
			values := make([]float64, len(counts))
			for i, n := range counts {
				values[i] = float64(n)
			}
			return plot.Bar(fmt.Sprintf("Class balance of %d labelled files (imbalance %.2f)", counts.Total(), bal.Imbalance),
				"files", classes, values)
		},
		ImageSizesFile: func() ([]byte, error) {
			return plot.Histogram(fmt.Sprintf("Original sizes of %d images", len(widths)), "pixels", 40,
				plot.HistSeries{Name: "width", Values: widths}, plot.HistSeries{Name: "height", Values: heights})
		},
	}
	for _, name := range []string{ClassBalanceFile, ImageSizesFile} {
		png, err := charts[name]()
		if err != nil {
			return nil, fmt.Errorf("drawing %s: %w", name, err)
		}
		if err := dw.Write(name, "", nil, func(w io.Writer) error { _, err := w.Write(png); return err }); err != nil {
			return nil, err
		}
	}
	if err := dw.Commit(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// wantLayout says what layouts Prepare labels.
const wantLayout = "want a folder per class such as photos/daisy/1.jpg and photos/rose/2.jpg, Kaggle's train/cat.N.jpg and train/dog.N.jpg, or PetImages/Cat and PetImages/Dog"

// needAll checks that every class has a file.
func needAll(c ClassCounts, classes []string, src, what string) error {
	var empty []string
	for i, n := range c {
		if n == 0 {
			empty = append(empty, classes[i])
		}
	}
	switch {
	case len(empty) == 0:
		return nil
	case DogsVsCats(classes) && len(empty) == 1:
		other := map[string]string{"dog": "cats", "cat": "dogs"}[empty[0]]
		return fmt.Errorf("data source %s has %d %s, all %s and no %ss: a binary classifier needs both classes", src, c.Total(), what, other, empty[0])
	}
	return fmt.Errorf("data source %s has %d %s, none of class %s: every class needs photos", src, c.Total(), what, strings.Join(empty, ", "))
}

// result is one decoded (or failed) file.
type result struct {
	pix  []uint8
	cfg  imgutil.Config
	err  error
	kind string
}

// decodeAll decodes src.entries[cands[i]] on opts.Workers goroutines and calls emit with
// the results in order of i. At most a window of results is in flight, so memory stays
// bounded; pixel buffers are recycled after emit returns.
func decodeAll(ctx context.Context, src *source, cands []int, opts Options, emit func(i int, r result) error) error {
	ctx, cancel := context.WithCancel(ctx)
	n := len(cands)
	window := 4 * opts.Workers
	rowBytes := opts.Size * opts.Size * 3
	type job struct {
		i   int
		pix []uint8
	}
	type done struct {
		i int
		result
	}
	jobs := make(chan job)
	results := make(chan done, window)
	free := make(chan []uint8, window)
	for range window {
		free <- make([]uint8, rowBytes)
	}
	budget := budgets{read: newBudget(readBudget), decode: newBudget(decodeBudget)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // feeder: a free buffer is a ticket for one more file in flight
		defer wg.Done()
		defer close(jobs)
		for i := range n {
			var buf []uint8
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{i, buf}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			z := imgutil.Resizer{MaxPixels: opts.MaxPixels}
			var data bytes.Buffer
			for j := range jobs {
				r := decodeOne(&z, &data, src.entries[cands[j.i]], opts, j.pix, budget)
				if data.Cap() > 8<<20 { // do not keep a huge buffer around
					data = bytes.Buffer{}
				}
				select {
				case results <- done{j.i, r}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer func() {
		cancel()  // stop the feeder and the workers...
		wg.Wait() // ...and wait for them before returning
	}()
	pending := make(map[int]result, window)
	for next := 0; next < n; {
		var d done
		select {
		case d = <-results:
		case <-ctx.Done():
			return ctx.Err()
		}
		pending[d.i] = d.result
		for {
			r, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			if err := emit(next, r); err != nil {
				return err
			}
			free <- r.pix
			next++
			if opts.Progress != nil {
				opts.Progress(next, n)
			}
		}
	}
	return ctx.Err()
}

// decodeOne reads and decodes one file into pix.
func decodeOne(z *imgutil.Resizer, data *bytes.Buffer, e entry, opts Options, pix []uint8, budget budgets) result {
	data.Reset()
	r := result{pix: pix}
	if budget.read != nil {
		n := budget.read.acquire(e.size)
		defer budget.read.release(n)
	}
	if err := e.read(data); err != nil {
		r.err, r.kind = err, SkipUnreadable
		if errors.Is(err, errTooBig) {
			r.kind = SkipTooLarge
		}
		return r
	}
	if budget.decode != nil {
		if cfg, err := imgutil.DecodeConfig(data.Bytes()); err == nil {
			n := budget.decode.acquire(int64(cfg.Width) * int64(cfg.Height))
			defer budget.decode.release(n)
		}
	}
	r.cfg, r.err = z.DecodeResize(data.Bytes(), opts.Size, opts.Filter, pix)
	switch {
	case r.err == nil:
	case errors.Is(r.err, imgutil.ErrEmpty):
		r.kind = SkipEmpty
		if data.Len() == 0 {
			r.err = errors.New("empty file (0 bytes)")
		}
	case errors.Is(r.err, imgutil.ErrFormat):
		r.kind = SkipNotImage
	case errors.Is(r.err, imgutil.ErrTooLarge):
		r.kind = SkipTooLarge
	default:
		r.kind = SkipCorrupt
	}
	return r
}

// decodeBudget is how many declared pixels the workers may decode at once: a 16-megapixel
// JPEG decodes into 24 MB, an RGBA PNG into 64 MB. Larger images are decoded one at a time,
// so memory stays bounded by the largest image rather than by workers times it.
const decodeBudget = 16 << 20

// readBudget is how many bytes of files the workers may hold at once, as their sizes are
// declared (zip header, file system) before they are read: a file larger than it (up to
// maxFileBytes) is read alone. A photo takes a few hundred KB; what this bounds is a source
// of files padded with tens of MB each, which would otherwise be held workers at a time.
const readBudget = 64 << 20

// budgets are the two weighted semaphores a worker takes before reading and decoding a file.
type budgets struct{ read, decode *budget }

// budget is a weighted semaphore: a request of n units waits until n are free. A request of
// more than the whole budget takes all of it, so that it runs alone.
type budget struct {
	mu   sync.Mutex
	cond sync.Cond
	free int64
	max  int64
}

func newBudget(max int64) *budget {
	b := &budget{free: max, max: max}
	b.cond.L = &b.mu
	return b
}

// acquire waits for n units (at most the whole budget) and returns what it took.
func (b *budget) acquire(n int64) int64 {
	n = min(max(n, 0), b.max)
	b.mu.Lock()
	for b.free < n {
		b.cond.Wait()
	}
	b.free -= n
	b.mu.Unlock()
	return n
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func sizeStats(ws, hs []float64) SizeStats {
	var s SizeStats
	if len(ws) == 0 {
		return s
	}
	s.MinWidth, s.MinHeight = int(ws[0]), int(hs[0])
	for i := range ws {
		w, h := int(ws[i]), int(hs[i])
		s.MinWidth, s.MaxWidth = min(s.MinWidth, w), max(s.MaxWidth, w)
		s.MinHeight, s.MaxHeight = min(s.MinHeight, h), max(s.MaxHeight, h)
		s.MeanWidth += ws[i]
		s.MeanHeight += hs[i]
	}
	s.MeanWidth /= float64(len(ws))
	s.MeanHeight /= float64(len(hs))
	return s
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
