package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestFiles: intact files pass and are stamped; a changed small file fails; a changed large
// file fails when its modification time moved, and is trusted (not hashed) while its size
// and time are those stamped.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	small, big := []byte("labels"), make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(dir, "small.npy"), small, 0o644)
	os.WriteFile(filepath.Join(dir, "big.npy"), big, 0o644)
	want := map[string]string{"small.npy": sum(small), "big.npy": sum(big)}
	if err := Files(dir, want); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, StampFile)); err != nil {
		t.Fatalf("no stamp: %v", err)
	}
	// A byte of the small file flipped: always hashed, always caught.
	os.WriteFile(filepath.Join(dir, "small.npy"), []byte("labelz"), 0o644)
	var me *MismatchError
	if err := Files(dir, want); !errors.As(err, &me) || filepath.Base(me.File) != "small.npy" {
		t.Fatalf("flipped small file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "small.npy"), small, 0o644)
	// The big file changed in place with its time kept: trusted by the stamp (the price of
	// not hashing gigabytes on every open)...
	p := filepath.Join(dir, "big.npy")
	st, _ := os.Stat(p)
	big[100]++
	os.WriteFile(p, big, 0o644)
	os.Chtimes(p, st.ModTime(), st.ModTime())
	if err := Files(dir, want); err != nil {
		t.Fatalf("stamped big file: %v", err)
	}
	// ...and caught as soon as its time says it was written.
	later := st.ModTime().Add(time.Second)
	os.Chtimes(p, later, later)
	if err := Files(dir, want); !errors.As(err, &me) || filepath.Base(me.File) != "big.npy" {
		t.Fatalf("rewritten big file: %v", err)
	}
	// A missing file is an error naming it.
	os.Remove(filepath.Join(dir, "small.npy"))
	if err := Files(dir, want); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestFilesStampedAndHashedTogether: files trusted from the stamp and files hashed in
// parallel are recorded at the same time without a data race (run with -race; before the
// fix this panicked with "concurrent map writes").
func TestFilesStampedAndHashedTogether(t *testing.T) {
	dir := t.TempDir()
	want, stamped := map[string]string{}, map[string]string{}
	for i := 0; i < 24; i++ {
		b := make([]byte, always+i)
		b[0] = byte(i)
		name := "f" + string(rune('a'+i))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name] = sum(b)
		if i%2 == 0 {
			stamped[name] = want[name]
		}
	}
	if err := Record(dir, stamped); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := Files(dir, want); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, StampFile))
		if err := Record(dir, stamped); err != nil {
			t.Fatal(err)
		}
	}
}
