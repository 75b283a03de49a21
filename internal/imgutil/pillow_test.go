package imgutil

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// TestMatchesPillow resizes the same RGB pixels with this package and with Pillow
// (Image.resize, whose filters use the same widened kernels): bilinear and catmullrom
// must agree within rounding.
func TestMatchesPillow(t *testing.T) {
	py := pythonWith(t, "PIL")
	dir := t.TempDir()
	var cases []string
	for i, path := range samplePhotos(t, 4) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := Decode(data, 0)
		if err != nil {
			t.Fatal(err)
		}
		rgba := image.NewRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
		var b bytes.Buffer
		png.Encode(&b, rgba)
		src := filepath.Join(dir, fmt.Sprintf("src%d.png", i))
		os.WriteFile(src, b.Bytes(), 0o644)
		for _, f := range []Filter{Bilinear, Nearest, CatmullRom} {
			for _, size := range []int{32, 150, 224, 640} {
				dst := make([]uint8, size*size*3)
				if err := ResizeImage(rgba, size, f, dst); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, fmt.Sprintf("go%d-%v-%d.raw", i, f, size))
				os.WriteFile(out, dst, 0o644)
				cases = append(cases, fmt.Sprintf("%s %s %v %d", src, out, f, size))
			}
		}
	}
	script := `
import sys
import numpy as np
from PIL import Image
filters = {"bilinear": Image.BILINEAR, "nearest": Image.NEAREST, "catmullrom": Image.BICUBIC}
for line in sys.stdin:
    src, out, f, size = line.split()
    size = int(size)
    want = np.asarray(Image.open(src).convert("RGB").resize((size, size), filters[f]), dtype=np.int16)
    got = np.fromfile(out, dtype=np.uint8).reshape(size, size, 3).astype(np.int16)
    d = np.abs(want - got)
    print(src.split("/")[-1], f, size, int(d.max()), float(d.mean()))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(strings.Join(cases, "\n") + "\n")
	outp, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pillow: %v\n%s", err, outp)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(outp)), "\n") {
		var name, f string
		var size, maxd int
		var mean float64
		if _, err := fmt.Sscan(line, &name, &f, &size, &maxd, &mean); err != nil {
			t.Fatalf("pillow output %q: %v", line, err)
		}
		if f == Nearest.String() {
			// Pillow steps its float coordinate by adding the scale pixel by pixel, so
			// samples that fall exactly on a boundary may round the other way: only a few
			// rows or columns may differ.
			if mean > 3 {
				t.Errorf("%s %s at %d: differs from Pillow by %.3f on average", name, f, size, mean)
			}
			continue
		}
		if maxd > 1 || mean > 0.05 {
			t.Errorf("%s %s at %d: differs from Pillow by up to %d (mean %.3f)", name, f, size, maxd, mean)
		}
	}
}

// pythonWith finds a Python 3 with numpy and module (see fixtures.Python).
func pythonWith(t *testing.T, module string) string {
	t.Helper()
	return fixtures.Python(t, "numpy", module)
}
