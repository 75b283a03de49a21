// Package testdata finds the data that catdog's tests share: the real photos in
// shared/data beside the repository (or under $CATDOG_SHARED). Outside CI a missing folder
// skips the test; in CI (CI=true) it fails it, so that missing data is never a silent pass.
package testdata

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Shared returns the folder shared/data/<name> (for example "dogs-vs-cats/train"), found
// under $CATDOG_SHARED (which may name shared/ or shared/data) or upwards from the working
// directory, as shared/data/<name> or ../shared/data/<name>.
func Shared(t testing.TB, name string) string {
	t.Helper()
	var cands []string
	if s := os.Getenv("CATDOG_SHARED"); s != "" {
		cands = append(cands, filepath.Join(s, "data", name), filepath.Join(s, name))
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		cands = append(cands, filepath.Join(d, "shared", "data", name), filepath.Join(filepath.Dir(d), "shared", "data", name))
		if filepath.Dir(d) == d {
			break
		}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI: shared data %q not found (set CATDOG_SHARED)", name)
	}
	t.Skipf("shared data %q not found (set CATDOG_SHARED)", name)
	return ""
}

// Photos copies n photos of the shared training set (cat.N.jpg, dog.N.jpg), half of each
// class, into a new folder of the test's and returns it.
func Photos(t testing.TB, n int) string {
	t.Helper()
	train := Shared(t, "dogs-vs-cats/train")
	entries, err := os.ReadDir(train)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "train")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"cat": n / 2, "dog": n - n/2}
	for _, e := range entries { // sorted by name
		class, _, ok := strings.Cut(e.Name(), ".")
		if !ok || want[class] == 0 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(train, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		want[class]--
	}
	if want["cat"]+want["dog"] > 0 {
		t.Fatalf("%s holds fewer than %d photos of each class", train, n/2)
	}
	return dst
}

// Python returns a python3 executable that can import every module given (for example
// "numpy", "onnx", "torch"): $CATDOG_PYTHON, then python3 on PATH, then /usr/bin/python3.
// Python serves tests only. Without one the test is skipped, or fails in CI (CI=true), whose
// setup installs Debian's python3-<module> packages.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("CATDOG_PYTHON"); p != "" {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "python3", "/usr/bin/python3")
	imports := "import " + strings.Join(modules, ", ")
	for _, c := range candidates {
		cmd := exec.Command(c, "-c", imports)
		cmd.Dir = os.TempDir() // never pick up a folder named like a module in the working dir
		if cmd.Run() == nil {
			return c
		}
	}
	var pkgs []string
	for _, m := range modules {
		pkgs = append(pkgs, "python3-"+strings.ToLower(strings.Split(m, ".")[0]))
	}
	msg := fmt.Sprintf("no python3 that can %q (Debian: %s; or set CATDOG_PYTHON)", imports, strings.Join(pkgs, " "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
