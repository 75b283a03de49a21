// Package atomicfile writes files so that a reader never sees a half-written file under its
// final name: data goes to a temporary file in the same folder, which Commit syncs and renames
// over the final path, and Abort removes.
//
// A typical use:
//
//	f, err := atomicfile.Create(path)
//	if err != nil {
//		return err
//	}
//	defer f.Abort() // no-op after a successful Commit
//	if _, err := f.Write(data); err != nil {
//		return err
//	}
//	return f.Commit()
package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a temporary file that becomes the final path on Commit. It embeds *os.File, so it
// can be written, seeked and read like any file before Commit.
type File struct {
	*os.File
	path string
	perm fs.FileMode
	done bool
}

// Create opens a new temporary file beside path (named path.tmp-*) with mode 0644.
// Nothing appears under path until Commit.
func Create(path string) (*File, error) {
	return CreatePerm(path, 0o644)
}

// CreatePerm is Create with the given permission bits for the final file.
func CreatePerm(path string, perm fs.FileMode) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("atomicfile: %w", err)
	}
	return &File{File: f, path: path, perm: perm}, nil
}

// Path returns the final path the file will have after Commit.
func (f *File) Path() string { return f.path }

// Commit flushes the data to disk, closes the file and renames it to its final path,
// replacing any file there. After a failed Commit the temporary file is removed.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: commit after commit or abort")
	}
	f.done = true
	tmp := f.File.Name()
	err := f.File.Chmod(f.perm)
	if err == nil {
		err = f.File.Sync()
	}
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: writing %s: %w", f.path, err)
	}
	syncDir(filepath.Dir(f.path))
	return nil
}

// Abort closes and removes the temporary file. It is safe to call after Commit (it then
// does nothing), so it suits a defer.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	tmp := f.File.Name()
	cerr := f.File.Close()
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		return fmt.Errorf("atomicfile: %w", cerr)
	}
	return nil
}

// WriteFile writes data to path atomically, like os.WriteFile.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := CreatePerm(path, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	return f.Commit()
}

// syncDir makes a rename durable; failures are ignored (some file systems refuse it).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// WriteJSON writes v as indented JSON, with a final newline, to path atomically (mode 0644).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("atomicfile: encoding %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'), 0o644)
}

// LockFile is the name of the lock file Lock creates in a folder.
const LockFile = ".lock"

// ErrLocked is wrapped by the error of Lock when another process holds the folder.
var ErrLocked = errors.New("the folder is locked by another process")

// Lock takes an exclusive lock on the folder dir (creating it), for a writer that replaces
// several files there: a second writer gets an error wrapping ErrLocked instead of mixing
// its files with the first's. The lock goes with the process if it dies; unlock releases
// it. Any other reason the folder cannot be written (a file of that name, a read-only file
// system, no permission) is an error that says so and does not wrap ErrLocked.
func Lock(dir string) (unlock func(), err error) {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("%s is a file, not a folder", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the folder %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot write into %s: %w", dir, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("cannot lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// CleanTemps removes the temporary files (name.tmp-*) that writers killed before Commit
// or Abort left in dir. Call it holding Lock.
func CleanTemps(dir string) error {
	ms, err := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := os.RemoveAll(m); err != nil {
			return fmt.Errorf("atomicfile: removing a left-over temporary file: %w", err)
		}
	}
	return nil
}
