package main

import (
	"fmt"
	"maps"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/catdog-ml/catdog/datasets"
)

// This file makes configuration strict: a config file key that no command knows, and a
// value that is not of its flag's type, coming from a CATDOG_* variable or the config
// file, are errors naming the key and where it came from; every numeric flag is checked
// against its range.

// checkConfig checks the configuration of the command about to run.
func (a *app) checkConfig(cmd *cobra.Command) error {
	if err := a.checkFileKeys(cmd.Root()); err != nil {
		return err
	}
	var errs []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		key, env := a.keyOf(cmd, f)
		if key == "" || f.Changed {
			return
		}
		if v, ok := os.LookupEnv(env); ok && env != "" {
			if err := parseAs(f, v); err != nil {
				errs = append(errs, fmt.Sprintf("environment variable %s=%q (for --%s): %v", env, v, f.Name, err))
			}
			return
		}
		if a.v.InConfig(key) {
			if err := parseAs(f, configText(a.v.Get(key))); err != nil {
				errs = append(errs, fmt.Sprintf("config file %s, key %s = %v (for --%s): %v", a.v.ConfigFileUsed(), key, a.v.Get(key), f.Name, err))
			}
		}
	})
	if len(errs) == 0 {
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			key, _ := a.keyOf(cmd, f)
			if key == "" {
				return
			}
			if err := checkRange(cmd, f.Name, a.v, key); err != nil {
				errs = append(errs, err.Error())
			}
		})
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// keyOf returns the viper key and the environment variable bound to a flag of cmd.
func (a *app) keyOf(cmd *cobra.Command, f *pflag.Flag) (key, env string) {
	switch {
	case f.Name == "config" || f.Name == "quiet" || f.Name == "help":
		return "", ""
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

// checkFileKeys refuses config file keys that no command has as a flag.
func (a *app) checkFileKeys(root *cobra.Command) error {
	file := a.v.ConfigFileUsed()
	if file == "" {
		return nil
	}
	only := viper.New()
	only.SetConfigFile(file)
	if err := only.ReadInConfig(); err != nil {
		return nil // loadConfig has already read it: an error here says nothing new
	}
	known := map[string]bool{"config": true, "quiet": true}
	sections := map[string][]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if key, _ := a.keyOf(c, f); key != "" {
				known[key] = true
				sec := key[:strings.LastIndex(key, ".")]
				sections[sec] = append(sections[sec], f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	var bad []string
	for _, k := range only.AllKeys() {
		if known[k] {
			continue
		}
		msg := fmt.Sprintf("config file %s: unknown key %q", file, k)
		if i := strings.LastIndex(k, "."); i > 0 {
			if names, ok := sections[k[:i]]; ok {
				sort.Strings(names)
				msg += fmt.Sprintf(" (%s knows: %s)", k[:i], strings.Join(names, ", "))
			}
		} else {
			msg += " (write the settings of a command in its section: prepare: {size: 128})"
		}
		bad = append(bad, msg)
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "\n"))
	}
	return nil
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

// parseAs checks that s reads as a value of the flag's type.
func parseAs(f *pflag.Flag, s string) error {
	var err error
	switch f.Value.Type() {
	case "int", "int64":
		_, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
	case "uint64":
		_, err = strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("not a whole number from 0 up")
		}
	case "float64":
		_, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
	case "bool":
		_, err = strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not true or false")
		}
	case "duration":
		_, err = time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
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
	"max-images":             {1, 4096, "images"},
	"queue":                  {1, 1 << 20, "images"},
	"serve.batch":            {1, 1024, "images"},
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
	case "float64":
		x = v.GetFloat64(key)
	case "duration":
		x = float64(v.GetDuration(key))
	default:
		return nil
	}
	if x < r.min || x > r.max || x != x {
		if f.Value.Type() == "duration" {
			return fmt.Errorf("--%s %v: must not be negative", name, time.Duration(x))
		}
		return fmt.Errorf("--%s %v: want %s to %s %s", name, v.Get(key), num(r.min), num(r.max), r.what)
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
