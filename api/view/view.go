// Package view owns the user-facing, redacted shape of a stack: what the
// CLI (stack show -o json), the HTTP API (GET /api/v1/stacks/{name}) and the
// dashboard show. It is one JSON shape shared by all three.
//
// A view holds effective specs with provenance and never a secret: secret
// env values are replaced by spec.RedactedValue, and every other text field
// (non-secret env values, command, entrypoint, labels, healthcheck, config
// file contents, option values, the description) has the stack's secret values scrubbed
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
	// Variables are the stack's compose variables, secret values
	// replaced by spec.RedactedValue.
	Variables []spec.Variable `json:"variables"`
	// Engine is the engine the stack runs on (its engine field, or the
	// controller's default engine when it names none).
	Engine string `json:"engine"`
	// Subnet is the subnet the controller allocated to the stack's network
	// from its subnet pool (network.subnet_pool); empty without a pool.
	Subnet string `json:"subnet,omitempty"`
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
	sc := s.Scrubber()
	v := Stack{ID: s.ID, Name: s.Name, Description: sc.Scrub(s.Description), Network: s.Network(),
		Enabled: s.Enabled, Wires: append([]spec.Wire{}, s.Wires...), Instances: []Instance{}, Variables: s.RedactedVariables()}
	v.Engine, v.Subnet = s.Engine, s.Subnet
	for i, variable := range v.Variables {
		if !variable.Secret {
			v.Variables[i].Value = sc.Scrub(variable.Value)
		}
	}
	for _, inst := range s.Instances {
		v.Instances = append(v.Instances, Instance{
			ID: inst.ID, Name: inst.Name, Enabled: inst.Enabled, Template: inst.TemplateName(),
			Container: spec.ContainerName(s.Name, inst.Name), Effective: scrubbed(inst.Effective.Redacted(), sc),
			Domains: append([]spec.Domain{}, inst.Overrides.Domains...),
		})
	}
	return v
}

// scrubbed returns e with secrets removed from its free-text fields. e is
// a copy from spec.Effective.Redacted, whose slices other than Env are
// still shared with the stack: they are cloned before any change.
func scrubbed(e spec.Effective, sc spec.Scrubber) spec.Effective {
	for i := range e.Env {
		if !e.Env[i].Secret {
			e.Env[i].Value = sc.Scrub(e.Env[i].Value)
		}
	}
	e.Command.Value = scrubAll(e.Command.Value, sc)
	e.Entrypoint.Value = scrubAll(e.Entrypoint.Value, sc)
	e.WorkingDir.Value = sc.Scrub(e.WorkingDir.Value)
	e.User.Value = sc.Scrub(e.User.Value)
	e.Labels = slices.Clone(e.Labels)
	for i := range e.Labels {
		e.Labels[i].Value = sc.Scrub(e.Labels[i].Value)
	}
	if h := e.Healthcheck.Value; h != nil {
		c := *h
		c.Test = scrubAll(h.Test, sc)
		e.Healthcheck.Value = &c
	}
	e.ConfigFiles = slices.Clone(e.ConfigFiles)
	for i := range e.ConfigFiles {
		e.ConfigFiles[i].Content = sc.Scrub(e.ConfigFiles[i].Content)
	}
	e.Configs = slices.Clone(e.Configs)
	for i := range e.Configs {
		e.Configs[i].Content = sc.Scrub(e.Configs[i].Content)
	}
	e.OptionFields = slices.Clone(e.OptionFields)
	for i := range e.OptionFields {
		e.OptionFields[i].Value = sc.Scrub(e.OptionFields[i].Value)
	}
	e.Options = spec.Options{}
	return e
}

func scrubAll(xs []string, sc spec.Scrubber) []string {
	out := slices.Clone(xs)
	for i := range out {
		out[i] = sc.Scrub(out[i])
	}
	return out
}
