package main

import (
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
