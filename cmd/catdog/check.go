package main

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/catdog-ml/catdog/datasets"
)

// This file makes configuration strict: a config file key that no command knows, a
// CATDOG_* environment variable that names no setting, and a value that is not of its
// flag's type or is out of its range, coming from a CATDOG_* variable or the config file,
// are errors naming the key or variable and where it came from.
//
// Values are used exactly as written: a number, boolean or duration with spaces around
// it is refused (as on the command line), not trimmed; text values (paths, names) are
// kept as they are, spaces included.

// checkConfig checks the configuration of the command about to run.
func (a *app) checkConfig(cmd *cobra.Command) error {
	var unknown, errs []string
	for _, err := range []error{a.checkEnv(cmd.Root()), a.checkFileKeys(cmd.Root())} {
		if err != nil {
			unknown = append(unknown, err.Error())
		}
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		key, env := a.keyOf(cmd, f)
		if key == "" {
			return
		}
		s := a.settingOf(f, key, env)
		if s.from == fromFlag || s.from == fromDefault {
			return // pflag has parsed it
		}
		if err := parseAs(f, s.text); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", s, err))
		}
	})
	if len(errs) == 0 {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			key, env := a.keyOf(cmd, f)
			if key == "" {
				return
			}
			if err := checkRange(cmd, f.Name, a.v, key); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", a.settingOf(f, key, env), err))
			}
		})
	}
	if errs = append(unknown, errs...); len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// Where a setting's value comes from.
const (
	fromFlag = iota
	fromEnv
	fromFile
	fromDefault
)

// setting is a flag's value and where it comes from, for messages.
type setting struct {
	flag string // the flag's name
	from int
	name string // the environment variable, or the config file's key
	file string // the config file
	text string // the value as written there
}

// settingOf says where the value of flag f (viper key key, environment variable env)
// comes from: the command line beats the environment, which beats the config file.
func (a *app) settingOf(f *pflag.Flag, key, env string) setting {
	s := setting{flag: f.Name}
	if f.Changed {
		s.from, s.text = fromFlag, f.Value.String()
		return s
	}
	if v, ok := os.LookupEnv(env); ok && env != "" {
		s.from, s.name, s.text = fromEnv, env, v
		return s
	}
	if a.v.InConfig(key) {
		s.from, s.name, s.file, s.text = fromFile, key, a.v.ConfigFileUsed(), configText(a.v.Get(key))
		return s
	}
	s.from, s.text = fromDefault, f.Value.String()
	return s
}

// String names the setting as a message starts: `--size 0`, `environment variable
// CATDOG_SIZE="0" (for --size)`, `config file catdog.yaml, key prepare.size = 0 (for
// --size)`.
func (s setting) String() string {
	switch s.from {
	case fromEnv:
		return fmt.Sprintf("environment variable %s=%q (for --%s)", s.name, s.text, s.flag)
	case fromFile:
		return fmt.Sprintf("config file %s, key %s = %s (for --%s)", s.file, s.name, s.text, s.flag)
	case fromDefault:
		return fmt.Sprintf("--%s %s (its default)", s.flag, s.text)
	}
	return fmt.Sprintf("--%s %s", s.flag, s.text)
}

// keyOf returns the viper key and the environment variable bound to a flag of cmd.
func (a *app) keyOf(cmd *cobra.Command, f *pflag.Flag) (key, env string) {
	switch {
	case f.Name == "config" || f.Name == "help":
		return "", ""
	case f.Name == "quiet":
		return "quiet", "CATDOG_QUIET"
	case f.Name == "cache-dir":
		return "backbones.cache-dir", "CATDOG_BACKBONES_DIR"
	case cmd.Parent() != nil && cmd.Parent().Name() == "backbones":
		return "backbones." + cmd.Name() + "." + f.Name, ""
	}
	return cmd.Name() + "." + f.Name, envName(f.Name)
}

func envName(flag string) string {
	return "CATDOG_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// otherVariables are the CATDOG_* variables that are not settings of a command.
func otherVariables() []string {
	return []string{
		"CATDOG_CONFIG", // the config file, as --config
		// For the tests (internal/fixtures, docs): the shared data folder, a Python with
		// the reference packages, a Chromium, and folders to save what tests draw.
		"CATDOG_SHARED", "CATDOG_PYTHON", "CATDOG_CHROMIUM",
		"CATDOG_SCREENSHOT", "CATDOG_REPORT_OUT", "CATDOG_PLOT_OUT",
	}
}

// checkEnv refuses CATDOG_* environment variables that name no setting of any command
// (a misspelt one would otherwise be ignored), suggesting the nearest known name.
func (a *app) checkEnv(root *cobra.Command) error {
	known := map[string]bool{}
	for _, v := range otherVariables() {
		known[v] = true
	}
	a.eachSetting(root, func(_ *cobra.Command, _ *pflag.Flag, _, env string) {
		if env != "" {
			known[env] = true
		}
	})
	var bad []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "CATDOG_") || known[name] {
			continue
		}
		msg := fmt.Sprintf("environment variable %s names no catdog setting", name)
		if near := nearest(name, known); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		} else {
			msg += " (a setting's variable is CATDOG_ and its flag's name in capitals, '-' as '_': CATDOG_SIZE for --size)"
		}
		bad = append(bad, msg)
	}
	return problems(bad)
}

// nearest returns the name of names closest to name in edit distance, if it is close
// enough to be a misspelling of it (at most a third of the part after CATDOG_, and 3),
// else "". Of equally close names it returns the first in order.
func nearest(name string, names map[string]bool) string {
	limit := max(1, min(3, (len(name)-len("CATDOG_"))/3))
	best, bestD := "", limit+1
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// eachSetting calls fn for every flag of every command under root (persistent ones
// included) with its viper key and environment variable (see keyOf).
func (a *app) eachSetting(root *cobra.Command, fn func(c *cobra.Command, f *pflag.Flag, key, env string)) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		visit := func(f *pflag.Flag) {
			key, env := a.keyOf(c, f)
			fn(c, f, key, env)
		}
		c.Flags().VisitAll(visit)
		c.PersistentFlags().VisitAll(visit)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// problems is the error listing bad, one per line in order, or nil when there are none.
func problems(bad []string) error {
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return errors.New(strings.Join(bad, "\n"))
}

// checkFileKeys refuses config file keys that no command has as a flag.
func (a *app) checkFileKeys(root *cobra.Command) error {
	file := a.v.ConfigFileUsed()
	if file == "" {
		return nil
	}
	only := viper.New()
	setConfigFile(only, file)
	if err := only.ReadInConfig(); err != nil {
		return nil // loadConfig has already read it: an error here says nothing new
	}
	known := map[string]bool{"config": true, "quiet": true}
	sections := map[string][]string{}
	a.eachSetting(root, func(_ *cobra.Command, f *pflag.Flag, key, _ string) {
		if key != "" {
			known[key] = true
			if i := strings.LastIndex(key, "."); i > 0 {
				sections[key[:i]] = append(sections[key[:i]], f.Name)
			}
		}
	})
	var bad []string
	for _, k := range only.AllKeys() {
		if known[k] {
			continue
		}
		msg := fmt.Sprintf("config file %s: unknown key %q", file, k)
		if i := strings.LastIndex(k, "."); i > 0 {
			if names, ok := sections[k[:i]]; ok {
				slices.Sort(names)
				names = slices.Compact(names)
				msg += fmt.Sprintf(" (%s knows: %s)", k[:i], strings.Join(names, ", "))
			}
		} else {
			msg += " (write the settings of a command in its section: prepare: {size: 128})"
		}
		bad = append(bad, msg)
	}
	return problems(bad)
}

// configText writes a config file value as a flag would read it.
func configText(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		parts := make([]string, 0, len(v))
		for k, x := range v {
			parts = append(parts, k+"="+fmt.Sprint(x))
		}
		sort.Strings(parts)
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// parseAs checks that s reads as a value of the flag's type, as written: a number,
// boolean or duration with spaces around it is refused.
func parseAs(f *pflag.Flag, s string) error {
	var err error
	switch f.Value.Type() {
	case "int", "int64", "uint64", "float32", "float64", "bool", "duration":
		if t := strings.TrimSpace(s); t != s {
			return fmt.Errorf("spaces around the value (write %q)", t)
		}
	}
	switch f.Value.Type() {
	case "int", "int64":
		if _, err = strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("not a whole number")
		}
	case "uint64":
		if _, err = strconv.ParseUint(s, 10, 64); err != nil {
			return fmt.Errorf("not a whole number from 0 up")
		}
	case "float32":
		if _, err = strconv.ParseFloat(s, 32); err != nil {
			return fmt.Errorf("not a number")
		}
	case "float64":
		if _, err = strconv.ParseFloat(s, 64); err != nil {
			return fmt.Errorf("not a number")
		}
	case "bool":
		if _, err = strconv.ParseBool(s); err != nil {
			return fmt.Errorf("not a boolean: want true or false (or 1 or 0)")
		}
	case "duration":
		if _, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("not a duration such as 90s or 5m")
		}
	case pairsType:
		if _, err := pairsOf(s); err != nil {
			return err
		}
	}
	return nil
}

// span is a flag's allowed range.
type span struct {
	min, max float64
	what     string
}

// ranges holds the range of every numeric flag, by name ("cmd.flag" where commands
// differ).
var ranges = map[string]span{
	"size":                   {datasets.MinSize, datasets.MaxSize, "pixels"},
	"backbones.inspect.size": {0, datasets.MaxSize, "pixels (0: the backbone's own)"},
	"workers":                {1, 1024, "goroutines"},
	"batch":                  {1, 4096, "images"},
	"epochs":                 {1, 100000, "epochs"},
	"run.epochs":             {0, 100000, "epochs (0: the profile's)"},
	"lr":                     {1e-9, 10, "learning rate"},
	"momentum":               {0, 0.999, "momentum"},
	"patience":               {0, 100000, "epochs (0: never stop early)"},
	"warmup":                 {0, 100000, "epochs"},
	"limit":                  {0, 1 << 40, "samples (0: all)"},
	"threshold":              {0, 1, "probability"},
	"wrong":                  {0, 1000, "photos"},
	"copies":                 {0, 100, "copies"},
	"seeds":                  {1, 100, "seeds"},
	"per-class":              {0, 1 << 40, "photos (0: all)"},
	"transfer-per-class":     {0, 1 << 40, "photos (0: all)"},
	"prepare.per-class":      {0, 1 << 40, "photos (0: all)"},
	"checkpoint-every":       {0, 1e18, "duration (0: only after each epoch)"},
	"max-bytes":              {1 << 10, 1 << 34, "bytes"},
	"max-model-bytes":        {1 << 10, 1 << 42, "bytes"},
	"max-images":             {1, 4096, "images"},
	"queue":                  {1, 1 << 20, "images"},
	"serve.batch":            {1, 1024, "images"},
	"predict.top":            {0, 256, "classes"},
	"batch-wait":             {0, 1e10, "duration"},
}

// checkRange checks the value of flag name (viper key key) of cmd against ranges.
func checkRange(cmd *cobra.Command, name string, v *viper.Viper, key string) error {
	r, ok := ranges[cmd.Name()+"."+name]
	if !ok {
		if r, ok = ranges[key]; !ok {
			if r, ok = ranges[name]; !ok {
				return nil
			}
		}
	}
	var x float64
	f := cmd.Flags().Lookup(name)
	switch f.Value.Type() {
	case "int", "int64", "uint64":
		x = float64(v.GetInt64(key))
	case "float32", "float64":
		x = v.GetFloat64(key)
	case "duration":
		x = float64(v.GetDuration(key))
	default:
		return nil
	}
	if x < r.min || x > r.max || x != x {
		if f.Value.Type() == "duration" {
			return fmt.Errorf("must not be negative")
		}
		return fmt.Errorf("want %s to %s %s", num(r.min), num(r.max), r.what)
	}
	return nil
}

// num writes a bound as people write it: 1099511627776, not 1.099511627776e+12.
func num(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// pairs is a flag of NAME=VALUE pairs, repeatable or comma-separated. Unlike pflag's
// StringToString it shows no "(default [])" in the help.
type pairs map[string]string

const pairsType = "NAME=PATH"

func (p *pairs) Set(s string) error {
	m, err := pairsOf(s)
	if err != nil {
		return err
	}
	if *p == nil {
		*p = pairs{}
	}
	maps.Copy(*p, m)
	return nil
}

func (p *pairs) Type() string { return pairsType }

func (p *pairs) String() string {
	var kv []string
	for k, v := range *p {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// pairsOf reads NAME=VALUE pairs as a flag ("a=x,b=y"), a variable (the same) or a config
// file (a map, or a list of "a=x") gives them.
func pairsOf(v any) (map[string]string, error) {
	out := map[string]string{}
	add := func(kv string) error {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			return nil
		}
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("want NAME=VALUE pairs, got %q", kv)
		}
		out[k] = val
		return nil
	}
	switch x := v.(type) {
	case nil:
	case string:
		for _, kv := range strings.Split(x, ",") {
			if err := add(kv); err != nil {
				return nil, err
			}
		}
	case []string:
		for _, kv := range x {
			if err := add(kv); err != nil {
				return nil, err
			}
		}
	case []any:
		for _, kv := range x {
			if err := add(fmt.Sprint(kv)); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, val := range x {
			out[k] = fmt.Sprint(val)
		}
	case map[string]string:
		maps.Copy(out, x)
	case *pairs:
		maps.Copy(out, *x)
	default:
		return nil, fmt.Errorf("want NAME=VALUE pairs, got %v", v)
	}
	return out, nil
}
