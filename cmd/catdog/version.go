package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/internal/ort"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print catdog's version, its engines' and the onnxruntime library it loads",
		Long: `version prints catdog's module version (from the build information Go records: a
tag, or a pseudo-version naming the commit), the commit and whether the tree had local
changes, the Go version, the engines' module versions, and the onnxruntime library that
catdog finds and loads: its version, whether it is a CUDA build, and its path.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.out, "catdog %s, %s %s/%s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if bi, ok := debug.ReadBuildInfo(); ok {
				vcs := map[string]string{}
				for _, s := range bi.Settings {
					vcs[s.Key] = s.Value
				}
				if rev := vcs["vcs.revision"]; rev != "" {
					changed := ""
					if vcs["vcs.modified"] == "true" {
						changed = ", with local changes"
					}
					fmt.Fprintf(a.out, "  commit %s (%s%s)\n", rev, vcs["vcs.time"], changed)
				}
				for _, d := range bi.Deps {
					switch d.Path {
					case "gorgonia.org/gorgonia", "github.com/yalue/onnxruntime_go", "github.com/owulveryck/onnx-go":
						fmt.Fprintf(a.out, "  %s %s\n", d.Path, d.Version)
					}
				}
			}
			env, err := ort.Open()
			if err != nil {
				fmt.Fprintf(a.out, "  onnxruntime: not loaded: %s\n", shownText(err.Error()))
				return nil
			}
			defer env.Close()
			build := "CPU build"
			if env.CUDABuild() {
				build = "CUDA build"
			}
			fmt.Fprintf(a.out, "  onnxruntime %s (%s) from %s\n", env.Version(), build, shownName(env.Library()))
			return nil
		},
	}
}

// version is the main module's version from the build information: a tag, a
// pseudo-version naming the commit (go build in a git checkout), or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
