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

// Labels: the class index stored in dogs_vs_cats_labels.npy.
const (
	Dog = 0
	Cat = 1
)

// ClassNames returns the class names by label: dog, cat.
func ClassNames() []string { return []string{Dog: "dog", Cat: "cat"} }

// maxFileBytes bounds how much of one file is read (imgutil.MaxFileBytes), checked from the
// size the zip header or the file system declares before it is read.
const maxFileBytes = imgutil.MaxFileBytes

// Skip reasons, the Kind of a Skipped file.
const (
	SkipUnsafePath = "unsafe-path" // a zip entry with ".." or an absolute path
	SkipSystemFile = "system-file" // Thumbs.db, .DS_Store, hidden files, __MACOSX
	SkipNoLabel    = "no-label"    // neither the name nor a folder says cat or dog
	SkipEmpty      = "empty"       // zero bytes, or an image of no pixels
	SkipNotImage   = "not-image"   // no known image format in the content
	SkipCorrupt    = "corrupt"     // the decoder failed (bad or truncated data)
	SkipTooLarge   = "too-large"   // declared size over the pixel limit, or a huge file
	SkipUnreadable = "unreadable"  // the file could not be read
)

// entry is one file of a source.
type entry struct {
	name  string // slash-separated path inside the source
	label int    // Dog, Cat, or -1
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
			e.label, e.kind, e.why = labelOf(f.Name)
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
		e.label, e.kind, e.why = labelOf(e.name)
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

// kindOf describes a source for the manifest.
func kindOf(s *source) string {
	for _, e := range s.entries {
		if strings.HasPrefix(e.name, "PetImages/") {
			return s.kind + " (PetImages)"
		}
	}
	return s.kind
}
