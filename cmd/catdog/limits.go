package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/internal/userfile"
)

// modelLimitFlag adds --max-model-bytes to a command that reads models.
func modelLimitFlag(cmd *cobra.Command) {
	cmd.Flags().Int64("max-model-bytes", userfile.DefaultModelBytes,
		"most bytes one model may take, weights included (an ONNX file with its external data, a TensorFlow.js model with its shards), checked from their declared sizes before reading")
}

// modelLimit is the value of --max-model-bytes of the command whose viper section is key
// ("predict", "backbones.import").
func (a *app) modelLimit(key string) int64 { return a.v.GetInt64(key + ".max-model-bytes") }

// threadsFlag adds --threads, onnxruntime's intra-op threads, to an onnxruntime command.
func threadsFlag(cmd *cobra.Command) {
	cmd.Flags().Int("threads", 0, "onnxruntime threads (0: every core the machine has; in a container, give its CPU limit: a pod's CATDOG_THREADS from limits.cpu)")
}

// threads is the value of --threads of the command whose viper section is key, refused
// when negative.
func (a *app) threads(key string) (int, error) {
	n := a.v.GetInt(key + ".threads")
	if n < 0 {
		return 0, fmt.Errorf("%s: --threads %d: want 0 (every core) or more", key, n)
	}
	return n, nil
}
