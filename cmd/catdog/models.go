package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/finetune"
)

func newModelsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the from-scratch architectures with their parameter counts",
		Long: `models lists the architectures catdog train knows, with their trainable parameter
count for images of --size pixels (the dense layers of the VGG-style networks grow with the
image size). With --arch, it prints that architecture's layer table: every layer's output
shape and parameter count.

Example:
  catdog models --size 200
  catdog models --arch vgg3-dropout-bn --size 64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			size := a.v.GetInt("models.size")
			if size < datasets.MinSize || size > datasets.MaxSize {
				return fmt.Errorf("models: --size %d outside %d..%d", size, datasets.MinSize, datasets.MaxSize)
			}
			if name := a.v.GetString("models.arch"); name != "" {
				arch, err := finetune.Arch(name)
				if err != nil {
					return err
				}
				m, err := arch.Model(size, "", 0)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "%s at %dx%d: %s\n\n%s", arch.Name, size, size, arch.Description, m.FormatTable())
				return nil
			}
			w := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "name\tparams at %d px\tdescription\n", size)
			for _, arch := range finetune.Architectures() {
				m, err := arch.Model(size, "", 0)
				if err != nil {
					fmt.Fprintf(w, "%s\t-\t%s (%v)\n", arch.Name, arch.Description, err)
					continue
				}
				p, _ := m.NumParams()
				fmt.Fprintf(w, "%s\t%d\t%s\n", arch.Name, p, arch.Description)
			}
			return w.Flush()
		},
	}
	cmd.Flags().Int("size", 200, "image side in pixels")
	cmd.Flags().String("arch", "", "print this architecture's layer table")
	a.bind(cmd)
	return cmd
}
