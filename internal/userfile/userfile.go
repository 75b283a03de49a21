// Package userfile opens the files that a user names, and the files that those name in turn
// (a model's external data, a TensorFlow.js model's weight shards), without the surprises
// of a plain os.Open:
//
//   - only regular files are opened: a FIFO, a device, a socket or a folder is refused with
//     a message saying what it is, and never blocks (a FIFO is opened non-blocking and
//     checked before any read; a path that is not a regular file when looked at is not
//     opened at all);
//   - a file named by another file stays inside the folder it must stay in (OpenIn): the
//     name may not leave it, and neither may any symbolic link on the way (os.Root);
//   - whole-file reads take a byte limit, checked against the file's size before anything
//     is allocated or read (ReadFile, ReadFileIn).
package userfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultModelBytes is the limit on what reading one model may take (an ONNX file with its
// external data, a TensorFlow.js model.json with its shards) unless the caller sets another:
// 4 GiB, several times the largest image backbone catdog knows (VGG16: 553 MB). It is the
// one default of onnx.ReadMax, keras.OpenMax, backbones and classifier.
const DefaultModelBytes = 4 << 30

// ModelLimit returns n, or DefaultModelBytes when n is 0 or less.
func ModelLimit(n int64) int64 {
	if n <= 0 {
		return DefaultModelBytes
	}
	return n
}

// ErrNotRegular is wrapped by the errors for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrOutside is wrapped by the errors of OpenIn and ReadFileIn for a name that leads outside
// its folder, by its own text or through a symbolic link.
var ErrOutside = errors.New("leads outside")

// TooLargeError is the error for a file larger than the limit it is read under.
type TooLargeError struct {
	Path        string
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s holds %s, more than the %s allowed", e.Path, Bytes(e.Size), Bytes(e.Limit))
}

// Open opens path for reading. It must be a regular file, or a symbolic link to one; a
// FIFO, device, socket or folder is refused with an error wrapping ErrNotRegular, at once.
func Open(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, st); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	return checkOpened(f, path, st)
}

// OpenIn opens name, a slash- or OS-separated path relative to dir, for reading. It must
// be a regular file inside dir: a name that leaves dir, or a symbolic link (on the way or at
// the end) that points outside it or is absolute, is refused with an error wrapping
// ErrOutside and saying where it leads; anything but a regular file as Open refuses it.
func OpenIn(dir, name string) (*os.File, error) {
	full := filepath.Join(dir, filepath.FromSlash(name))
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return nil, fmt.Errorf("%q %w %s by its name", name, ErrOutside, dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	rel := filepath.FromSlash(name)
	st, err := root.Stat(rel)
	if err != nil {
		return nil, outside(dir, name, full, err)
	}
	if err := regular(full, st); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, outside(dir, name, full, err)
	}
	return checkOpened(f, full, st)
}

// outside turns os.Root's refusal of a path that escapes into an error that says where the
// path leads; other errors (a missing file, say) are returned as they are.
func outside(dir, name, full string, err error) error {
	if _, serr := os.Stat(full); serr != nil {
		return err // missing or unreadable outside the root too: the root's error says so
	}
	target, terr := filepath.EvalSymlinks(full)
	if terr != nil {
		target = "?"
	}
	return fmt.Errorf("%s: %q %w %s through a symbolic link (to %s); only relative links that stay inside are followed", full, name, ErrOutside, dir, target)
}

// regular refuses what st describes unless it is a regular file.
func regular(path string, st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	what := "special file"
	switch {
	case m.IsDir():
		what = "folder"
	case m&fs.ModeNamedPipe != 0:
		what = "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "socket"
	case m&fs.ModeCharDevice != 0:
		what = "character device"
	case m&fs.ModeDevice != 0:
		what = "device"
	}
	return fmt.Errorf("%s is a %s, %w", path, what, ErrNotRegular)
}

// checkOpened makes sure that the file opened is the regular file that was looked at (not
// one swapped in between), and closes it if not.
func checkOpened(f *os.File, path string, before fs.FileInfo) (*os.File, error) {
	st, err := f.Stat()
	if err == nil {
		err = regular(path, st)
	}
	if err == nil && !os.SameFile(st, before) {
		err = fmt.Errorf("%s changed while it was opened", path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile returns the content of path, a regular file (see Open) of at most limit bytes;
// limit <= 0 means no limit. The size is checked before anything is read: a larger file is
// a *TooLargeError. A file that changes size while it is read is an error.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, path, limit)
}

// ReadFileIn is ReadFile for name inside dir (see OpenIn).
func ReadFileIn(dir, name string, limit int64) ([]byte, error) {
	f, err := OpenIn(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, f.Name(), limit)
}

func readAll(f *os.File, path string, limit int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if limit > 0 && size > limit {
		return nil, &TooLargeError{Path: path, Size: size, Limit: limit}
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s shrank while it was read (%d bytes expected)", path, size)
		}
		return nil, err
	}
	var one [1]byte
	if n, _ := f.Read(one[:]); n > 0 {
		return nil, fmt.Errorf("%s grew while it was read (%d bytes expected)", path, size)
	}
	return buf, nil
}

// Bytes formats a byte count for people: "812 B", "3.4 MiB", "2.0 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}
