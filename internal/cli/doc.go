// Package cli is the devarch-controller command line: the root command,
// the global flags (one per configuration key), the shared App that hands
// subcommands their validated configuration and logger, exit codes, and
// the version and config commands.
//
// Subcommands are added with WithCommands (or by appending to
// newRootCommand) as CommandFunc values; they get everything through App
// and write through cmd.OutOrStdout()/cmd.ErrOrStderr().
//
// It must not hold business logic: commands parse arguments, call into the
// packages that own the work (state, plan, deploy, reconcile, api, serve)
// and report; `serve` only builds serve.Options from the configuration and
// calls serve.Run. It must not read the process environment or configuration
// directly (config does), and must not print an error more than once.
package cli
