package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print catdog's version and the versions of its engines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.out, "catdog %s (%s)\n", version(), runtime.Version())
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					switch d.Path {
					case "gorgonia.org/gorgonia", "github.com/yalue/onnxruntime_go", "github.com/owulveryck/onnx-go":
						fmt.Fprintf(a.out, "  %s %s\n", d.Path, d.Version)
					}
				}
			}
			return nil
		},
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
