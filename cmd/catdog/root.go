package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// app is what every subcommand shares: the configuration and where to write.
type app struct {
	v      *viper.Viper
	out    io.Writer // results
	errOut io.Writer // progress bars and notices
}

const configHelp = `Configuration, from strongest to weakest:
  1. command-line flags           catdog prepare --size 128
  2. environment variables        CATDOG_SIZE=128 (CATDOG_ + flag name, upper case, '-' as '_')
  3. the config file              --config FILE, else ./catdog.yaml or $XDG_CONFIG_HOME/catdog/catdog.yaml,
                                  with one section per command:   prepare: {size: 128, seed: 7}
  4. the defaults shown in each command's --help`

func newApp(stdout, stderr io.Writer) *app {
	return &app{v: viper.New(), out: stdout, errOut: stderr}
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "catdog",
		Short: "Dogs vs. Cats, from raw JPEGs to ONNX classifiers",
		Long: `catdog takes Kaggle's "Dogs vs. Cats" photos (train.zip) from raw files to trained
binary classifiers (label 0 = dog, 1 = cat), each with its own written record, and exports
ONNX models that any Go service can embed with onnxruntime.

The study, step by step:
  catdog prepare --data train.zip --out data      decode, resize, save .npy, split 60/20/20
  catdog train --arch vgg3 --data data             a from-scratch CNN (see: catdog models)
  catdog extract-features --backbone vgg16 --data data
  catdog finetune --features data/features/vgg16   transfer learning head
  catdog report                                    the page that compares every run
or all of it at once:
  catdog run --data train.zip

` + configHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.loadConfig(); err != nil {
				return err
			}
			return a.checkConfig(cmd)
		},
	}
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	root.PersistentFlags().String("config", "", "config file (YAML, TOML or JSON); default ./catdog.yaml or $XDG_CONFIG_HOME/catdog/catdog.yaml")
	root.PersistentFlags().BoolP("quiet", "q", false, "no progress bars")
	_ = a.v.BindPFlag("config", root.PersistentFlags().Lookup("config"))
	_ = a.v.BindPFlag("quiet", root.PersistentFlags().Lookup("quiet"))
	_ = a.v.BindEnv("config", "CATDOG_CONFIG")
	_ = a.v.BindEnv("quiet", "CATDOG_QUIET")

	root.AddCommand(newVersionCmd(a))
	// Subcommands: one line each.
	root.AddCommand(newPredictCmd(a))
	root.AddCommand(newEvaluateCmd(a))
	root.AddCommand(newExtractFeaturesCmd(a))
	root.AddCommand(newPrepareCmd(a))
	root.AddCommand(newBackbonesCmd(a))
	root.AddCommand(newTrainCmd(a))
	root.AddCommand(newFinetuneCmd(a))
	root.AddCommand(newModelsCmd(a))
	root.AddCommand(newAugmentCmd(a))
	root.AddCommand(newReportCmd(a))
	root.AddCommand(newRunCmd(a))
	root.AddCommand(newServeCmd(a))

	return root
}

// loadConfig reads the config file, if any. A file named with --config must exist.
func (a *app) loadConfig() error {
	if f := a.v.GetString("config"); f != "" {
		a.v.SetConfigFile(f)
		if err := a.v.ReadInConfig(); err != nil {
			return fmt.Errorf("reading config file: %w", err)
		}
		return nil
	}
	a.v.SetConfigName("catdog")
	a.v.AddConfigPath(".")
	a.v.AddConfigPath("$XDG_CONFIG_HOME/catdog")
	a.v.AddConfigPath("$HOME/.config/catdog")
	if err := a.v.ReadInConfig(); err != nil {
		if _, ok := err.(viper.ConfigFileNotFoundError); ok {
			return nil
		}
		return fmt.Errorf("reading config file: %w", err)
	}
	return nil
}

// bind ties every local flag of cmd to the viper key "<cmd>.<flag>" and to the environment
// variable CATDOG_<FLAG>, so that flags beat the environment, which beats the config file,
// which beats the flag's default. Call it after defining the flags.
func (a *app) bind(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		key := cmd.Name() + "." + f.Name
		_ = a.v.BindPFlag(key, f)
		_ = a.v.BindEnv(key, "CATDOG_"+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
	})
}

// errf prints a notice on stderr.
func (a *app) errf(format string, args ...any) {
	fmt.Fprintf(a.errOut, format, args...)
}
