package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("new contents")); err != nil {
		t.Fatal(err)
	}
	// Before Commit the old file is still there, whole.
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("before commit: got %q", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new contents" {
		t.Fatalf("after commit: got %q", b)
	}
	if err := f.Abort(); err != nil {
		t.Fatalf("abort after commit: %v", err)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("second commit succeeded")
	}
	assertOnly(t, dir, "out.bin")
}

func TestAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("final path exists after abort: %v", err)
	}
	assertOnly(t, dir)
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := WriteFile(filepath.Join(dir, "missing", "a.json"), nil, 0o644); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
	assertOnly(t, dir, "a.json")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("folder holds %v, want %v", got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("folder holds %v, want %v", got, names)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.json")
	if err := WriteJSON(path, map[string]int{"b": 2, "a": 1}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\n  \"a\": 1,\n  \"b\": 2\n}\n" {
		t.Errorf("got %q", b)
	}
	if err := WriteJSON(path, func() {}); err == nil {
		t.Error("a func encoded")
	}
	assertOnly(t, dir, "v.json")
}

// TestLockSaysWhy: only another holder of the lock is reported as ErrLocked; a folder that
// cannot be made or written says why.
func TestLockSaysWhy(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(dir, "held")
	unlock, err := Lock(held)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tests := []struct {
		dir, want string
		locked    bool
	}{
		{file, "is a file, not a folder", false},
		{filepath.Join(file, "sub"), "not a directory", false},
		{held, "locked by another process", true},
	}
	for _, tc := range tests {
		_, err := Lock(tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrLocked) != tc.locked {
			t.Errorf("Lock(%s): %v, want %q (ErrLocked: %v)", tc.dir, err, tc.want, tc.locked)
		}
	}
	// The read-only case, where the test can make one: a folder without write permission
	// (root ignores permissions, so it is skipped there).
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		if _, err := Lock(ro); err == nil || !strings.Contains(err.Error(), "permission denied") || errors.Is(err, ErrLocked) {
			t.Errorf("read-only folder: %v", err)
		}
	}
}
