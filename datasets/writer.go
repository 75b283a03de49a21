package datasets

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

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/verify"
)

// Writer writes a dataset folder: the one writer of the format, for Prepare and for any
// other package that makes a dataset (an augmented copy, say). It holds the folder's lock
// from Create to Commit or Abort; every file goes to a temporary file and is hashed as it
// is written; Commit drops the old manifest, renames every file into place and writes the
// manifest last, naming each array's SHA-256, and records the sums so that the next Open
// need not hash them again. A reader sees the old complete folder, the new one, or a
// folder without a manifest that it refuses.
type Writer struct {
	dir     string
	unlock  func()
	pending []*atomicfile.File
	open    map[string]*atomicfile.File // created with Create, not yet hashed
	arrays  map[string]ArrayInfo
}

// Create starts writing the dataset folder dir (created if need be). who names this writer
// in the error it gets when another holds the folder ("catdog prepare"). What a killed
// writer left in dir is removed.
func Create(dir, who string) (*Writer, error) {
	unlock, err := atomicfile.Lock(dir)
	if err != nil {
		if errors.Is(err, atomicfile.ErrLocked) {
			return nil, fmt.Errorf("%s: another catdog command is writing into %s; wait for it, or choose another --out (%w)", who, dir, err)
		}
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	if err := atomicfile.CleanTemps(dir); err != nil {
		unlock()
		return nil, err
	}
	return &Writer{dir: dir, unlock: unlock, open: map[string]*atomicfile.File{}, arrays: map[string]ArrayInfo{}}, nil
}

// Write writes the file name of the folder through fill, hashing it on the way. An array
// (dtype not empty) is listed in the manifest's Arrays with its dtype, shape and SHA-256;
// other files (charts, records) are written but not listed.
func (w *Writer) Write(name, dtype string, shape []int, fill func(io.Writer) error) error {
	f, err := atomicfile.Create(filepath.Join(w.dir, name))
	if err != nil {
		return err
	}
	w.pending = append(w.pending, f)
	h := sha256.New()
	if err := fill(io.MultiWriter(f, h)); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if dtype != "" {
		w.arrays[name] = ArrayInfo{DType: dtype, Shape: shape, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	return nil
}

// Create returns the temporary file of name, for a writer that must seek (npy.RowWriter,
// which writes rows before it knows their count); Done hashes it once it is written.
func (w *Writer) Create(name string) (io.WriteSeeker, error) {
	f, err := atomicfile.Create(filepath.Join(w.dir, name))
	if err != nil {
		return nil, err
	}
	w.pending = append(w.pending, f)
	w.open[name] = f
	return f, nil
}

// Done hashes the file name made with Create, reading it back, and lists it as an array of
// dtype and shape.
func (w *Writer) Done(name, dtype string, shape []int) error {
	f, ok := w.open[name]
	if !ok {
		return fmt.Errorf("datasets: %s was not made with Create", name)
	}
	delete(w.open, name)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hashing %s: %w", name, err)
	}
	w.arrays[name] = ArrayInfo{DType: dtype, Shape: shape, SHA256: hex.EncodeToString(h.Sum(nil))}
	return nil
}

// Commit completes the folder with manifest m, whose Arrays it sets to the arrays written,
// and releases the lock. ctx is checked before anything is renamed: a cancelled writer
// leaves the old folder as it was.
func (w *Writer) Commit(ctx context.Context, m *Manifest) error {
	defer w.Abort()
	if len(w.open) > 0 {
		return fmt.Errorf("datasets: %d files made with Create were not Done", len(w.open))
	}
	m.Arrays = w.arrays
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	mf, err := atomicfile.Create(filepath.Join(w.dir, ManifestFile))
	if err != nil {
		return err
	}
	w.pending = append(w.pending, mf)
	if _, err := mf.Write(append(mj, '\n')); err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// First drop the old manifest, so that a crash between the renames below leaves a
	// folder that says it is incomplete rather than a mix of two writers'.
	if err := os.Remove(filepath.Join(w.dir, ManifestFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replacing the old manifest: %w", err)
	}
	for len(w.pending) > 0 { // the manifest is the last
		if err := w.pending[0].Commit(); err != nil {
			return err
		}
		w.pending = w.pending[1:]
	}
	sums := map[string]string{}
	for name, a := range m.Arrays {
		sums[name] = a.SHA256
	}
	if err := verify.Record(w.dir, sums); err != nil {
		return fmt.Errorf("recording the checksums: %w", err)
	}
	return nil
}

// Abort removes the temporary files not yet committed and releases the lock; the folder is
// left as it was. It may be called after Commit, which it then leaves alone.
func (w *Writer) Abort() {
	for _, f := range w.pending {
		f.Abort()
	}
	w.pending, w.open = nil, map[string]*atomicfile.File{}
	if w.unlock != nil {
		w.unlock()
		w.unlock = nil
	}
}
