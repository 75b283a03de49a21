// Package ort is catdog's glue over onnxruntime (github.com/yalue/onnxruntime_go).
//
// It finds the onnxruntime shared library (see FindLibrary), initialises the onnxruntime
// environment once per process, and opens sessions with a chosen execution provider
// ("auto", "cuda" or "cpu") and all CPU cores for intra-op parallelism.
//
// onnxruntime_go keeps its environment in process-wide variables: there can be only one,
// loaded from one library file. This package mirrors that honestly with one process-wide
// reference count: every Open returns an *Env that holds one reference, and the environment is
// destroyed when the last Env is closed. Two packages of the same program (features and
// classifier, say) can therefore each Open and Close without stepping on each other.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// LibraryEnv is the environment variable that names the onnxruntime shared library.
const LibraryEnv = "ONNXRUNTIME_LIB"

// depsDir is where scripts/setup.sh installs the library, relative to the repository root.
var depsDir = filepath.Join(".deps", "onnxruntime")

// ErrNoLibrary is returned (wrapped) when the onnxruntime shared library cannot be found.
var ErrNoLibrary = errors.New("onnxruntime shared library not found")

// FindLibrary returns the path of the onnxruntime shared library: the file named by
// $ONNXRUNTIME_LIB if set (it must exist), else the first .deps/onnxruntime/libonnxruntime.so*
// found in the working directory or one of its parents, else beside the executable (or in
// its parent folders). The error says how to install it.
func FindLibrary() (string, error) {
	wd, _ := os.Getwd()
	exe, _ := os.Executable()
	return findLibrary(os.Getenv(LibraryEnv), wd, exe)
}

func findLibrary(envPath, wd, exe string) (string, error) {
	if envPath != "" {
		st, err := os.Stat(envPath)
		if err != nil {
			return "", fmt.Errorf("%w: %s=%s: %w", ErrNoLibrary, LibraryEnv, envPath, err)
		}
		if st.IsDir() {
			return "", fmt.Errorf("%w: %s=%s is a folder, it must name the libonnxruntime.so file", ErrNoLibrary, LibraryEnv, envPath)
		}
		return envPath, nil
	}
	var tried []string
	for _, start := range []string{wd, dirOf(exe)} {
		if start == "" {
			continue
		}
		for dir := start; ; {
			d := filepath.Join(dir, depsDir)
			tried = append(tried, d)
			if p := libraryIn(d); p != "" {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("%w (looked in %s): run `bash scripts/setup.sh` in the catdog repository, or set %s to the path of libonnxruntime.so",
		ErrNoLibrary, strings.Join(dedup(tried), ", "), LibraryEnv)
}

func dirOf(exe string) string {
	if exe == "" {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(exe)
}

// libraryIn returns the preferred libonnxruntime.so* file in dir: the plain .so name if
// present, else the versioned file with the longest name (most specific version).
func libraryIn(dir string) string {
	matches, _ := filepath.Glob(filepath.Join(dir, "libonnxruntime.so*"))
	var files []string
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && !st.IsDir() && !strings.Contains(filepath.Base(m), ".tmp") {
			files = append(files, m)
		}
	}
	if len(files) == 0 {
		return ""
	}
	sort.Slice(files, func(i, j int) bool {
		if len(files[i]) != len(files[j]) {
			return len(files[i]) < len(files[j])
		}
		return files[i] < files[j]
	})
	return files[0]
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// process is the reference count of the process-wide onnxruntime environment. It exists
// only because onnxruntime_go's environment is itself process-wide.
var process struct {
	mu      sync.Mutex
	refs    int
	library string
	// told is set once a CPU fallback was reported: the notice is given once a process.
	told bool
}

// Env is one reference to the process-wide onnxruntime environment. Close it when done.
type Env struct {
	once    sync.Once
	library string
}

// Open initialises onnxruntime (once per process) from the library FindLibrary finds and
// returns a reference to it. Later calls while the environment lives return new references
// to the same environment.
func Open() (*Env, error) {
	process.mu.Lock()
	defer process.mu.Unlock()
	if process.refs > 0 {
		process.refs++
		return &Env{library: process.library}, nil
	}
	lib, err := FindLibrary()
	if err != nil {
		return nil, err
	}
	if onnxruntime.IsInitialized() {
		// Someone else in this process initialised onnxruntime_go directly. Share it, but
		// never destroy what we did not create.
		process.refs = 2
		process.library = lib
		return &Env{library: lib}, nil
	}
	onnxruntime.SetSharedLibraryPath(lib)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelFatal()); err != nil {
		return nil, fmt.Errorf("starting onnxruntime from %s: %w (run `bash scripts/setup.sh` or set %s to a working libonnxruntime.so)", lib, err, LibraryEnv)
	}
	process.refs = 1
	process.library = lib
	return &Env{library: lib}, nil
}

// CUDABuild reports whether the loaded library is a CUDA build: onnxruntime's CUDA provider
// (libonnxruntime_providers_cuda.so) sits beside it. A CPU build, such as the one
// scripts/setup.sh installs, has none, and "auto" then uses the CPU without trying CUDA.
func (e *Env) CUDABuild() bool {
	_, err := os.Stat(filepath.Join(filepath.Dir(e.library), cudaProvider))
	return err == nil
}

// cudaProvider is the file of onnxruntime's CUDA execution provider.
const cudaProvider = "libonnxruntime_providers_cuda.so"

// firstFallback reports whether a CPU fallback has not been reported yet in this process,
// and marks it reported.
func firstFallback() bool {
	process.mu.Lock()
	defer process.mu.Unlock()
	first := !process.told
	process.told = true
	return first
}

// Library returns the path of the loaded onnxruntime library.
func (e *Env) Library() string { return e.library }

// Version returns the version of the loaded onnxruntime library, e.g. "1.30.0".
func (e *Env) Version() string { return onnxruntime.GetVersion() }

// Close gives the reference back; the last one destroys the environment. Closing twice is
// harmless. Sessions must be closed before their Env.
func (e *Env) Close() error {
	var err error
	e.once.Do(func() {
		process.mu.Lock()
		defer process.mu.Unlock()
		if process.refs == 0 {
			return
		}
		process.refs--
		if process.refs == 0 {
			if derr := onnxruntime.DestroyEnvironment(); derr != nil {
				err = fmt.Errorf("closing onnxruntime: %w", derr)
			}
		}
	})
	return err
}

// Threads is the default intra-op thread count: every core.
func Threads() int { return runtime.NumCPU() }
