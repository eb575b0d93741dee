package stackfile

import (
	"strings"
	"time"

	"github.com/mattn/go-shellwords"

	"github.com/devarch/devarch-controller/spec"
)

// healthcheck converts a healthcheck. It replaces the template's whole, so
// it needs a test.
func (b *builder) healthcheck(field string, h *healthcheckDoc) *spec.Healthcheck {
	if h == nil {
		return nil
	}
	out := &spec.Healthcheck{Test: b.healthcheckTest(field+".test", h.Test)}
	if !h.Test.set {
		b.fail(field+".test", "the healthcheck has no test; it replaces the template's healthcheck whole, so give its test too (or \"NONE\" to disable it)")
	}
	for _, d := range []struct {
		name string
		in   string
		out  *spec.Duration
	}{
		{"interval", h.Interval, &out.Interval},
		{"timeout", h.Timeout, &out.Timeout},
		{"start_period", h.StartPeriod, &out.StartPeriod},
	} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil || v < 0 {
			b.fail(field+"."+d.name, "%s %q is not a duration such as 10s or 1m30s", d.name, d.in)
			continue
		}
		*d.out = spec.Duration(v)
	}
	if h.Retries < 0 {
		b.fail(field+".retries", "retries %d is negative", h.Retries)
	}
	out.Retries = max(h.Retries, 0)
	return out
}

// healthcheckTest converts a test. A string becomes ["CMD-SHELL", s],
// except that a leading CMD-SHELL, CMD or NONE word is honoured: "CMD-SHELL
// pg_isready" is ["CMD-SHELL", "pg_isready"], "CMD curl -f x" is ["CMD",
// "curl", "-f", "x"] and "NONE" disables the healthcheck. A list must
// start with CMD, CMD-SHELL or NONE, as in compose.
func (b *builder) healthcheckTest(field string, c command) []string {
	for _, a := range c.argv {
		b.literalSecretRef(field, a)
	}
	if !c.set {
		return nil
	}
	if !c.isText {
		if len(c.argv) == 0 {
			b.fail(field, "the test list is empty; start it with CMD, CMD-SHELL or NONE")
			return nil
		}
		switch c.argv[0] {
		case "CMD", "CMD-SHELL", "NONE":
			return c.argv
		}
		b.fail(field, "a test list must start with CMD, CMD-SHELL or NONE")
		return nil
	}
	text := strings.TrimSpace(c.text)
	first, rest := text, ""
	if i := strings.IndexAny(text, " \t\r\n"); i >= 0 {
		first, rest = text[:i], strings.TrimSpace(text[i:])
	}
	switch first {
	case "":
		b.fail(field, "the test is empty; give a shell command, or NONE to disable the healthcheck")
		return nil
	case "NONE":
		return []string{"NONE"}
	case "CMD-SHELL":
		if rest == "" {
			b.fail(field, "nothing follows CMD-SHELL; give the shell command to run")
			return nil
		}
		return []string{"CMD-SHELL", rest}
	case "CMD":
		argv, err := shellwords.Parse(rest)
		if err != nil || len(argv) == 0 {
			b.fail(field, "the command after CMD cannot be split into words; check its quotes")
			return nil
		}
		return append([]string{"CMD"}, argv...)
	}
	return []string{"CMD-SHELL", text}
}
