// Package view owns the user-facing, redacted shape of a stack: what the
// CLI (stack show -o json), the HTTP API (GET /api/v1/stacks/{name}) and the
// dashboard show. It is one JSON shape shared by all three.
//
// A view holds effective specs with provenance and never a secret: secret
// env values are replaced by spec.RedactedValue, and every other text field
// (non-secret env values, command, entrypoint, labels, healthcheck, config
// file contents, the description) has the stack's secret values scrubbed
// from it, so a password interpolated into a command or a connection URL
// does not leak either. Overrides are omitted (they hold secret values).
//
// This package must not do I/O or hold business logic.
package view

import (
	"slices"

	"github.com/devarch/devarch-controller/spec"
)

// Stack is a stack as shown to users.
type Stack struct {
	ID          int64       `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Network     string      `json:"network"`
	Enabled     bool        `json:"enabled"`
	Wires       []spec.Wire `json:"wires"`
	Instances   []Instance  `json:"instances"`
}

// Instance is one instance as shown to users.
type Instance struct {
	ID        int64          `json:"id"`
	Name      string         `json:"name"`
	Enabled   bool           `json:"enabled"`
	Template  string         `json:"template,omitempty"`
	Container string         `json:"container"`
	Effective spec.Effective `json:"effective"`
	Domains   []spec.Domain  `json:"domains"`
}

// Redact returns the user-facing view of a stack. The input is not
// modified.
func Redact(s spec.Stack) Stack {
	secrets := s.SecretValues()
	v := Stack{ID: s.ID, Name: s.Name, Description: spec.Scrub(s.Description, secrets), Network: s.Network(),
		Enabled: s.Enabled, Wires: append([]spec.Wire{}, s.Wires...), Instances: []Instance{}}
	for _, inst := range s.Instances {
		v.Instances = append(v.Instances, Instance{
			ID: inst.ID, Name: inst.Name, Enabled: inst.Enabled, Template: inst.TemplateName(),
			Container: spec.ContainerName(s.Name, inst.Name), Effective: scrubbed(inst.Effective.Redacted(), secrets),
			Domains: append([]spec.Domain{}, inst.Overrides.Domains...),
		})
	}
	return v
}

// scrubbed returns e with secrets removed from its free-text fields. e is
// a copy from spec.Effective.Redacted, whose slices other than Env are
// still shared with the stack: they are cloned before any change.
func scrubbed(e spec.Effective, secrets []string) spec.Effective {
	if len(secrets) == 0 {
		return e
	}
	for i := range e.Env {
		if !e.Env[i].Secret {
			e.Env[i].Value = spec.Scrub(e.Env[i].Value, secrets)
		}
	}
	e.Command.Value = scrubAll(e.Command.Value, secrets)
	e.Entrypoint.Value = scrubAll(e.Entrypoint.Value, secrets)
	e.WorkingDir.Value = spec.Scrub(e.WorkingDir.Value, secrets)
	e.Labels = slices.Clone(e.Labels)
	for i := range e.Labels {
		e.Labels[i].Value = spec.Scrub(e.Labels[i].Value, secrets)
	}
	if h := e.Healthcheck.Value; h != nil {
		c := *h
		c.Test = scrubAll(h.Test, secrets)
		e.Healthcheck.Value = &c
	}
	e.ConfigFiles = slices.Clone(e.ConfigFiles)
	for i := range e.ConfigFiles {
		e.ConfigFiles[i].Content = spec.Scrub(e.ConfigFiles[i].Content, secrets)
	}
	return e
}

func scrubAll(xs []string, secrets []string) []string {
	out := slices.Clone(xs)
	for i := range out {
		out[i] = spec.Scrub(out[i], secrets)
	}
	return out
}
