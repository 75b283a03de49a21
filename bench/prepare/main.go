// Command prepare-bench compares dataset preparation done naively with catdog's
// datasets.Prepare, side by side on the same photos, each variant in its own child process
// so that their peak memory (getrusage ru_maxrss of the child) does not mix.
//
//	go run ./bench/prepare                     # 3000 photos at 200x200
//	go run ./bench/prepare -n 1000 -size 64
//	go run ./bench/prepare -big                # also prepare every shared photo at 224x224
//
// The naive loader is what a first Go version looks like: one goroutine decodes each file
// with image.Decode, resizes it with golang.org/x/image/draw's BiLinear scaler into an
// RGBA image, converts it pixel by pixel (At) to float32 and keeps every image in a slice,
// then writes them all. Prepare decodes on all cores, resizes the JPEG planes directly,
// and streams uint8 rows to disk.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	_ "image/jpeg"
	_ "image/png"

	"golang.org/x/image/draw"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/imgutil"
	"github.com/catdog-ml/catdog/internal/npy"
)

type childResult struct {
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
}

type measured struct {
	childResult
	MaxRSSMiB  float64
	CPUSeconds float64 // user + system time of the child
}

func main() {
	n := flag.Int("n", 3000, "number of photos (half cats, half dogs, the first by name)")
	size := flag.Int("size", 200, "image side")
	data := flag.String("data", "", "photo folder (default: shared/data/dogs-vs-cats/train beside the repository)")
	big := flag.Bool("big", false, "also run prepare at 224x224 on every photo of -data and check peak memory")
	limit := flag.Float64("limit-mib", 256, "peak memory bound for prepare, MiB")
	child := flag.String("child", "", "internal: run one variant (naive or prepare) on -data into -out")
	out := flag.String("out", "", "internal: output folder of a child")
	flag.Parse()

	if *child != "" {
		if err := runChild(*child, *data, *out, *size); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	if *data == "" {
		d, err := findShared()
		if err != nil {
			fatal(err)
		}
		*data = d
	}
	tmp, err := os.MkdirTemp("", "prepare-bench-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(tmp)

	// The same n photos for both: links in a folder of their own.
	files, err := filepath.Glob(filepath.Join(*data, "*.jpg"))
	if err != nil || len(files) == 0 {
		fatal(fmt.Errorf("no photos in %s", *data))
	}
	files = balanced(files, *n)
	subset := filepath.Join(tmp, "photos")
	os.Mkdir(subset, 0o755)
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		if err := os.Symlink(abs, filepath.Join(subset, filepath.Base(f))); err != nil {
			fatal(err)
		}
	}
	// Warm the page cache so that neither variant pays for the first read.
	for _, f := range files {
		os.ReadFile(f)
	}
	fmt.Printf("%d photos from %s, %dx%d, %d CPUs (GOMAXPROCS %d), %s\n\n", len(files), *data, *size, *size, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	naive, err := spawn("naive", subset, filepath.Join(tmp, "naive"), *size)
	if err != nil {
		fatal(err)
	}
	prep, err := spawn("prepare", subset, filepath.Join(tmp, "prepare"), *size)
	if err != nil {
		fatal(err)
	}
	prep1, err := spawn("prepare-1", subset, filepath.Join(tmp, "prepare1"), *size)
	if err != nil {
		fatal(err)
	}
	fmt.Printf("%-10s %7s %8s %9s %13s %13s\n", "variant", "images", "seconds", "images/s", "CPU ms/image", "peak RSS MiB")
	for _, r := range []struct {
		name string
		m    measured
	}{{"naive", naive}, {"prepare", prep}, {"prepare-1", prep1}} {
		fmt.Printf("%-10s %7d %8.2f %9.1f %13.2f %13.1f\n", r.name, r.m.Images, r.m.Seconds, float64(r.m.Images)/r.m.Seconds,
			1000*r.m.CPUSeconds/float64(r.m.Images), r.m.MaxRSSMiB)
	}
	speed := (float64(prep.Images) / prep.Seconds) / (float64(naive.Images) / naive.Seconds)
	fmt.Printf("\n(prepare-1 is prepare with one worker: the gain per core, without parallelism.)\n")
	fmt.Printf("throughput prepare/naive: %.2fx (target >= 3x); one worker: %.2fx; CPU per image naive/prepare: %.2fx\n", speed,
		(float64(prep1.Images)/prep1.Seconds)/(float64(naive.Images)/naive.Seconds),
		(naive.CPUSeconds/float64(naive.Images))/(prep.CPUSeconds/float64(prep.Images)))
	fmt.Printf("peak memory naive/prepare: %.2fx (prepare %.1f MiB, bound %.0f MiB)\n", naive.MaxRSSMiB/prep.MaxRSSMiB, prep.MaxRSSMiB, *limit)

	if *big {
		all, _ := filepath.Glob(filepath.Join(*data, "*.jpg"))
		fmt.Printf("\nprepare at 224x224 on all %d photos of %s:\n", len(all), *data)
		m, err := spawn("prepare", *data, filepath.Join(tmp, "big"), 224)
		if err != nil {
			fatal(err)
		}
		verdict := "within"
		if m.MaxRSSMiB > *limit {
			verdict = "OVER"
		}
		fmt.Printf("  %d images in %.1f s (%.1f images/s), peak RSS %.1f MiB: %s the %.0f MiB bound (arrays: %.0f MiB on disk)\n",
			m.Images, m.Seconds, float64(m.Images)/m.Seconds, m.MaxRSSMiB, verdict, *limit, float64(m.Images)*224*224*3/(1<<20))
	}
}

// spawn runs this program as a child for one variant and reads its peak RSS.
func spawn(variant, data, out string, size int) (measured, error) {
	exe, err := os.Executable()
	if err != nil {
		return measured{}, err
	}
	cmd := exec.Command(exe, "-child", variant, "-data", data, "-out", out, "-size", fmt.Sprint(size))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		return measured{}, fmt.Errorf("%s: %w", variant, err)
	}
	var m measured
	if err := json.Unmarshal(stdout, &m.childResult); err != nil {
		return measured{}, fmt.Errorf("%s: reading result %q: %w", variant, stdout, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return measured{}, fmt.Errorf("no rusage on this system")
	}
	m.MaxRSSMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
	m.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return m, nil
}

func runChild(variant, data, out string, size int) error {
	start := time.Now()
	var n int
	var err error
	switch variant {
	case "naive":
		n, err = naive(data, out, size)
	case "prepare", "prepare-1":
		workers := 0 // all cores
		if variant == "prepare-1" {
			workers = 1
		}
		var m *datasets.Manifest
		m, err = datasets.Prepare(context.Background(), datasets.Options{Data: data, Out: out, Size: size, Filter: imgutil.Bilinear, Workers: workers})
		if m != nil {
			n = m.Kept
		}
	default:
		err = fmt.Errorf("unknown variant %q", variant)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(childResult{Images: n, Seconds: time.Since(start).Seconds()})
}

// naive is the straightforward loader: sequential, float32 kept for every image.
func naive(data, out string, size int) (int, error) {
	files, err := filepath.Glob(filepath.Join(data, "*.jpg"))
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	var images [][]float32
	var labels []uint8
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return 0, err
		}
		img, _, err := image.Decode(fh)
		fh.Close()
		if err != nil {
			continue
		}
		dst := image.NewRGBA(image.Rect(0, 0, size, size))
		draw.BiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
		px := make([]float32, 0, size*size*3)
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				r, g, b, _ := dst.At(x, y).RGBA()
				px = append(px, float32(r>>8)/255, float32(g>>8)/255, float32(b>>8)/255)
			}
		}
		images = append(images, px)
		if strings.HasPrefix(filepath.Base(f), "cat.") {
			labels = append(labels, 1)
		} else {
			labels = append(labels, 0)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	all := make([]float32, 0, len(images)*size*size*3)
	for _, im := range images {
		all = append(all, im...)
	}
	if err := npy.WriteFile(filepath.Join(out, "photos.npy"), []int{len(images), size, size, 3}, all); err != nil {
		return 0, err
	}
	return len(images), npy.WriteFile(filepath.Join(out, "labels.npy"), []int{len(labels)}, labels)
}

// balanced returns up to n files, half cats and half dogs, the first of each by name.
func balanced(files []string, n int) []string {
	sort.Strings(files)
	var cats, dogs []string
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "cat.") {
			cats = append(cats, f)
		} else {
			dogs = append(dogs, f)
		}
	}
	nc := min(len(cats), n/2)
	nd := min(len(dogs), n-nc)
	out := append(cats[:nc:nc], dogs[:nd]...)
	sort.Strings(out)
	return out
}

// findShared looks for shared/data/dogs-vs-cats/train beside the repository (or under
// $CATDOG_SHARED).
func findShared() (string, error) {
	if d := os.Getenv("CATDOG_SHARED"); d != "" { // the shared folder, or its data folder
		if st, err := os.Stat(filepath.Join(d, "data")); err == nil && st.IsDir() {
			d = filepath.Join(d, "data")
		}
		return filepath.Join(d, "dogs-vs-cats", "train"), nil
	}
	dir, _ := os.Getwd()
	for {
		c := filepath.Join(dir, "..", "shared", "data", "dogs-vs-cats", "train")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return filepath.Clean(c), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("shared/data/dogs-vs-cats/train not found (use -data)")
		}
		dir = parent
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "prepare-bench:", err)
	os.Exit(1)
}
