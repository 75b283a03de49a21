package datasets

import (
	"context"
	"encoding/json"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/npy"
)

// TestClassFolders prepares real CIFAR-10 photos laid out as users bring them: a folder per
// class, wrapped in a folder, zipped, with classes picked or ordered by Options.Classes.
func TestClassFolders(t *testing.T) {
	const per = 10
	cifar := fixtures.ClassPhotos(t, "cifar-10/train", per, "cat", "airplane", "truck")
	sorted := []string{"airplane", "cat", "truck"}
	tests := []struct {
		name    string
		make    func(dir string) string
		classes []string
		want    []string
		skipped int
	}{
		{"folder per class", func(string) string { return cifar }, nil, sorted, 0},
		{"no classes named", func(string) string { return cifar }, []string{}, sorted, 0},
		{"wrapped in train/", func(dir string) string {
			for _, c := range sorted {
				files, err := filepath.Glob(filepath.Join(cifar, c, "*.jpg"))
				must(t, err)
				link(t, dir, filepath.Join("train", c), files, nil)
			}
			writeFiles(t, dir, map[string][]byte{"train/README.txt": []byte("hello"), "train/.DS_Store": []byte("x")})
			return dir
		}, nil, sorted, 2},
		{"zip", func(dir string) string {
			z := filepath.Join(dir, "photos.zip")
			zipFolder(t, cifar, z, map[string][]byte{"__MACOSX/x/._a.jpg": []byte("x")})
			return z
		}, nil, sorted, 1},
		{"classes in a given order", func(string) string { return cifar }, []string{"truck", "cat", "airplane"}, []string{"truck", "cat", "airplane"}, 0},
		{"classes picked", func(string) string { return cifar }, []string{"truck", "airplane"}, []string{"truck", "airplane"}, per},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.make(t.TempDir())
			out := t.TempDir()
			var balanced []string
			m, err := Prepare(context.Background(), Options{Data: src, Out: out, Size: 32, Classes: tt.classes, Seed: 1,
				OnBalance: func(classes []string, b Balance) { balanced = classes }})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.ClassesAsked, tt.classes) && len(tt.classes) > 0 {
				t.Errorf("classes asked %q, want %q", m.ClassesAsked, tt.classes)
			}
			if !slices.Equal(m.Classes, tt.want) || !slices.Equal(balanced, tt.want) {
				t.Fatalf("classes %q (balance %q), want %q", m.Classes, balanced, tt.want)
			}
			if len(m.Skipped) != tt.skipped || m.Seen != m.Kept+len(m.Skipped) {
				t.Errorf("seen %d, kept %d, skipped %v; want %d skipped", m.Seen, m.Kept, m.Skipped, tt.skipped)
			}
			if m.Kept != per*len(tt.want) || m.Counts.Total() != m.Kept || m.Balance.Imbalance != 1 {
				t.Errorf("kept %d, counts %v, balance %+v", m.Kept, m.Counts, m.Balance)
			}
			if p, l := m.ArrayFiles(); p != ClassPhotosFile || l != ClassLabelsFile {
				t.Errorf("array files %s, %s", p, l)
			}
			ds, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Close()
			if !slices.Equal(ds.Classes(), tt.want) {
				t.Errorf("Open: classes %q", ds.Classes())
			}
			// Each row's label names its folder; each split holds 6/2/2 of each class.
			for i, l := range ds.Labels() {
				if folder := strings.Split(ds.File(i), "/"); !slices.Contains(folder, tt.want[l]) {
					t.Fatalf("row %d (%s) has label %d = %s", i, ds.File(i), l, tt.want[l])
				}
			}
			for s, n := range map[string]int{Train: 6, Valid: 2, Test: 2} {
				for c, got := range m.Splits[s].Counts {
					if got != n {
						t.Errorf("split %s has %d of %s, want %d", s, got, tt.want[c], n)
					}
				}
			}
		})
	}
}

// TestClassLayouts: which layouts keep the study's labels, and which are a folder per class.
func TestClassLayouts(t *testing.T) {
	img := synthetic(9, 9, color.White)
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{"cats, dogs and more", []string{"cats/1.png", "dogs/1.png", "birds/1.png"}, []string{"birds", "cats", "dogs"}},
		{"dog and cat among others", []string{"cat/1.png", "dog/1.png", "frog/1.png"}, []string{"cat", "dog", "frog"}},
		{"splits of dogs and cats", []string{"train/cats/1.png", "train/dogs/1.png", "valid/cats/2.png", "valid/dogs/2.png"}, []string{"dog", "cat"}},
		{"Kaggle names beside test1/", []string{"train/cat.1.png", "train/dog.1.png", "test1/1.png"}, []string{"dog", "cat"}},
		{"files beside the class folders", []string{"ok/1.png", "scratch/1.png", "notes.png"}, []string{"ok", "scratch"}},
		{"deeper files", []string{"ok/a/1.png", "ok/b/2.png", "scratch/c/1.png"}, []string{"ok", "scratch"}},
		{"Kaggle names in class folders beside another class", []string{"animals/cat/cat.1.png", "animals/dog/dog.1.png", "animals/fox/fox.1.png", "animals/fox/2.png"}, []string{"cat", "dog", "fox"}},
		{"a Kaggle-like name in a class folder", []string{"daisy/1.png", "rose/2.png", "rose/dog.png"}, []string{"daisy", "rose"}},
		{"PetImages", []string{"PetImages/Cat/1.png", "PetImages/Dog/1.png"}, []string{"dog", "cat"}},
		{"train.zip beside its extracted photos", []string{"train.zip", "train/cat.1.png", "train/dog.1.png"}, []string{"dog", "cat"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string][]byte{}
			for _, f := range tt.files {
				files[f] = img
			}
			writeFiles(t, dir, files)
			m, err := Prepare(context.Background(), Options{Data: dir, Out: t.TempDir(), Size: 32})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Classes, tt.want) {
				t.Errorf("classes %q, want %q", m.Classes, tt.want)
			}
		})
	}
}

func TestClassErrors(t *testing.T) {
	img := synthetic(9, 9, color.White)
	tests := []struct {
		name    string
		files   []string
		classes []string
		want    string
	}{
		{"one folder", []string{"roses/1.png", "roses/2.png"}, nil, "one folder, roses"},
		{"split folders", []string{"train/a/1.png", "test/a/1.png"}, nil, "splits rather than classes"},
		{"a class without photos", []string{"ok/1.png", "ok/2.png", "scratch/x.txt"}, nil, "none of class scratch"},
		{"a named class with no folder", []string{"ok/1.png", "scratch/1.png"}, []string{"ok", "dent"}, `class "dent" has no folder`},
		{"one class named", []string{"ok/1.png", "scratch/1.png"}, []string{"ok"}, "want 2 to 256"},
		{"a class named twice", []string{"ok/1.png", "scratch/1.png"}, []string{"ok", "ok"}, "repeated"},
		{"Kaggle names reordered", []string{"cat.1.png", "dog.1.png"}, []string{"cat", "dog"}, "labelled dog and cat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string][]byte{}
			for _, f := range tt.files {
				files[f] = img
				if strings.HasSuffix(f, ".txt") {
					files[f] = []byte("not a photo")
				}
			}
			writeFiles(t, dir, files)
			_, err := Prepare(context.Background(), Options{Data: dir, Out: t.TempDir(), Size: 32, Classes: tt.classes})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestSmallClassWarns: a class of fewer than SmallClass photos is named in a warning.
func TestSmallClassWarns(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"rare/1.png": synthetic(9, 9, color.White)}
	for i := range SmallClass {
		files["common/"+strings.Repeat("x", i+1)+".png"] = synthetic(9, 9, color.Black)
	}
	writeFiles(t, dir, files)
	var warned []string
	if _, err := Prepare(context.Background(), Options{Data: dir, Out: t.TempDir(), Size: 32, Warn: func(s string) { warned = append(warned, s) }}); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(warned, func(w string) bool { return strings.Contains(w, "class rare has 1 photos") }) ||
		slices.ContainsFunc(warned, func(w string) bool { return strings.Contains(w, "class common") }) {
		t.Errorf("warnings %q, want one about class rare only", warned)
	}
}

// TestManifestFormat1 opens a Dogs vs. Cats folder whose manifest is in format 1, with
// counts as {"dog": n, "cat": m}, as catdog wrote them before classes were many.
func TestManifestFormat1(t *testing.T) {
	dir := tinyDataset(t)
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	must(t, json.Unmarshal(b, &m))
	old := func(c []any) map[string]any { return map[string]any{"dog": c[0], "cat": c[1]} }
	m["format"] = 1
	m["counts"] = old(m["counts"].([]any))
	bal := m["balance"].(map[string]any)
	bal["counts"] = old(bal["counts"].([]any))
	bal["dog_share"], bal["cat_share"] = 0.5, 0.5
	delete(bal, "shares")
	for _, s := range m["splits"].(map[string]any) {
		s := s.(map[string]any)
		s["counts"] = old(s["counts"].([]any))
	}
	b, _ = json.Marshal(m)
	must(t, os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644))
	ds, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	man := ds.Manifest()
	if man.Format != 1 || !DogsVsCats(ds.Classes()) || man.Counts.Total() != ds.Len() || len(man.Balance.Shares) != 2 {
		t.Errorf("format %d, classes %q, counts %v, balance %+v", man.Format, ds.Classes(), man.Counts, man.Balance)
	}
	if man.Splits[Train].Counts.At(Dog)+man.Splits[Train].Counts.At(Cat) != man.Splits[Train].Count {
		t.Errorf("train split %+v", man.Splits[Train])
	}
}

// TestOpenRefusesLabelOutOfRange: a label past the last class is refused.
func TestOpenRefusesLabelOutOfRange(t *testing.T) {
	dir := tinyDataset(t)
	p := filepath.Join(dir, LabelsFile)
	labels, shape, err := npy.ReadFile[uint8](p)
	if err != nil {
		t.Fatal(err)
	}
	labels[0] = 2
	must(t, npy.WriteFile(p, shape, labels))
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := fileSum(t, p)
	a := m.Arrays[LabelsFile]
	a.SHA256 = sum
	m.Arrays[LabelsFile] = a
	b, _ := json.Marshal(m)
	must(t, os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644))
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "label 2 at row 0, for 2 classes") {
		t.Errorf("Open: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
