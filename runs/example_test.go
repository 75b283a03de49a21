package runs_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/catdog-ml/catdog/runs"
)

// A program that trains by other means writes a run folder that catdog's reports read.
func Example() {
	root, _ := os.MkdirTemp("", "runs")
	defer os.RemoveAll(root)
	dir, err := runs.NewDir(root, "mynet")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := json.Marshal(runs.Config{Kind: runs.Scratch, Arch: "mynet", Epochs: 3})
	if err := os.WriteFile(filepath.Join(dir, runs.ConfigFile), b, 0o644); err != nil {
		fmt.Println(err)
		return
	}
	c, _, err := runs.ReadConfig(dir)
	fmt.Println(c.Kind, c.Arch, c.Epochs, err)
	// Output: scratch mynet 3 <nil>
}
