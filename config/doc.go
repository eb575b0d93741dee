// Package config owns the controller's configuration: the Config struct,
// its defaults, loading it from a YAML file, DEVARCH_* environment
// variables and command-line flags (in that order of increasing
// precedence), validating it and printing it with secrets redacted.
//
// It is the only package that imports viper. Loading is strict: an unknown
// key in the file is an error that names the key and the file. Every value
// read from the file or the environment is parsed up front, so a bad value is
// reported with where it came from.
//
// It must not connect to anything (database, Docker, network) and must never
// put a secret (api_token, the password in database_url) into an error,
// printed output or a String/JSON/YAML rendering of Config. Reading the
// config file and api_token_file is its only I/O.
package config
