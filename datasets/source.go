package datasets

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/internal/userfile"
)

// Labels of Dogs vs. Cats, the class index stored in dogs_vs_cats_labels.npy.
const (
	Dog = 0
	Cat = 1
)

// ClassNames returns the class names of Dogs vs. Cats by label: dog, cat.
func ClassNames() []string { return []string{Dog: "dog", Cat: "cat"} }

// MaxClasses is the most classes a dataset may hold: labels are stored as uint8.
const MaxClasses = 256

// SmallClass is the number of photos under which a class gets a warning: a fifth of it is
// all its test split holds.
const SmallClass = 50

// maxFileBytes bounds how much of one file is read (imgutil.MaxFileBytes), checked from the
// size the zip header or the file system declares before it is read.
const maxFileBytes = imgutil.MaxFileBytes

// Skip reasons, the Kind of a Skipped file.
const (
	SkipUnsafePath = "unsafe-path" // a zip entry with ".." or an absolute path
	SkipSystemFile = "system-file" // Thumbs.db, .DS_Store, hidden files, __MACOSX
	SkipNoLabel    = "no-label"    // no class: neither the name nor a folder gives one
	SkipEmpty      = "empty"       // zero bytes, or an image of no pixels
	SkipNotImage   = "not-image"   // no known image format in the content
	SkipCorrupt    = "corrupt"     // the decoder failed (bad or truncated data)
	SkipTooLarge   = "too-large"   // declared size over the pixel limit, or a huge file
	SkipUnreadable = "unreadable"  // the file could not be read
)

// entry is one file of a source.
type entry struct {
	name  string // slash-separated path inside the source
	label int    // the class, or -1; Dog, Cat or -1 from the name alone until classify
	kind  string // skip kind decided from the name alone, or ""
	why   string
	size  int64
	read  func(buf *bytes.Buffer) error // appends the whole file to buf
}

// source is a listing of image files, in name order.
type source struct {
	kind    string // "zip" or "folder"
	path    string
	entries []entry
	close   func() error
}

// openSource lists the files of a zip archive or a folder, labelling each from its name.
// A folder skip inside a source folder (the output folder) is left out of the listing.
func openSource(p, skip string) (*source, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("data source: %w", err)
	}
	var s *source
	if st.IsDir() {
		s, err = openFolder(p, skip)
	} else {
		s, err = openZip(p)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(s.entries, func(i, j int) bool { return s.entries[i].name < s.entries[j].name })
	return s, nil
}

func openZip(p string) (*source, error) {
	f, err := userfile.Open(p) // a FIFO or a device named as --data is refused, not waited on
	if err != nil {
		return nil, fmt.Errorf("data source: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data source: %w", err)
	}
	s, err := zipSource(f, st.Size(), p)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.close = f.Close
	return s, nil
}

// zipSource lists the files of the zip archive in r, read in place.
func zipSource(r io.ReaderAt, size int64, p string) (*source, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("data source %s is neither a folder nor a zip archive: %w", p, err)
		}
		return nil, fmt.Errorf("data source %s: %w", p, err)
	}
	s := &source{kind: "zip", path: p, close: func() error { return nil }}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") || f.FileInfo().IsDir() {
			continue
		}
		e := entry{name: f.Name, size: int64(f.UncompressedSize64)}
		if !safeZipName(f.Name) {
			e.label, e.kind, e.why = -1, SkipUnsafePath, "unsafe path in archive (absolute or with ..)"
		} else {
			e.label, e.kind, e.why = nameLabel(f.Name)
		}
		f := f
		e.read = func(buf *bytes.Buffer) error {
			if e.size > maxFileBytes {
				return tooBig(e.size)
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			defer rc.Close()
			return readAll(buf, rc, e.size)
		}
		s.entries = append(s.entries, e)
	}
	return s, nil
}

var errTooBig = fmt.Errorf("file over the %d MiB a photo may take", maxFileBytes>>20)

// tooBig is errTooBig for a file of size bytes.
func tooBig(size int64) error {
	return fmt.Errorf("%s: %w", userfile.Bytes(size), errTooBig)
}

// readAll appends to buf what r holds, size bytes as declared (by the zip header or the file
// system): the buffer grows once to that size, never to twice it as doubling would, and no
// more than maxFileBytes are read whatever r really holds.
func readAll(buf *bytes.Buffer, r io.Reader, size int64) error {
	buf.Grow(int(min(max(size, 0), maxFileBytes)) + bytes.MinRead)
	_, err := buf.ReadFrom(io.LimitReader(r, maxFileBytes+1))
	if err == nil && buf.Len() > maxFileBytes {
		return errTooBig
	}
	return err
}

// safeZipName reports whether an archive name stays inside the archive's root.
func safeZipName(name string) bool {
	n := strings.ReplaceAll(name, `\`, "/")
	if n == "" || strings.HasPrefix(n, "/") || (len(n) > 1 && n[1] == ':') {
		return false
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

func openFolder(root, skip string) (*source, error) {
	s := &source{kind: "folder", path: root, close: func() error { return nil }}
	skipInfo, _ := os.Stat(skip)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && skipInfo != nil && p != root {
			if info, e := d.Info(); e == nil && os.SameFile(info, skipInfo) {
				return fs.SkipDir
			}
		}
		if err != nil {
			if p == root {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			s.entries = append(s.entries, entry{name: filepath.ToSlash(rel), label: -1, kind: SkipUnreadable, why: err.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		e := entry{name: filepath.ToSlash(rel)}
		e.label, e.kind, e.why = nameLabel(e.name)
		// Look at what the entry is (through a symbolic link: a stat, which opens nothing),
		// so that a FIFO or a device is skipped with its reason, never opened.
		info, err := d.Info()
		if err == nil && d.Type()&fs.ModeSymlink != 0 {
			info, err = os.Stat(p)
		}
		switch {
		case e.kind != "":
		case err != nil:
			e.label, e.kind, e.why = -1, SkipUnreadable, err.Error()
		case !info.Mode().IsRegular():
			e.label, e.kind, e.why = -1, SkipNotImage, notRegular(d, info)
		default:
			e.size = info.Size()
		}
		e.read = func(buf *bytes.Buffer) error {
			f, err := userfile.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			if st.Size() > maxFileBytes {
				return tooBig(st.Size())
			}
			return readAll(buf, f, st.Size())
		}
		s.entries = append(s.entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("data source %s: %w", root, err)
	}
	return s, nil
}

// notRegular says what a folder entry that is not a regular file is.
func notRegular(d fs.DirEntry, info fs.FileInfo) string {
	what := "not a regular file"
	switch m := info.Mode(); {
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO), not a regular file"
	case m&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		what = "a device, not a regular file"
	case m&fs.ModeSocket != 0:
		what = "a socket, not a regular file"
	case m.IsDir():
		what = "a folder, not a regular file"
	}
	if d.Type()&fs.ModeSymlink != 0 {
		return "a symbolic link to " + what
	}
	return what
}

// labelOf labels a file from its slash-separated path: Kaggle names (cat.N.jpg, dog.N.jpg)
// first, then the nearest folder named cat, cats, dog or dogs in any case (a folder per
// class, or Microsoft's PetImages/Cat and PetImages/Dog). It returns -1 and a skip kind
// and reason when the file has no label or is a system file.
func labelOf(name string) (label int, kind, why string) {
	parts := strings.Split(name, "/")
	base := parts[len(parts)-1]
	lb := strings.ToLower(base)
	for _, p := range parts[:len(parts)-1] {
		if p == "__MACOSX" {
			return -1, SkipSystemFile, "macOS resource fork"
		}
	}
	switch {
	case lb == "thumbs.db" || lb == "desktop.ini" || lb == ".ds_store":
		return -1, SkipSystemFile, "system file " + base
	case strings.HasPrefix(base, "."):
		return -1, SkipSystemFile, "hidden file"
	case strings.HasPrefix(lb, "cat."):
		return Cat, "", ""
	case strings.HasPrefix(lb, "dog."):
		return Dog, "", ""
	}
	for i := len(parts) - 2; i >= 0; i-- {
		switch strings.ToLower(parts[i]) {
		case "cat", "cats":
			return Cat, "", ""
		case "dog", "dogs":
			return Dog, "", ""
		}
	}
	return -1, SkipNoLabel, "no label in the name (want cat.N.jpg / dog.N.jpg, or a cat/ or dog/ folder)"
}

// nameLabel is labelOf, leaving a file with no cat or dog in its name to classify.
func nameLabel(name string) (label int, kind, why string) {
	label, kind, why = labelOf(name)
	if kind == SkipNoLabel {
		return -1, "", ""
	}
	return label, kind, why
}

// classify labels the entries of s that no skip kind excludes, and returns the class names
// by label. Sources laid out as the study's (Kaggle's cat.N.jpg names, PetImages, folders
// named cat(s) and dog(s)) keep its labels: 0 = dog, 1 = cat. Any other folder per class is
// labelled by its folder, the first one below the wrapper folders every file shares, in the
// sorted order of the folder names (as Keras's image_dataset_from_directory does) or in
// the order of want. want, if not empty, names the classes to keep: each must have a folder,
// and files of other folders are skipped. Files with no class are skipped as SkipNoLabel.
func (s *source) classify(want []string) ([]string, error) {
	if len(want) == 0 {
		want = nil
	} else {
		if err := checkClassNames(want); err != nil {
			return nil, fmt.Errorf("--classes: %w", err)
		}
	}
	live := func(e *entry) bool { return e.kind == "" }
	depth := s.classDepth()
	folderOf := func(e *entry) string {
		dirs := strings.Split(e.name, "/")
		if len(dirs)-1 <= depth {
			return ""
		}
		return dirs[depth]
	}
	// Dogs vs. Cats: files labelled cat or dog by their name or a cat(s)/dog(s) folder, and
	// either no class folder, or one holding both dogs and cats (Kaggle's train/, or
	// train/cats beside train/dogs: a split, not a class), or class folders that are all
	// cats or dogs (PetImages). A folder of other photos beside cats/ and dogs/ makes a
	// folder per class.
	allPet, anyPet := true, false
	folders := map[string]int{}
	petsIn := map[string][2]bool{} // by class folder: holds a dog, a cat
	for i := range s.entries {
		e := &s.entries[i]
		if !live(e) {
			continue
		}
		anyPet = anyPet || e.label >= 0
		if f := folderOf(e); f != "" {
			folders[f]++
			allPet = allPet && e.label >= 0
			if e.label >= 0 {
				p := petsIn[f]
				p[e.label] = true
				petsIn[f] = p
			}
		}
	}
	mixed := false
	for _, p := range petsIn {
		mixed = mixed || (p[Dog] && p[Cat])
	}
	pets := anyPet && (len(folders) == 0 || mixed || allPet)
	if pets && (want == nil || DogsVsCats(want)) {
		for i := range s.entries {
			if e := &s.entries[i]; live(e) && e.label < 0 {
				e.label, e.kind, e.why = labelOf(e.name)
			}
		}
		return ClassNames(), nil
	}
	names := make([]string, 0, len(folders))
	for f := range folders {
		names = append(names, f)
	}
	sort.Strings(names)
	if len(names) == 0 {
		if anyPet {
			return nil, fmt.Errorf("--classes %s: the files are named as Kaggle's (cat.N.jpg, dog.N.jpg), labelled dog and cat; --classes names class folders", strings.Join(want, ","))
		}
		return nil, errNoClass
	}
	classes := want
	if want == nil {
		if splitFolders(names) {
			return nil, fmt.Errorf("its folders are %s, splits rather than classes: point --data at the training one, whose folders are the classes", strings.Join(names, ", "))
		}
		if len(names) == 1 {
			return nil, fmt.Errorf("every file is in one folder, %s: a classifier needs a folder per class, two classes or more", names[0])
		}
		if len(names) > MaxClasses {
			return nil, fmt.Errorf("%d class folders: catdog takes at most %d classes", len(names), MaxClasses)
		}
		classes = names
	}
	label := make(map[string]int, len(classes))
	for i, c := range classes {
		if folders[c] == 0 {
			return nil, fmt.Errorf("class %q has no folder of files (the class folders are: %s)", c, strings.Join(names, ", "))
		}
		label[c] = i
	}
	for i := range s.entries {
		e := &s.entries[i]
		if !live(e) {
			continue
		}
		f := folderOf(e)
		l, ok := label[f]
		switch {
		case f == "":
			e.label, e.kind, e.why = -1, SkipNoLabel, "not in a class folder"
		case !ok:
			e.label, e.kind, e.why = -1, SkipNoLabel, "folder "+f+" is not one of --classes"
		default:
			e.label = l
		}
	}
	return classes, nil
}

// classDepth returns how many wrapper folders the files not skipped share (train/ in
// train/daisy/1.jpg and train/rose/2.jpg): those every file lies in, as long as some file
// lies deeper. The class folder is the next one.
func (s *source) classDepth() int {
	depth := 0
	for {
		var wrap string
		deeper := false
		for i := range s.entries {
			e := &s.entries[i]
			if e.kind != "" {
				continue
			}
			dirs := strings.Split(e.name, "/")
			dirs = dirs[:len(dirs)-1]
			if len(dirs) <= depth || (wrap != "" && dirs[depth] != wrap) {
				return depth
			}
			wrap = dirs[depth]
			deeper = deeper || len(dirs) > depth+1
		}
		if !deeper || wrap == "" {
			return depth
		}
		depth++
	}
}

// errNoClass is classify's error when no file has a class.
var errNoClass = errors.New("no file has a class")

// splitFolders reports whether folder names are those of splits (train, test...).
func splitFolders(names []string) bool {
	for _, n := range names {
		switch strings.ToLower(n) {
		case "train", "training", "test", "testing", "valid", "validation", "val":
		default:
			return false
		}
	}
	return true
}

// kindOf describes a source for the manifest.
func kindOf(s *source) string {
	for _, e := range s.entries {
		if strings.HasPrefix(e.name, "PetImages/") {
			return s.kind + " (PetImages)"
		}
	}
	return s.kind
}
