package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// app is what every subcommand shares: the configuration and where to write.
type app struct {
	v      *viper.Viper
	out    *output   // results
	errOut io.Writer // progress bars and notices
}

const configHelp = `Configuration, from strongest to weakest:
  1. command-line flags           catdog prepare --size 128
  2. environment variables        CATDOG_SIZE=128 (CATDOG_ + flag name, upper case, '-' as '_')
  3. the config file              --config FILE, else ./catdog.yaml or $XDG_CONFIG_HOME/catdog/catdog.yaml,
                                  with one section per command:   prepare: {size: 128, seed: 7}
  4. the defaults shown in each command's --help
A CATDOG_ variable that names no flag, a key that no command has, and a value that is not of
its flag's type (booleans: true or false, 1 or 0) or out of range are errors. Numbers,
booleans and durations are read as written: spaces around them are refused. A --config file
without an extension is read as YAML.`

func newApp(stdout, stderr io.Writer) *app {
	return &app{v: viper.New(), out: &output{w: stdout, name: "standard output"}, errOut: stderr}
}

// execute runs the catdog command line args with ctx and returns the command's error,
// joined with the first error writing its results (a full disk, /dev/full), so that
// results lost on the way out are never a success.
func execute(ctx context.Context, a *app, args []string) error {
	root := newRootCmd(a)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && cmd != nil {
		err = a.nameSources(cmd, err)
	}
	if werr := a.out.finish(); werr != nil && !errors.Is(err, werr) {
		if err == nil {
			return werr
		}
		return errors.Join(err, werr)
	}
	return err
}

// nameSources adds to a command's error the environment variables and config file keys
// that gave the text values it quotes, for errors found after the configuration was
// checked ("unknown resize filter "lanczos""): the user may not know that
// CATDOG_FILTER is set.
func (a *app) nameSources(cmd *cobra.Command, err error) error {
	msg := err.Error()
	var from []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		key, env := a.keyOf(cmd, f)
		if key == "" || f.Value.Type() != "string" {
			return
		}
		s := a.settingOf(f, key, env)
		v := s.text
		if (s.from != fromEnv && s.from != fromFile) || strings.Contains(msg, s.name) {
			return
		}
		if v == "" || !strings.Contains(msg, strconv.Quote(v)) && (len(v) < 3 || !strings.Contains(msg, v)) {
			return
		}
		where := "environment variable " + s.name
		if s.from == fromFile {
			where = fmt.Sprintf("config file %s, key %s", s.file, s.name)
		}
		from = append(from, fmt.Sprintf("%q (for --%s) came from %s", v, f.Name, where))
	})
	if len(from) == 0 {
		return err
	}
	return fmt.Errorf("%w\n%s", err, strings.Join(from, "\n"))
}

// output is where commands write their results. It keeps the first write error and
// returns it from every later write without writing again, so that a command may print
// line after line and look at one error; finish reports it at the end, after syncing a
// regular file, whose last blocks may fail only then.
type output struct {
	w       io.Writer
	name    string // "standard output", for messages
	written bool
	err     error
}

func (o *output) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if n > 0 {
		o.written = true
	}
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		o.err = o.failed(err)
		return n, o.err
	}
	return n, nil
}

// finish returns the first write error; without one, it syncs the output when it is a
// regular file that was written to, and returns the error of that.
func (o *output) finish() error {
	if o.err != nil || !o.written {
		return o.err
	}
	f, ok := o.w.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	if err := f.Sync(); err != nil {
		o.err = o.failed(err)
	}
	return o.err
}

// failed words a write error as "writing results to standard output: no space left on
// device": the file's own name (/dev/stdout) says less than the output's.
func (o *output) failed(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("writing results to %s: %w", o.name, err)
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

// loadConfig reads the config file, if any: the one named with --config, which must exist,
// else the first of ./catdog.yaml (or .yml, .json, .toml...), $XDG_CONFIG_HOME/catdog/ and
// ~/.config/catdog/ that exists. Either must be a regular file (a FIFO there would hang
// every command); named without an extension it is read as YAML.
func (a *app) loadConfig() error {
	f := a.v.GetString("config")
	if f == "" {
		f = findConfig()
		if f == "" {
			return nil
		}
	}
	st, err := os.Stat(f)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("reading config file %s: not a regular file (%v)", f, st.Mode().Type())
	}
	setConfigFile(a.v, f)
	if err := a.v.ReadInConfig(); err != nil {
		return configError(f, err)
	}
	return nil
}

// findConfig returns the first default config file that exists, or "".
func findConfig() string {
	var dirs []string
	dirs = append(dirs, ".")
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		dirs = append(dirs, filepath.Join(x, "catdog"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".config", "catdog"))
	}
	for _, d := range dirs {
		for _, ext := range viper.SupportedExts {
			p := filepath.Join(d, "catdog."+ext)
			if _, err := os.Lstat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

// setConfigFile has v read the config file f, as YAML when its name has no extension
// (".catdogrc" has none either): YAML is the default file's language, and it reads JSON
// too. Only a file named explicitly is read so: the search for ./catdog.yaml must not
// take a ./catdog binary for a config file.
func setConfigFile(v *viper.Viper, f string) {
	v.SetConfigFile(f)
	if base := filepath.Base(f); !strings.Contains(strings.TrimPrefix(base, "."), ".") {
		v.SetConfigType("yaml")
	}
}

// configError words an error reading the config file f.
func configError(f string, err error) error {
	var unsupported viper.UnsupportedConfigError
	if errors.As(err, &unsupported) {
		return fmt.Errorf("reading config file %s: %w: name it .yaml, .json or .toml (a file without an extension is read as YAML)", f, err)
	}
	return fmt.Errorf("reading config file %s: %w", f, err)
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

// list returns a list setting: a flag's values, or a configuration file's list, or an
// environment variable's names separated by commas (viper would split it at spaces, and
// "sea turtle,shark" is two names).
func (a *app) list(key string) []string {
	values := a.v.GetStringSlice(key)
	if raw, ok := a.v.Get(key).(string); ok { // from the environment: split at commas only
		values = []string{raw}
	}
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// errf prints a notice on stderr.
func (a *app) errf(format string, args ...any) {
	fmt.Fprintf(a.errOut, format, args...)
}

// shownName returns a file name as it is when it prints safely on a terminal, and quoted
// in Go syntax ("a\x1b[2Jb.jpg") when it holds a control character, a format character
// such as a right-to-left override, or bytes that are not UTF-8: a name must not move
// the cursor, recolour the terminal or pass for another name.
func shownName(name string) string {
	if printable(name) {
		return name
	}
	return strconv.Quote(name)
}

// shownText returns s with every character that shownName would quote written as its Go
// escape (\x1b, \n, \u202e), for messages that hold names among other words.
func shownText(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strconv.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// printable reports whether s is valid UTF-8 made only of printable characters and
// ASCII spaces.
func printable(s string) bool {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}
