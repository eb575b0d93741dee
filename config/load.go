package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Options says where Load reads configuration from.
type Options struct {
	// File is the YAML config file. Empty means the file named by
	// DEVARCH_CONFIG, or no file at all. A named file must exist.
	File string
	// Flags holds the command-line flags to honour; only flags the user
	// set (Changed) override other sources. Flags are matched to keys by
	// name (FlagName), so both RegisterFlags' set and a command's own flags
	// work. Nil means no flags.
	Flags *pflag.FlagSet
	// LookupEnv reads environment variables (DEVARCH_*, DOCKER_HOST, HOME,
	// XDG_STATE_HOME). Nil means os.LookupEnv; tests pass a map's lookup.
	LookupEnv func(string) (string, bool)
}

// Load builds the effective configuration. Precedence, highest first:
// flags the user set, DEVARCH_* environment variables (empty ones count as
// unset), the config file, Defaults.
//
// Load reports every problem in the file and the environment at once as a
// *ValidationError. It also makes path keys absolute (~ means $HOME;
// relative paths from the file are relative to the file's directory, from
// flags and the environment to the working directory) and reads
// api_token_file into APIToken. It does not validate values: call Validate.
func Load(opts Options) (Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	file := opts.File
	if file == "" {
		file, _ = opts.LookupEnv(EnvConfigFile)
	}

	var fileValues map[string]any
	var problems []string
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return Config{}, fmt.Errorf("read config file: %w", err)
		}
		fileValues, problems = parseFile(file, data)
	}
	envValues, envProblems := readEnv(opts.LookupEnv)
	problems = append(problems, envProblems...)
	if len(problems) > 0 {
		return Config{}, &ValidationError{Problems: problems}
	}

	engines, _ := fileValues[EnginesKey].([]Engine)
	delete(fileValues, EnginesKey)
	cfg, err := merge(Defaults(opts.LookupEnv), fileValues, envValues, opts.Flags)
	if err != nil {
		return Config{}, err
	}
	cfg.Engines = engines

	src := sources{file: file, fileValues: fileValues, envValues: envValues, flags: opts.Flags}
	if err := resolvePaths(&cfg, src, envFunc(opts.LookupEnv)("HOME")); err != nil {
		return Config{}, err
	}
	if err := readAPITokenFile(&cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// readEnv parses every DEVARCH_<KEY> variable that is set and not empty.
func readEnv(lookupEnv func(string) (string, bool)) (map[string]any, []string) {
	values := make(map[string]any)
	var problems []string
	for _, f := range fields {
		name := EnvVar(f.key)
		raw, ok := lookupEnv(name)
		if !ok || raw == "" {
			continue
		}
		parsed, complaint := f.parse(raw)
		if complaint != "" {
			problems = append(problems, f.describe("Environment variable "+name, complaint, raw))
			continue
		}
		values[f.key] = parsed
	}
	return values, problems
}

// merge layers the sources with viper and decodes the result. Values in
// fileValues and envValues are already typed; env is merged over the file
// so that viper's own order (flag > config > default) gives flag > env >
// file > default.
func merge(defaults Config, fileValues, envValues map[string]any, flags *pflag.FlagSet) (Config, error) {
	v := viper.New()
	for key, val := range defaults.values() {
		v.SetDefault(key, val)
	}
	if err := v.MergeConfigMap(copyMap(fileValues)); err != nil {
		return Config{}, fmt.Errorf("merge config file: %w", err)
	}
	if err := v.MergeConfigMap(copyMap(envValues)); err != nil {
		return Config{}, fmt.Errorf("merge environment: %w", err)
	}
	if flags != nil {
		for _, f := range fields {
			if f.noFlag {
				continue
			}
			if fl := flags.Lookup(FlagName(f.key)); fl != nil {
				if err := v.BindPFlag(f.key, fl); err != nil {
					return Config{}, fmt.Errorf("bind flag --%s: %w", fl.Name, err)
				}
			}
		}
	}
	var cfg Config
	if err := v.UnmarshalExact(&cfg); err != nil {
		return Config{}, fmt.Errorf("decode configuration: %w", err)
	}
	return cfg, nil
}

// copyMap returns a shallow copy (viper's MergeConfigMap may modify its
// argument).
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sources remembers which layer set each key, to resolve relative paths.
type sources struct {
	file       string
	fileValues map[string]any
	envValues  map[string]any
	flags      *pflag.FlagSet
}

// pathBase returns the directory a relative path set for key is relative to.
func (s sources) pathBase(key string) (string, error) {
	if s.flags != nil {
		if fl := s.flags.Lookup(FlagName(key)); fl != nil && fl.Changed {
			return os.Getwd()
		}
	}
	if _, ok := s.envValues[key]; ok {
		return os.Getwd()
	}
	if _, ok := s.fileValues[key]; ok {
		abs, err := filepath.Abs(s.file)
		if err != nil {
			return "", err
		}
		return filepath.Dir(abs), nil
	}
	return os.Getwd()
}

// resolvePaths expands ~ and makes every path key absolute.
func resolvePaths(cfg *Config, src sources, home string) error {
	for _, f := range fields {
		if !f.path {
			continue
		}
		p := cfg.pathField(f.key)
		if *p == "" {
			continue
		}
		if *p == "~" || strings.HasPrefix(*p, "~/") {
			if !filepath.IsAbs(home) {
				return &ValidationError{Problems: []string{
					fmt.Sprintf("%s %q starts with ~ but HOME is not set; use an absolute path.", f.key, *p),
				}}
			}
			*p = filepath.Join(home, strings.TrimPrefix(*p, "~"))
		}
		if filepath.IsAbs(*p) {
			*p = filepath.Clean(*p)
			continue
		}
		base, err := src.pathBase(f.key)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", f.key, err)
		}
		*p = filepath.Join(base, *p)
	}
	return nil
}

// readAPITokenFile fills APIToken from APITokenFile, unless APIToken is set
// too (Validate reports that conflict).
func readAPITokenFile(cfg *Config) error {
	if cfg.APITokenFile == "" || cfg.APIToken != "" {
		return nil
	}
	data, err := os.ReadFile(cfg.APITokenFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &ValidationError{Problems: []string{
			fmt.Sprintf("api_token_file %q does not exist; create it or unset api_token_file.", cfg.APITokenFile),
		}}
	}
	if err != nil {
		return fmt.Errorf("read api_token_file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return &ValidationError{Problems: []string{
			fmt.Sprintf("api_token_file %q is empty; write the token into it.", cfg.APITokenFile),
		}}
	}
	cfg.APIToken = token
	cfg.apiTokenFromFile = true
	return nil
}
