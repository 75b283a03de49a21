package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/finetune"
)

func newAugmentCmd(a *app) *cobra.Command {
	def := finetune.DefaultAugment()
	cmd := &cobra.Command{
		Use:   "augment",
		Short: "Write a prepared dataset whose train split holds augmented copies",
		Long: `augment remakes a prepared dataset (see catdog prepare) with more training images:
--out gets the same rows, then --copies augmented versions of every training image, each
randomly flipped left-right, rotated, zoomed, shifted and changed in contrast (the bounds
below). Labels are kept; the valid and test splits are unchanged, so models trained on
either folder are evaluated on the same images. augment.json in --out records the options.

The training command can augment batches on the fly instead (a fresh draw every epoch);
this offline mode is there to compare the two, or to reuse one fixed augmented set. The
same --seed writes the same bytes.

Example:
  catdog augment --data data --out data-aug --copies 2 --seed 1
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, out := a.v.GetString("augment.data"), a.v.GetString("augment.out")
			if data == "" || out == "" {
				return fmt.Errorf("augment needs --data (a prepared dataset folder) and --out")
			}
			opts := finetune.AugmentOptions{
				FlipProb:    a.v.GetFloat64("augment.flip"),
				MaxRotate:   a.v.GetFloat64("augment.rotate"),
				MinZoom:     a.v.GetFloat64("augment.zoom-min"),
				MaxZoom:     a.v.GetFloat64("augment.zoom-max"),
				MaxShift:    a.v.GetFloat64("augment.shift"),
				MaxContrast: a.v.GetFloat64("augment.contrast"),
			}
			var bar progressBar
			m, err := finetune.AugmentDataset(cmd.Context(), data, out, a.v.GetInt("augment.copies"), a.v.GetUint64("augment.seed"), opts,
				func(done, total int) {
					if bar == nil {
						bar = a.progress(total, "augmenting", "images")
					}
					bar.Set(done)
				})
			if bar != nil {
				bar.Finish()
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%d images of %dx%d in %s\n", m.Kept, m.Size, m.Size, out)
			datasets.WriteSplits(a.out, m)
			fmt.Fprintf(a.out, "options: %s\n", filepath.Join(out, finetune.AugmentFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.String("data", "", "prepared dataset folder to read")
	f.String("out", "", "folder to write (not the --data folder)")
	f.Int("copies", 1, "augmented copies of each training image")
	f.Uint64("seed", 1, "seed of the random changes")
	f.Float64("flip", def.FlipProb, "probability of a left-right flip")
	f.Float64("rotate", def.MaxRotate, "largest rotation, degrees (uniform in ±rotate)")
	f.Float64("zoom-min", def.MinZoom, "smallest zoom factor")
	f.Float64("zoom-max", def.MaxZoom, "largest zoom factor")
	f.Float64("shift", def.MaxShift, "largest shift, fraction of the side (each axis)")
	f.Float64("contrast", def.MaxContrast, "largest contrast change, fraction")
	a.bind(cmd)
	return cmd
}
