package config

import (
	"time"

	"github.com/spf13/pflag"
)

// RegisterFlags adds --config and one flag per key except api_token to fs,
// e.g. --database-url, --workers, --resync-interval. The defaults shown in
// help come from defaults (pass Defaults(lookupEnv)) and are only for
// display: Load applies defaults itself and lets a flag win only when the
// user set it.
func RegisterFlags(fs *pflag.FlagSet, defaults Config) {
	fs.String(FlagConfigFile, "", "YAML config file (env "+EnvConfigFile+")")
	values := defaults.values()
	for _, f := range fields {
		if f.noFlag {
			continue
		}
		name, usage := FlagName(f.key), f.usage+" (env "+EnvVar(f.key)+")"
		switch f.kind {
		case kindInt:
			fs.Int(name, values[f.key].(int), usage)
		case kindDuration:
			fs.Duration(name, values[f.key].(time.Duration), usage)
		default:
			def := values[f.key].(string)
			if f.secret {
				def = RedactDatabaseURL(def)
			}
			fs.String(name, def, usage)
		}
	}
}
