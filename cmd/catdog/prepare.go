package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/imgutil"
)

func newPrepareCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prepare",
		Short: "Decode the photos into .npy arrays and split them 60/20/20",
		Long: `prepare reads every photo of the data source, decodes it on all cores, resizes it to
SIZE x SIZE RGB and writes, in --out:

  dogs_vs_cats_photos.npy   uint8 (N, SIZE, SIZE, 3), in file-name order
  dogs_vs_cats_labels.npy   uint8 (N,), 0 = dog, 1 = cat
  split_train.npy, split_valid.npy, split_test.npy
                            int64 row indices, a 60/20/20 split stratified by class (--seed)
  manifest.json             source, classes, every kept and skipped file (with why), counts,
                            checksums
  class_balance.png, image_sizes.png

Data sources (--data), a folder or the same as a zip:
  - Dogs vs. Cats: Kaggle's train.zip read in place (no extraction needed), the same files
    extracted (train/cat.N.jpg, train/dog.N.jpg), folders cat/ or cats/ and dog/ or dogs/
    (any case), or Microsoft's PetImages (the folder, or kagglecatsanddogs_5340.zip). The
    labels are the study's: 0 = dog, 1 = cat.
  - Any other classes, a folder per class: photos/daisy/, photos/rose/, photos/tulip/ (or
    one level deeper, train/daisy/...). The folder names are the classes, labelled in
    sorted order (as Keras's image_dataset_from_directory does) unless --classes gives the
    order, or picks some of them. The arrays are then photos.npy and labels.npy.
Without --data, prepare downloads Microsoft's PetImages archive into the user cache
(checked against its SHA-256) and uses it.

Files that are not images, broken, empty, larger than 50 megapixels, or whose name gives
no label are skipped and listed in manifest.json. The same source, size, filter and seed
give byte-identical outputs. Files are written atomically; an interrupted run can simply
be run again.

Examples:
  catdog prepare --data ~/Downloads/train.zip --out data --size 200 --seed 1
  catdog prepare --data photos/ --out flowers --size 128 --classes daisy,rose,tulip
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := datasets.ParseFilter(a.v.GetString("prepare.filter"))
			if err != nil {
				return err
			}
			out := a.v.GetString("prepare.out")
			var bar progressBar
			var dl progressBar
			opts := datasets.Options{
				Data:     a.v.GetString("prepare.data"),
				Out:      out,
				Size:     a.v.GetInt("prepare.size"),
				Filter:   filter,
				Seed:     a.v.GetUint64("prepare.seed"),
				Workers:  a.v.GetInt("prepare.workers"),
				PerClass: a.v.GetInt("prepare.per-class"),
				Classes:  a.list("prepare.classes"),
				Version:  version(),
				Warn:     func(msg string) { a.errf("warning: %s\n", msg) },
				OnBalance: func(classes []string, b datasets.Balance) {
					fmt.Fprintln(a.out, "Class balance (from file and folder names, before decoding):")
					datasets.WriteBalance(a.out, classes, b)
					fmt.Fprintln(a.out)
				},
				Progress: func(done, total int) {
					if bar == nil {
						bar = a.progress(total, "decoding", "photos")
					}
					bar.Set(done)
				},
			}
			opts.Download.Progress = func(done, total int64) {
				if dl == nil {
					dl = a.progress(int(total), "downloading PetImages", "")
				}
				dl.Set(int(done))
			}
			if opts.Data == "" {
				a.errf("no --data given: using Microsoft's PetImages archive (downloaded once into the user cache)\n")
			}
			m, err := datasets.Prepare(cmd.Context(), opts)
			if bar != nil {
				bar.Finish()
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "\n%d images of %dx%d (%s filter) from %s\n", m.Kept, m.Size, m.Size, m.Filter, m.Source.Path)
			fmt.Fprintf(a.out, "%d classes, labels 0..%d: %s\n", len(m.Classes), len(m.Classes)-1, strings.Join(m.Classes, ", "))
			datasets.WriteSplits(a.out, m)
			fmt.Fprintln(a.out)
			datasets.WriteSkipped(a.errOut, m, 5)
			fmt.Fprintf(a.out, "\nwritten in %s:\n", out)
			photos, labels := m.ArrayFiles()
			for _, f := range []string{photos, labels,
				datasets.SplitFile(datasets.Train), datasets.SplitFile(datasets.Valid), datasets.SplitFile(datasets.Test),
				datasets.ManifestFile, datasets.ClassBalanceFile, datasets.ImageSizesFile} {
				fmt.Fprintf(a.out, "  %s\n", filepath.Join(out, f))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("data", "", "data source: train.zip, a folder, or PetImages (default: download PetImages)")
	f.String("out", "data", "output folder")
	f.Int("size", datasets.DefaultSize, fmt.Sprintf("image side in pixels (%d..%d)", datasets.MinSize, datasets.MaxSize))
	f.Uint64("seed", 1, "seed of the train/valid/test split")
	f.String("filter", datasets.Bilinear.String(), fmt.Sprintf("resize filter: %v", imgutil.FilterNames()))
	f.Int("workers", runtime.GOMAXPROCS(0), "decoding goroutines")
	f.Int("per-class", 0, "use only the first N labelled files of each class, by name (0 = all), for quick runs")
	f.StringSlice("classes", nil, "class folders to keep, in label order (default: every folder, sorted)")
	a.bind(cmd)
	return cmd
}
