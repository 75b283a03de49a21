// Package verify checks the files of a folder against the SHA-256 sums their manifest
// records, cheaply: a file is hashed once, and while its size and modification time stay
// those recorded in the folder's stamp file (StampFile) after a successful check, it is
// trusted without hashing it again. Small files are always hashed.
package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/internal/fetch"
)

// StampFile is the name of the stamp written beside the files checked.
const StampFile = ".verified.json"

// always is the size under which a file is hashed on every check.
const always = 1 << 20

// stamp records, per file, what was checked: its size, modification time and sum.
type stamp map[string]struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mod_time_ns"`
	SHA256  string `json:"sha256"`
}

// MismatchError says that a file's checksum is not the one recorded.
type MismatchError struct {
	File      string // path
	Got, Want string // hex SHA-256
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s has SHA-256 %.16s... where %.16s... was recorded: it changed or is damaged", e.File, e.Got, e.Want)
}

// Files checks that each file name of dir (a key of want) has the SHA-256 want[name]. Files
// are hashed in parallel; a file whose size and modification time match the stamp of an
// earlier successful check, for the same sum, is trusted. After a successful check the
// stamp is updated (when the folder is writable).
func Files(dir string, want map[string]string) error {
	old := stamp{}
	if b, err := os.ReadFile(filepath.Join(dir, StampFile)); err == nil {
		_ = json.Unmarshal(b, &old) // a damaged stamp only means hashing again
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	next := stamp{}
	errs := make([]error, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, name := range names {
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil {
			errs[i] = err
			continue
		}
		rec, ok := old[name]
		if ok && st.Size() >= always && rec.Size == st.Size() && rec.ModTime == st.ModTime().UnixNano() && rec.SHA256 == want[name] {
			mu.Lock() // hashing goroutines of earlier files write next too
			next[name] = rec
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum, err := fetch.SHA256(path)
			if err == nil && sum != want[name] {
				err = &MismatchError{File: path, Got: sum, Want: want[name]}
			}
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			r := next[name]
			r.Size, r.ModTime, r.SHA256 = st.Size(), st.ModTime().UnixNano(), sum
			next[name] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if b, err := json.Marshal(next); err == nil {
		_ = atomicfile.WriteFile(filepath.Join(dir, StampFile), b, 0o644) // best effort: read-only folders still check
	}
	return nil
}

// Record stamps files whose SHA-256 the caller has just computed while writing them (name
// -> sum), so that the next Files call trusts them without hashing them again.
func Record(dir string, sums map[string]string) error {
	st := stamp{}
	if b, err := os.ReadFile(filepath.Join(dir, StampFile)); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	for name, sum := range sums {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		r := st[name]
		r.Size, r.ModTime, r.SHA256 = fi.Size(), fi.ModTime().UnixNano(), sum
		st[name] = r
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, StampFile), b, 0o644)
}
