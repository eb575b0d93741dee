// Package logging builds the controller's zap logger: JSON for machines,
// a console encoder for people at a terminal, snake_case keys, ISO 8601
// times.
//
// It owns encoder and level choices only. It must not read configuration
// (callers pass log_level and log_format) and must not install global
// loggers: the logger is injected wherever it is used.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/term"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Formats returns the accepted values of format: auto picks console when
// w is a terminal and json otherwise.
func Formats() []string { return []string{"auto", "console", "json"} }

// Levels returns the accepted values of level.
func Levels() []string { return []string{"debug", "info", "warn", "error"} }

// New returns a logger writing entries at level and above to w (nil means
// os.Stderr) in the given format. Keys are snake_case: time (ISO 8601),
// level, logger, msg, caller, stacktrace; log errors with Err so they
// appear under "err".
func New(level, format string, w io.Writer) (*zap.Logger, error) {
	if w == nil {
		w = os.Stderr
	}
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	console, err := useConsole(format, w)
	if err != nil {
		return nil, err
	}

	enc := encoderConfig()
	var encoder zapcore.Encoder
	if console {
		if isTerminal(w) {
			enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
		} else {
			enc.EncodeLevel = zapcore.CapitalLevelEncoder
		}
		encoder = zapcore.NewConsoleEncoder(enc)
	} else {
		encoder = zapcore.NewJSONEncoder(enc)
	}
	core := zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core, zap.AddStacktrace(zapcore.DPanicLevel)), nil
}

func encoderConfig() zapcore.EncoderConfig {
	return zapcore.EncoderConfig{
		TimeKey:        "time",
		LevelKey:       "level",
		NameKey:        "logger",
		CallerKey:      "caller",
		FunctionKey:    zapcore.OmitKey,
		MessageKey:     "msg",
		StacktraceKey:  "stacktrace",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeTime:     zapcore.ISO8601TimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeCaller:   zapcore.ShortCallerEncoder,
	}
}

func parseLevel(level string) (zapcore.Level, error) {
	switch strings.ToLower(level) {
	case "debug":
		return zapcore.DebugLevel, nil
	case "info", "":
		return zapcore.InfoLevel, nil
	case "warn":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return 0, fmt.Errorf("parse log level: %q is not one of %s", level, strings.Join(Levels(), ", "))
}

func useConsole(format string, w io.Writer) (bool, error) {
	switch format {
	case "console":
		return true, nil
	case "json":
		return false, nil
	case "auto", "":
		return isTerminal(w), nil
	}
	return false, fmt.Errorf("parse log format: %q is not one of %s", format, strings.Join(Formats(), ", "))
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(f.Fd())
}

// Err is the house field for an error: zap.Error names it "error", the
// house rule names it "err".
func Err(err error) zap.Field { return zap.NamedError("err", err) }
