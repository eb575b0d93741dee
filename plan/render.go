package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// TextOptions control text rendering.
type TextOptions struct {
	// Color adds ANSI colours (use only on a terminal).
	Color bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiDim    = "\x1b[2m"
)

var actionColor = map[Action]string{ActionAdd: ansiGreen, ActionModify: ansiYellow, ActionRemove: ansiRed}

// WriteText renders the plan like terraform plan: one block per change
// marked +, ~ or -, indented "field: old → new (source)" lines, one
// "! ..." line per notice, warnings, and a summary line.
func (p *Plan) WriteText(w io.Writer, o TextOptions) error {
	tw := &textWriter{w: w, color: o.Color}
	if p.StackID == 0 {
		tw.printf("Stack %s (new)\n", p.Stack)
	} else {
		tw.printf("Stack %s (id %d)\n", p.Stack, p.StackID)
	}
	if p.Token != "" {
		tw.printf("Token %s\n\n", p.Token)
	} else {
		tw.printf("Token none yet: the stack's plan has one once the change is saved\n\n")
	}
	for _, c := range p.Changes {
		tw.change(c)
	}
	tw.resources(p.Resources)
	for _, n := range p.Notices {
		tw.printf("%s %s\n", tw.paint(ansiYellow, "!"), n.Summary)
	}
	if len(p.Notices) > 0 {
		tw.printf("\n")
	}
	for _, warn := range p.Warnings {
		tw.printf("%s %s\n", tw.paint(ansiYellow, "Warning:"), warn)
	}
	if len(p.Warnings) > 0 {
		tw.printf("\n")
	}
	tw.printf("%s\n", tw.paint(ansiBold, p.SummaryLine()))
	return tw.err
}

// SummaryLine is "Plan: 1 to add, 2 to modify, 0 to remove." or "No
// changes. Stack is up to date."
func (p *Plan) SummaryLine() string {
	if p.Empty() {
		return "No changes. Stack is up to date."
	}
	return fmt.Sprintf("Plan: %d to add, %d to modify, %d to remove.", p.Summary.Add, p.Summary.Modify, p.Summary.Remove)
}

// WriteJSON writes the plan's JSON form, indented.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

type textWriter struct {
	w     io.Writer
	color bool
	err   error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *textWriter) paint(code, s string) string {
	if !t.color {
		return s
	}
	return code + s + ansiReset
}

func (t *textWriter) change(c Change) {
	head := c.Instance
	if c.Template != "" {
		head += " (" + c.Template + ")"
	}
	t.printf("  %s %s\n", t.paint(actionColor[c.Action], c.Action.Symbol()), t.paint(ansiBold, head))
	t.printf("      %s\n", t.paint(ansiDim, c.Container+": "+c.Reason))
	width := 0
	for _, f := range c.Fields {
		width = max(width, len(f.Path))
	}
	for _, f := range c.Fields {
		line := fmt.Sprintf("%-*s  %s", width+1, f.Path+":", valueChange(f))
		meta := string(f.Source)
		if f.From != "" {
			meta += ", " + f.From
		}
		if len(f.Variables) > 0 {
			meta += ", variable " + strings.Join(f.Variables, ", ")
		}
		if f.Reason != "" {
			meta += "; " + f.Reason
		}
		t.printf("      %s %s\n", line, t.paint(ansiDim, "("+meta+")"))
	}
	t.printf("\n")
}

func valueChange(f FieldChange) string {
	switch {
	case f.Old == nil && f.New == nil:
		return ""
	case f.Old == nil:
		return "+ " + quote(*f.New)
	case f.New == nil:
		return "- " + quote(*f.Old)
	}
	return quote(*f.Old) + " → " + quote(*f.New)
}

func quote(s string) string {
	if s == "" || strings.ContainsAny(s, "\n\t") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
