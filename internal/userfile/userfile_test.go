package userfile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tree makes a folder of every kind of thing a user (or a hostile model) can put where a
// file is expected, and returns it with a folder outside it.
func tree(t *testing.T) (dir, outsideDir string) {
	t.Helper()
	base := t.TempDir()
	dir, outsideDir = filepath.Join(base, "model"), filepath.Join(base, "elsewhere")
	for _, d := range []string{dir, outsideDir, filepath.Join(dir, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "w.bin"), "weights")
	write(filepath.Join(outsideDir, "secret"), "root:x:0:0:")
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link("w.bin", "rel-link")                            // relative, inside
	link("../w.bin", "sub/up-link")                      // relative, inside, through ..
	link(filepath.Join(outsideDir, "secret"), "abs-out") // absolute, outside
	link("../elsewhere/secret", "rel-out")               // relative, outside
	link(filepath.Join(dir, "w.bin"), "abs-in")          // absolute, pointing inside
	link("/dev/zero", "zero")                            // a device
	link("fifo", "fifo-link")                            // a link to a FIFO
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err == nil {
		t.Cleanup(func() { l.Close() })
	}
	return dir, outsideDir
}

func TestOpen(t *testing.T) {
	dir, _ := tree(t)
	tests := []struct {
		name string
		want string // "" for success, else a substring of the error
		is   error
	}{
		{"w.bin", "", nil},
		{"rel-link", "", nil},
		{"abs-out", "", nil}, // a link the user made: Open follows it, OpenIn does not
		{"fifo", "named pipe (FIFO)", ErrNotRegular},
		{"fifo-link", "named pipe (FIFO)", ErrNotRegular},
		{"zero", "character device", ErrNotRegular},
		{"sub", "folder", ErrNotRegular},
		{"sock", "socket", ErrNotRegular},
		{"missing", "no such file", os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "sock" {
				if _, err := os.Lstat(filepath.Join(dir, "sock")); err != nil {
					t.Skip("no unix socket here")
				}
			}
			start := time.Now()
			f, err := Open(filepath.Join(dir, tc.name))
			if time.Since(start) > time.Second {
				t.Errorf("Open took %v", time.Since(start))
			}
			check(t, f, err, tc.want, tc.is)
		})
	}
}

func TestOpenIn(t *testing.T) {
	dir, _ := tree(t)
	tests := []struct {
		name string
		want string
		is   error
	}{
		{"w.bin", "", nil},
		{"rel-link", "", nil},
		{"sub/up-link", "", nil},
		{"abs-out", "through a symbolic link", ErrOutside},
		{"rel-out", "through a symbolic link", ErrOutside},
		{"abs-in", "through a symbolic link", ErrOutside}, // absolute links are never followed
		{"../elsewhere/secret", "by its name", ErrOutside},
		{"/etc/passwd", "by its name", ErrOutside},
		{"zero", "through a symbolic link", ErrOutside},
		{"fifo", "named pipe (FIFO)", ErrNotRegular},
		{"fifo-link", "named pipe (FIFO)", ErrNotRegular},
		{"sub", "folder", ErrNotRegular},
		{"missing", "no such file", os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := OpenIn(dir, tc.name)
			check(t, f, err, tc.want, tc.is)
			if err != nil && errors.Is(err, ErrOutside) && strings.Contains(tc.name, "out") && !strings.Contains(err.Error(), "elsewhere/secret") {
				t.Errorf("the error does not say where the link leads: %v", err)
			}
		})
	}
}

func check(t *testing.T, f *os.File, err error, want string, is error) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("error %v", err)
		}
		defer f.Close()
		b := make([]byte, 7)
		if _, err := f.Read(b); err != nil || (string(b) != "weights" && string(b) != "root:x:") {
			t.Errorf("read %q, %v", b, err)
		}
		return
	}
	if err == nil {
		f.Close()
		t.Fatalf("no error, want one saying %q", want)
	}
	if !strings.Contains(err.Error(), want) || (is != nil && !errors.Is(err, is)) {
		t.Errorf("error %q, want it to say %q and wrap %v", err, want, is)
	}
}

// TestReadFileLimit: the size is checked before any read, so a sparse file of 29 GB costs
// nothing to refuse.
func TestReadFileLimit(t *testing.T) {
	dir := t.TempDir()
	small, huge := filepath.Join(dir, "small"), filepath.Join(dir, "huge")
	if err := os.WriteFile(small, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(29 << 30); err != nil { // sparse: no disk used
		t.Skipf("sparse file: %v", err)
	}
	f.Close()
	tests := []struct {
		path  string
		limit int64
		want  int // bytes, or -1 for a *TooLargeError
	}{
		{small, 10, 10},
		{small, 0, 10},
		{small, 9, -1},
		{huge, 1 << 30, -1},
	}
	for _, tc := range tests {
		b, err := ReadFile(tc.path, tc.limit)
		var tl *TooLargeError
		switch {
		case tc.want < 0 && !errors.As(err, &tl):
			t.Errorf("%s under %d: %v, want a *TooLargeError", tc.path, tc.limit, err)
		case tc.want < 0 && (tl.Limit != tc.limit || !strings.Contains(err.Error(), "more than")):
			t.Errorf("error %v", err)
		case tc.want >= 0 && (err != nil || len(b) != tc.want):
			t.Errorf("%s under %d: %d bytes, %v", tc.path, tc.limit, len(b), err)
		}
	}
	if _, err := ReadFileIn(dir, "huge", 1<<20); err == nil || !strings.Contains(err.Error(), "29.0 GiB") {
		t.Errorf("ReadFileIn: %v", err)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 20: "3.0 MiB", 29 << 30: "29.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
