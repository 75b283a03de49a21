package datasets

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
)

// File names inside a prepared dataset folder. The arrays of Dogs vs. Cats keep the study's
// names, PhotosFile and LabelsFile; those of any other classes are ClassPhotosFile and
// ClassLabelsFile (Manifest.ArrayFiles says which).
const (
	PhotosFile       = "dogs_vs_cats_photos.npy"
	LabelsFile       = "dogs_vs_cats_labels.npy"
	ClassPhotosFile  = "photos.npy"
	ClassLabelsFile  = "labels.npy"
	ManifestFile     = "manifest.json"
	ClassBalanceFile = "class_balance.png"
	ImageSizesFile   = "image_sizes.png"
)

// Split names.
const (
	Train = "train"
	Valid = "valid"
	Test  = "test"
)

// SplitNames returns the split names in order: train, valid, test.
func SplitNames() []string { return []string{Train, Valid, Test} }

// SplitFile returns the file name of a split's index array, such as split_train.npy.
func SplitFile(split string) string { return "split_" + split + ".npy" }

// ManifestFormat is the version of the manifest layout written by this package. Format 2
// holds any number of classes (counts are arrays by label); format 1, Dogs vs. Cats only
// with counts as {"dog": n, "cat": m}, is still read.
const ManifestFormat = 2

// Manifest records how a dataset folder was made. Preparing the same source with the same
// size, filter and seed gives the same manifest, byte for byte: it holds no timestamp.
type Manifest struct {
	Format  int        `json:"format"`
	Source  SourceInfo `json:"source"`
	Size    int        `json:"size"`    // images are Size x Size x 3
	Filter  string     `json:"filter"`  // resize filter
	Seed    uint64     `json:"seed"`    // split seed
	Classes []string   `json:"classes"` // class names by label: [dog cat] for Dogs vs. Cats
	// ClassesAsked are Options.Classes, if given: the order or the pick asked for.
	ClassesAsked []string `json:"classes_asked,omitempty"`

	PerClass int `json:"per_class,omitempty"` // Options.PerClass, if set
	LeftOut  int `json:"left_out,omitempty"`  // labelled files past the PerClass limit, not considered

	Seen    int                  `json:"seen"`    // files considered: Seen = Kept + len(Skipped)
	Kept    int                  `json:"kept"`    // rows in the arrays
	Counts  ClassCounts          `json:"counts"`  // kept images per class, by label
	Balance Balance              `json:"balance"` // labelled files per class, before decoding
	Splits  map[string]SplitInfo `json:"splits"`

	OriginalSizes SizeStats `json:"original_sizes"` // of the kept images

	Arrays   map[string]ArrayInfo `json:"arrays"` // by file name
	Versions Versions             `json:"versions"`

	Files   []string  `json:"files"`   // kept files, in array order
	Skipped []Skipped `json:"skipped"` // in name order
}

// DogsVsCats reports whether classes are the study's: dog (label 0), cat (label 1).
func DogsVsCats(classes []string) bool {
	return len(classes) == 2 && classes[Dog] == "dog" && classes[Cat] == "cat"
}

// ArrayFiles returns the file names of the photos and labels arrays: PhotosFile and
// LabelsFile for Dogs vs. Cats, else ClassPhotosFile and ClassLabelsFile.
func (m *Manifest) ArrayFiles() (photos, labels string) {
	if DogsVsCats(m.Classes) {
		return PhotosFile, LabelsFile
	}
	return ClassPhotosFile, ClassLabelsFile
}

// checkClasses checks that the classes are two or more distinct names, at most MaxClasses,
// and that every count has one number per class.
func (m *Manifest) checkClasses() error {
	if err := checkClassNames(m.Classes); err != nil {
		return err
	}
	check := func(what string, c ClassCounts) error {
		if len(c) != len(m.Classes) {
			return fmt.Errorf("%s has %d counts for %d classes", what, len(c), len(m.Classes))
		}
		return nil
	}
	if err := check("counts", m.Counts); err != nil {
		return err
	}
	if err := check("balance", m.Balance.Counts); err != nil {
		return err
	}
	for name, s := range m.Splits {
		if err := check("split "+name, s.Counts); err != nil {
			return err
		}
	}
	return nil
}

// checkClassNames checks a list of class names: 2 to MaxClasses, none empty, none repeated.
func checkClassNames(classes []string) error {
	if len(classes) < 2 || len(classes) > MaxClasses {
		return fmt.Errorf("%d classes %q: want 2 to %d", len(classes), classes, MaxClasses)
	}
	seen := map[string]bool{}
	for _, c := range classes {
		if c == "" || seen[c] {
			return fmt.Errorf("classes %q: a class name is empty or repeated", classes)
		}
		seen[c] = true
	}
	return nil
}

// SourceInfo names the data source.
type SourceInfo struct {
	Path string `json:"path"` // absolute
	Kind string `json:"kind"` // "zip", "folder", with " (PetImages)" for that layout
	URL  string `json:"url,omitempty"`
}

// ClassCounts counts images per class, by label. It reads the {"dog": n, "cat": m} of
// format-1 manifests too.
type ClassCounts []int

// Total returns the number of images over all classes.
func (c ClassCounts) Total() int {
	t := 0
	for _, n := range c {
		t += n
	}
	return t
}

// At returns the count of label i, 0 if c has none.
func (c ClassCounts) At(i int) int {
	if i < 0 || i >= len(c) {
		return 0
	}
	return c[i]
}

// UnmarshalJSON reads an array of counts, or the {"dog": n, "cat": m} object of format 1.
func (c *ClassCounts) UnmarshalJSON(b []byte) error {
	var old struct {
		Dog *int `json:"dog"`
		Cat *int `json:"cat"`
	}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &old); err != nil {
			return err
		}
		if old.Dog == nil || old.Cat == nil {
			return fmt.Errorf("class counts %s: want dog and cat", b)
		}
		*c = ClassCounts{Dog: *old.Dog, Cat: *old.Cat}
		return nil
	}
	var n []int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*c = n
	return nil
}

// CountLabels counts labels (each < classes) over rows idx, or every row when idx is nil.
func CountLabels(labels []uint8, idx []int64, classes int) ClassCounts {
	c := make(ClassCounts, classes)
	if idx == nil {
		for _, l := range labels {
			c[l]++
		}
		return c
	}
	for _, j := range idx {
		c[labels[j]]++
	}
	return c
}

// Balance is the class balance of a source's labelled files, counted from names before
// any decoding.
type Balance struct {
	Counts    ClassCounts `json:"counts"`    // by label
	Shares    []float64   `json:"shares"`    // Counts over their total
	Imbalance float64     `json:"imbalance"` // largest class / smallest class (1 = balanced)
}

func newBalance(c ClassCounts) Balance {
	b := Balance{Counts: c, Shares: make([]float64, len(c))}
	t, lo, hi := c.Total(), -1, 0
	for i, n := range c {
		if t > 0 {
			b.Shares[i] = float64(n) / float64(t)
		}
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	if lo > 0 {
		b.Imbalance = float64(hi) / float64(lo)
	}
	return b
}

// SplitInfo counts one split.
type SplitInfo struct {
	Count  int         `json:"count"`
	Counts ClassCounts `json:"counts"`
}

// SizeStats summarises original image sizes.
type SizeStats struct {
	MinWidth   int     `json:"min_width"`
	MaxWidth   int     `json:"max_width"`
	MeanWidth  float64 `json:"mean_width"`
	MinHeight  int     `json:"min_height"`
	MaxHeight  int     `json:"max_height"`
	MeanHeight float64 `json:"mean_height"`
}

// ArrayInfo describes one .npy file.
type ArrayInfo struct {
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	SHA256 string `json:"sha256"`
}

// Versions records what made the dataset.
type Versions struct {
	Catdog string `json:"catdog"`
	Go     string `json:"go"`
}

// Skipped is a file left out, with why.
type Skipped struct {
	File   string `json:"file"`
	Kind   string `json:"kind"`   // one of the Skip* constants
	Reason string `json:"reason"` // details
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s is not a prepared dataset (no %s; run catdog prepare --out %s)", dir, ManifestFile, dir)
		}
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != ManifestFormat && m.Format != 1 {
		return nil, fmt.Errorf("%s: manifest format %d, this catdog reads 1 and %d (prepare the data again)", dir, m.Format, ManifestFormat)
	}
	if m.Format == 1 { // its shares were dog_share and cat_share
		m.Balance = newBalance(m.Balance.Counts)
	}
	if err := m.checkClasses(); err != nil {
		return nil, fmt.Errorf("%s: %w (prepare the data again)", filepath.Join(dir, ManifestFile), err)
	}
	return &m, nil
}

// WriteBalance prints the class balance of classes (names by label) as a table.
func WriteBalance(w io.Writer, classes []string, b Balance) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tfiles\tshare\t")
	for i, n := range b.Counts {
		share := 0.0
		if i < len(b.Shares) {
			share = b.Shares[i]
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t\n", className(classes, i), n, 100*share)
	}
	fmt.Fprintf(tw, "total\t%d\t\t\n", b.Counts.Total())
	tw.Flush()
	if b.Imbalance > 0 {
		fmt.Fprintf(w, "imbalance ratio (largest/smallest): %.3f\n", b.Imbalance)
	}
}

// className returns classes[i], or the label's number if there is no such name.
func className(classes []string, i int) string {
	if i < len(classes) {
		return classes[i]
	}
	return fmt.Sprint(i)
}

// WriteSplits prints the per-split class counts as a table: Dogs vs. Cats with its cat
// share, as the study has always shown it; other classes a column each.
func WriteSplits(w io.Writer, m *Manifest) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if DogsVsCats(m.Classes) {
		fmt.Fprintln(tw, "split\timages\tdogs\tcats\tcat share\t")
		for _, s := range SplitNames() {
			si := m.Splits[s]
			share := 0.0
			if si.Count > 0 {
				share = float64(si.Counts.At(Cat)) / float64(si.Count)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t\n", s, si.Count, si.Counts.At(Dog), si.Counts.At(Cat), 100*share)
		}
		tw.Flush()
		return
	}
	fmt.Fprint(tw, "split\timages\t")
	for _, c := range m.Classes {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	for _, s := range SplitNames() {
		si := m.Splits[s]
		fmt.Fprintf(tw, "%s\t%d\t", s, si.Count)
		for i := range m.Classes {
			fmt.Fprintf(tw, "%d\t", si.Counts.At(i))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// WriteSkipped prints how many files were skipped per kind, with a few examples.
func WriteSkipped(w io.Writer, m *Manifest, examples int) {
	fmt.Fprintf(w, "seen %d files: kept %d, skipped %d\n", m.Seen, m.Kept, len(m.Skipped))
	if m.LeftOut > 0 {
		fmt.Fprintf(w, "  (%d more labelled files left out by the limit of %d per class)\n", m.LeftOut, m.PerClass)
	}
	byKind := map[string][]Skipped{}
	for _, s := range m.Skipped {
		byKind[s.Kind] = append(byKind[s.Kind], s)
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		list := byKind[k]
		fmt.Fprintf(w, "  %-12s %d\n", k, len(list))
		for _, s := range list[:min(examples, len(list))] {
			fmt.Fprintf(w, "    %s: %s\n", s.File, s.Reason)
		}
		if len(list) > examples {
			fmt.Fprintf(w, "    ... (all listed in %s)\n", ManifestFile)
		}
	}
}
