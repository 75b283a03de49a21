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

// File names inside a prepared dataset folder.
const (
	PhotosFile       = "dogs_vs_cats_photos.npy"
	LabelsFile       = "dogs_vs_cats_labels.npy"
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

// ManifestFormat is the version of the manifest layout written by this package.
const ManifestFormat = 1

// Manifest records how a dataset folder was made. Preparing the same source with the same
// size, filter and seed gives the same manifest, byte for byte: it holds no timestamp.
type Manifest struct {
	Format  int        `json:"format"`
	Source  SourceInfo `json:"source"`
	Size    int        `json:"size"`   // images are Size x Size x 3
	Filter  string     `json:"filter"` // resize filter
	Seed    uint64     `json:"seed"`   // split seed
	Classes []string   `json:"classes"`

	PerClass int `json:"per_class,omitempty"` // Options.PerClass, if set
	LeftOut  int `json:"left_out,omitempty"`  // labelled files past the PerClass limit, not considered

	Seen    int                  `json:"seen"`    // files considered: Seen = Kept + len(Skipped)
	Kept    int                  `json:"kept"`    // rows in the arrays
	Counts  ClassCounts          `json:"counts"`  // kept images per class
	Balance Balance              `json:"balance"` // labelled files per class, before decoding
	Splits  map[string]SplitInfo `json:"splits"`

	OriginalSizes SizeStats `json:"original_sizes"` // of the kept images

	Arrays   map[string]ArrayInfo `json:"arrays"` // by file name
	Versions Versions             `json:"versions"`

	Files   []string  `json:"files"`   // kept files, in array order
	Skipped []Skipped `json:"skipped"` // in name order
}

// SourceInfo names the data source.
type SourceInfo struct {
	Path string `json:"path"` // absolute
	Kind string `json:"kind"` // "zip", "folder", with " (PetImages)" for that layout
	URL  string `json:"url,omitempty"`
}

// ClassCounts counts images per class.
type ClassCounts struct {
	Dog int `json:"dog"`
	Cat int `json:"cat"`
}

// Total returns Dog + Cat.
func (c ClassCounts) Total() int { return c.Dog + c.Cat }

func (c *ClassCounts) add(label int) {
	if label == Cat {
		c.Cat++
	} else {
		c.Dog++
	}
}

// Balance is the class balance of a source's labelled files, counted from names before
// any decoding.
type Balance struct {
	Counts    ClassCounts `json:"counts"`
	DogShare  float64     `json:"dog_share"`
	CatShare  float64     `json:"cat_share"`
	Imbalance float64     `json:"imbalance"` // larger class / smaller class (1 = balanced)
}

func newBalance(c ClassCounts) Balance {
	b := Balance{Counts: c}
	if t := c.Total(); t > 0 {
		b.DogShare = float64(c.Dog) / float64(t)
		b.CatShare = float64(c.Cat) / float64(t)
	}
	if lo := min(c.Dog, c.Cat); lo > 0 {
		b.Imbalance = float64(max(c.Dog, c.Cat)) / float64(lo)
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
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: manifest format %d, this catdog reads %d (prepare the data again)", dir, m.Format, ManifestFormat)
	}
	return &m, nil
}

// WriteBalance prints the class balance as a table.
func WriteBalance(w io.Writer, b Balance) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\tfiles\tshare\t")
	fmt.Fprintf(tw, "dog\t%d\t%.1f%%\t\n", b.Counts.Dog, 100*b.DogShare)
	fmt.Fprintf(tw, "cat\t%d\t%.1f%%\t\n", b.Counts.Cat, 100*b.CatShare)
	fmt.Fprintf(tw, "total\t%d\t\t\n", b.Counts.Total())
	tw.Flush()
	if b.Imbalance > 0 {
		fmt.Fprintf(w, "imbalance ratio (larger/smaller): %.3f\n", b.Imbalance)
	}
}

// WriteSplits prints the per-split class counts as a table.
func WriteSplits(w io.Writer, m *Manifest) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "split\timages\tdogs\tcats\tcat share\t")
	for _, s := range SplitNames() {
		si := m.Splits[s]
		share := 0.0
		if si.Count > 0 {
			share = float64(si.Counts.Cat) / float64(si.Count)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f%%\t\n", s, si.Count, si.Counts.Dog, si.Counts.Cat, 100*share)
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
