package cli

import (
	"io"
	"os"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/internal/logging"
)

// CommandFunc builds a subcommand. It receives the App so the command's
// RunE can reach the loaded configuration and the logger.
type CommandFunc func(app *App) *cobra.Command

// Option configures NewRootCommand and Execute.
type Option func(*App)

// WithStreams replaces stdin, stdout and stderr (tests capture output this
// way). Commands write through cmd.OutOrStdout() and cmd.ErrOrStderr().
func WithStreams(in io.Reader, out, errOut io.Writer) Option {
	return func(a *App) { a.in, a.out, a.errOut = in, out, errOut }
}

// WithLookupEnv replaces os.LookupEnv for configuration (tests pass a
// map's lookup so they never touch the process environment).
func WithLookupEnv(lookupEnv func(string) (string, bool)) Option {
	return func(a *App) { a.lookupEnv = lookupEnv }
}

// WithCommands adds subcommands to the root, after version and config.
func WithCommands(commands ...CommandFunc) Option {
	return func(a *App) { a.commands = append(a.commands, commands...) }
}

// App is what every subcommand shares: the version, the configuration and
// the logger. The root's PersistentPreRunE loads and validates the
// configuration and builds the logger before any command's RunE, unless
// the command is marked with SkipConfig. App is safe for concurrent use.
type App struct {
	version   string
	lookupEnv func(string) (string, bool)
	in        io.Reader
	out       io.Writer
	errOut    io.Writer
	commands  []CommandFunc

	mu            sync.Mutex
	flags         *pflag.FlagSet // the executing command's flags (local + inherited)
	preRunStarted bool           // errors before this are usage errors
	cfgDone       bool
	cfg           config.Config
	cfgErr        error
	logger        *zap.Logger
}

func newApp(version string, opts ...Option) *App {
	a := &App{
		version:   version,
		lookupEnv: os.LookupEnv,
		in:        os.Stdin,
		out:       os.Stdout,
		errOut:    os.Stderr,
	}
	for _, opt := range opts {
		opt(a)
	}
	return a
}

// Version is the version the binary was built with (main.version).
func (a *App) Version() string { return a.version }

// Config returns the effective configuration, loaded from the --config
// file, DEVARCH_* environment and flags, and validated. It is loaded once;
// for commands not marked SkipConfig the root has already loaded it, so the
// error is nil there.
func (a *App) Config() (config.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.configLocked()
}

func (a *App) configLocked() (config.Config, error) {
	if !a.cfgDone {
		a.cfgDone = true
		cfg, err := a.loadLocked()
		if err == nil {
			err = cfg.Validate()
		}
		a.cfg, a.cfgErr = cfg, err
	}
	if a.cfgErr != nil {
		return config.Config{}, a.cfgErr
	}
	return a.cfg, nil
}

// load returns the configuration without validating it.
func (a *App) load() (config.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.loadLocked()
}

func (a *App) loadLocked() (config.Config, error) {
	flags := a.flags
	if flags == nil {
		// Not executing (e.g. a test calling Config directly): defaults,
		// file from the environment and environment only.
		flags = pflag.NewFlagSet("none", pflag.ContinueOnError)
	}
	file := ""
	if f := flags.Lookup(config.FlagConfigFile); f != nil {
		file = f.Value.String()
	}
	return config.Load(config.Options{File: file, Flags: flags, LookupEnv: a.lookupEnv})
}

// Logger returns the logger configured by log_level and log_format,
// writing to stderr. It never returns nil: if the configuration cannot be
// loaded (possible only in SkipConfig commands) it logs at info level in
// the default format.
func (a *App) Logger() *zap.Logger {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.logger != nil {
		return a.logger
	}
	level, format := config.DefaultLogLevel, config.DefaultLogFormat
	if cfg, err := a.configLocked(); err == nil {
		level, format = cfg.LogLevel, cfg.LogFormat
	}
	logger, err := logging.New(level, format, a.errOut)
	if err != nil {
		logger = zap.NewNop()
	}
	a.logger = logger
	return logger
}

// syncLogger flushes the logger if one was built.
func (a *App) syncLogger() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.logger != nil {
		_ = a.logger.Sync() // stderr may not support fsync; nothing to do
	}
}

// preRun is the root's PersistentPreRunE.
func (a *App) preRun(cmd *cobra.Command, _ []string) error {
	a.mu.Lock()
	a.flags = cmd.Flags()
	a.preRunStarted = true
	a.mu.Unlock()
	if !needsConfig(cmd) {
		return nil
	}
	cfg, err := a.Config()
	if err != nil {
		return err
	}
	a.Logger().Debug("loaded configuration", zap.Stringer("config", cfg))
	return nil
}

// started reports whether the root's PersistentPreRunE ran, i.e. whether
// flags and arguments were accepted.
func (a *App) started() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.preRunStarted
}

const annotationSkipConfig = "devarch.dev/skip-config"

// SkipConfig marks cmd (and its subcommands) as not needing a valid
// configuration, so the root does not load it before RunE (version, config
// print). Such a command may still call App.Config. It returns cmd.
func SkipConfig(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotationSkipConfig] = "true"
	return cmd
}

// needsConfig reports whether cmd wants the configuration loaded before it
// runs. Cobra's own help and completion commands do not.
func needsConfig(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[annotationSkipConfig] == "true" {
			return false
		}
		switch c.Name() {
		case "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return false
		}
	}
	return true
}
