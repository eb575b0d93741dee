package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/stackfile"
	"github.com/devarch/devarch-controller/state"
)

// RevisionReader reads a stack's revisions (implemented by *state.Store).
// Errors wrap state.ErrNotFound for an unknown stack.
type RevisionReader interface {
	StackRevision(ctx context.Context, name string) (int, error)
	Revisions(ctx context.Context, name string) ([]state.Revision, error)
}

// StackImporter creates or replaces stacks, or previews that (implemented
// by *state.Store).
type StackImporter interface {
	PreviewImport(ctx context.Context, st spec.Stack) (state.ImportPreview, error)
	ImportStack(ctx context.Context, st spec.Stack) (state.ImportResult, error)
	ImportStackAt(ctx context.Context, st spec.Stack, ifRevision int) (state.ImportResult, error)
}

// StackEditor edits one instance or restores a revision (implemented by
// *state.Store).
type StackEditor interface {
	EditInstance(ctx context.Context, stack, instance string, o spec.Overrides, opts state.EditOptions) (state.EditResult, error)
	RevertStack(ctx context.Context, name string, number int, opts state.EditOptions) (state.EditResult, error)
}

// EditStore is everything the API does to change the desired state.
type EditStore interface {
	RevisionReader
	StackImporter
	StackEditor
}

// editResponse is the body of PUT /stacks/{name}, PATCH
// /stacks/{name}/instances/{instance} and POST .../revert.
type editResponse struct {
	Stack string `json:"stack"`
	// DryRun says nothing was written: Preview is what the request would
	// change.
	DryRun bool `json:"dry_run"`
	// Changed says the request stored a new revision.
	Changed bool `json:"changed"`
	// Revision is the stack's revision after the request (its ETag).
	Revision int `json:"revision"`
	// Preview is the change to the desired state in the plan's format.
	Preview *plan.Plan `json:"preview"`
}

// revisionList is the body of GET /stacks/{name}/revisions.
type revisionList struct {
	Stack     string          `json:"stack"`
	Revisions []revisionEntry `json:"revisions"`
}

type revisionEntry struct {
	Number     int        `json:"number"`
	Author     string     `json:"author"`
	Kind       string     `json:"kind"`
	CreatedAt  time.Time  `json:"created_at"`
	RevertedTo *int       `json:"reverted_to,omitempty"`
	Diff       *plan.Plan `json:"diff"`
}

// overridesFields names what a PATCH body may hold, for error messages.
const overridesFields = "override fields of the instance (such as image, command, env, ports, volumes, labels, restart, or a compose option key such as hostname); see docs/api.md"

// editor returns the edit store, answering 501 itself when the API was
// built without one.
func (s *server) editor(w http.ResponseWriter) (EditStore, bool) {
	if s.deps.Edits == nil {
		writeError(w, http.StatusNotImplemented, codeNotImplemented,
			"This controller does not serve changes to the desired state over the API. Use the CLI (devarch-controller stack import).")
		return nil, false
	}
	return s.deps.Edits, true
}

// etag is the ETag of a stack at revision n.
func etag(n int) string { return `"` + strconv.Itoa(n) + `"` }

// ifMatch reads the If-Match header: the revision it names, nil for "*"
// or no header (present says whether there was one).
func ifMatch(r *http.Request) (rev *int, present bool, e *apiError) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return nil, false, nil
	}
	if h == "*" {
		return nil, true, nil
	}
	inner := strings.Trim(h, `"`)
	n, err := strconv.Atoi(inner)
	// An ETag is compared as a string: "02" is not the ETag "2".
	if err != nil || n < 0 || strconv.Itoa(n) != inner || !strings.HasPrefix(h, `"`) || !strings.HasSuffix(h, `"`) {
		return nil, true, &apiError{Status: http.StatusBadRequest, Code: codeInvalidParameter,
			Message: `The If-Match header must be the stack's ETag, such as "3", as GET /api/v1/stacks/{name} returns it.`}
	}
	return &n, true, nil
}

// dryRun reads the dry_run query parameter.
func dryRun(r *http.Request) (bool, *apiError) {
	switch v := r.URL.Query().Get("dry_run"); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, &apiError{Status: http.StatusBadRequest, Code: codeInvalidParameter,
			Message: fmt.Sprintf("The dry_run parameter is %q; send dry_run=true to preview the change, or leave it out.", v)}
	}
}

// authored is the request's context naming its caller as the author of
// the revisions it stores.
func (s *server) authored(r *http.Request) context.Context {
	return state.WithAuthor(r.Context(), s.opts.RequestedBy(r))
}

// putStack creates or replaces a stack from a devarch.yml body, or
// previews that with ?dry_run=true.
func (s *server) putStack(w http.ResponseWriter, r *http.Request) {
	ed, ok := s.editor(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	dry, e := dryRun(r)
	if e == nil {
		e = yamlBody(r)
	}
	var rev *int
	if e == nil {
		rev, _, e = ifMatch(r)
	}
	var body []byte
	if e == nil {
		body, e = readRaw(w, r, s.opts.MaxBodyBytes)
	}
	var file *stackfile.File
	if e == nil {
		file, e = parseStackFile(body, name, s.opts.Secrets)
		if e == nil {
			e = checkEngine(file.Stack, s.opts.Engines)
		}
	}
	if e != nil {
		e.write(w)
		return
	}
	if dry {
		p, err := ed.PreviewImport(r.Context(), file.Stack)
		if err != nil {
			s.editError(w, r, name, "", err)
			return
		}
		if rev != nil && *rev != p.Revision {
			s.editError(w, r, name, "", &state.RevisionMismatchError{Stack: name, Expected: *rev, Current: p.Revision})
			return
		}
		p.Plan.Warnings = warnings(file.Warnings, p.Plan.Warnings)
		w.Header().Set("ETag", etag(p.Revision))
		writeJSON(w, http.StatusOK, editResponse{Stack: name, DryRun: true, Revision: p.Revision, Preview: p.Plan})
		return
	}
	var (
		res state.ImportResult
		err error
	)
	if rev != nil {
		res, err = ed.ImportStackAt(s.authored(r), file.Stack, *rev)
	} else {
		res, err = ed.ImportStack(s.authored(r), file.Stack)
	}
	if err != nil {
		s.editError(w, r, name, "", err)
		return
	}
	out := editResponse{Stack: name, Changed: res.Revision > 0, Revision: res.Revision, Preview: res.Preview}
	if out.Preview == nil {
		out.Preview = emptyPreview(name, res.StackID)
	}
	out.Preview.Warnings = warnings(file.Warnings, res.Warnings, out.Preview.Warnings)
	if !out.Changed {
		if out.Revision, err = ed.StackRevision(r.Context(), name); err != nil {
			s.internalError(w, r, "read the stack's revision", err)
			return
		}
	}
	status := http.StatusOK
	if res.StackAction == state.ActionCreated {
		status = http.StatusCreated
		w.Header().Set("Location", Base+"/stacks/"+name)
	}
	w.Header().Set("ETag", etag(out.Revision))
	writeJSON(w, status, out)
}

// yamlBody checks that a PUT body is declared as YAML.
func yamlBody(r *http.Request) *apiError {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err == nil && (mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml"):
		return nil
	default:
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMediaType,
			Message: "Send the stack file (devarch.yml version 1) with the header Content-Type: application/yaml."}
	}
}

// readRaw reads a request body of at most limit bytes.
func readRaw(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeBodyTooLarge,
			Message: fmt.Sprintf("The request body is larger than %d bytes. A stack file is a few kilobytes.", tooLarge.Limit)}
	}
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Code: codeInvalidBody, Message: "The request body could not be read. Send it again."}
	}
	return body, nil
}

// parseStackFile parses a PUT body, which must define the stack named in
// the path.
func parseStackFile(body []byte, name string, secrets stackfile.SecretLookup) (*stackfile.File, *apiError) {
	// The API resolves secrets from the controller's secrets file only,
	// never from its environment (which is not the caller's).
	hint := "add it as a NAME=value line to the controller's secrets file (secrets_file in its configuration), which the API reads at each request; the API does not read environment variables"
	if secrets == nil {
		hint = "the controller has no secrets file: set secrets_file in its configuration to a file of NAME=value lines, or import the stack with the CLI (stack import), which also reads environment variables"
	}
	f, err := stackfile.Parse(body, secrets, stackfile.MissingSecretHint(hint))
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Code: codeInvalidStack,
			Message: "The stack file is not valid: " + oneLine(err.Error()) + ". Fix it and send it again."}
	}
	if f.Stack.Name != name {
		return nil, &apiError{Status: http.StatusBadRequest, Code: codeInvalidStack,
			Message: fmt.Sprintf("The stack file defines stack %q, not %q. Send it to /api/v1/stacks/%s, or rename the stack in the file.", f.Stack.Name, name, f.Stack.Name)}
	}
	return f, nil
}

// oneLine joins the lines of a multi-line error.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")), " ")
}

// warnings joins lists of warnings into a new one, never nil.
func warnings(lists ...[]string) []string {
	out := []string{}
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// emptyPreview is the preview of a change that changes nothing.
func emptyPreview(stack string, id int64) *plan.Plan {
	return &plan.Plan{FormatVersion: plan.FormatVersion, StackID: id, Stack: stack,
		Changes: []plan.Change{}, Warnings: []string{}, Notices: []plan.Notice{}}
}

// editError answers the error of a change to the desired state: 404 for
// an unknown stack or instance, 400 for an invalid result, 412 for a lost
// update, 500 otherwise. instance is "" for a whole-stack change.
func (s *server) editError(w http.ResponseWriter, r *http.Request, stack, instance string, err error) {
	var (
		invalid  *spec.ValidationError
		missing  *state.MissingTemplatesError
		mismatch *state.RevisionMismatchError
		noRev    *state.RevisionNotFoundError
	)
	switch {
	case errors.As(err, &mismatch):
		w.Header().Set("ETag", etag(mismatch.Current))
		writeError(w, http.StatusPreconditionFailed, codeRevisionMismatch,
			fmt.Sprintf("Stack %q was changed by someone else: it is at revision %d, not %d. Nothing was written. Read it again (GET /api/v1/stacks/%s), redo your change and send it with If-Match: %s.",
				stack, mismatch.Current, mismatch.Expected, stack, etag(mismatch.Current)))
	case errors.As(err, &invalid), errors.As(err, &missing):
		writeError(w, http.StatusBadRequest, codeInvalidStack,
			"The change was refused and nothing was written: "+oneLine(err.Error())+".")
	case errors.Is(err, state.ErrNotFound) && instance != "" && !strings.HasPrefix(err.Error(), "stack "):
		writeError(w, http.StatusNotFound, codeInstanceNotFound,
			fmt.Sprintf("Stack %q has no instance %q. See its instances with GET /api/v1/stacks/%s.", stack, instance, stack))
	case errors.As(err, &noRev):
		writeError(w, http.StatusNotFound, codeRevisionNotFound,
			fmt.Sprintf("Stack %q has no such revision. List them with GET /api/v1/stacks/%s/revisions.", stack, stack))
	case errors.Is(err, state.ErrNotFound):
		writeError(w, http.StatusNotFound, codeStackNotFound,
			fmt.Sprintf("Stack %q does not exist. List the stacks with GET /api/v1/stacks.", stack))
	case errors.Is(err, state.ErrDeletionRevision):
		writeError(w, http.StatusBadRequest, codeInvalidParameter,
			fmt.Sprintf("That revision of stack %q is its deletion, which cannot be restored. Choose an earlier revision.", stack))
	default:
		s.internalError(w, r, "change the stack", err)
	}
}

// patchInstance changes one instance's overrides: the body is a JSON
// merge patch of its overrides (top-level keys replace that override,
// null removes it). It needs If-Match unless it is a dry run.
func (s *server) patchInstance(w http.ResponseWriter, r *http.Request) {
	ed, ok := s.editor(w)
	if !ok {
		return
	}
	name, instance := r.PathValue("name"), r.PathValue("instance")
	dry, e := dryRun(r)
	var (
		rev     *int
		present bool
	)
	if e == nil {
		rev, present, e = ifMatch(r)
	}
	if e == nil && !present && !dry {
		e = &apiError{Status: http.StatusPreconditionRequired, Code: codePreconditionRequired,
			Message: fmt.Sprintf(`Send the stack's revision in the header If-Match (the ETag of GET /api/v1/stacks/%s, such as "3"), so that a change made meanwhile by someone else is not overwritten; If-Match: * skips the check.`, name)}
	}
	var body []byte
	if e == nil {
		body, e = readRaw(w, r, s.opts.MaxBodyBytes)
	}
	if e != nil {
		e.write(w)
		return
	}
	st, ok := s.stackNamed(w, r, name)
	if !ok {
		return
	}
	cur, found := instanceOverrides(st, instance)
	if !found {
		s.editError(w, r, name, instance, fmt.Errorf("instance %q of stack %q %w", instance, name, state.ErrNotFound))
		return
	}
	o, e := mergeOverrides(cur, body)
	if e != nil {
		e.write(w)
		return
	}
	res, err := ed.EditInstance(s.authored(r), name, instance, o, state.EditOptions{IfRevision: rev, DryRun: dry})
	if err != nil {
		s.editError(w, r, name, instance, err)
		return
	}
	w.Header().Set("ETag", etag(res.Revision))
	writeJSON(w, http.StatusOK, editResponse{Stack: name, DryRun: dry, Changed: res.Changed, Revision: res.Revision, Preview: res.Preview})
}

// overrideFieldNames is the set of JSON field names of spec.Overrides,
// with those of its embedded structs.
func overrideFieldNames() map[string]bool {
	names := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case name == "-" || !f.IsExported():
			case name == "":
				names[f.Name] = true
			default:
				names[name] = true
			}
		}
	}
	walk(reflect.TypeFor[spec.Overrides]())
	return names
}

func instanceOverrides(st spec.Stack, name string) (spec.Overrides, bool) {
	for _, inst := range st.Instances {
		if inst.Name == name {
			return inst.Overrides, true
		}
	}
	return spec.Overrides{}, false
}

// mergeOverrides applies a JSON merge patch (top level) to an instance's
// overrides. Field names and types are checked strictly. An env entry
// whose value is the redaction placeholder keeps the stored value, so that
// a client can send back the env it was shown.
func mergeOverrides(cur spec.Overrides, patch []byte) (spec.Overrides, *apiError) {
	var probe spec.Overrides
	if e := decodeJSON(patch, &probe, overridesFields); e != nil {
		return cur, e
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil || len(fields) == 0 {
		return cur, &apiError{Status: http.StatusBadRequest, Code: codeInvalidBody,
			Message: "The request body must be a JSON object with at least one of the " + overridesFields + "."}
	}
	// encoding/json matches field names case-insensitively; a merge patch
	// must not, or {"Image": …} would sit beside the stored "image" and be
	// dropped without a word.
	known := overrideFieldNames()
	for k := range fields {
		if !known[k] {
			return cur, &apiError{Status: http.StatusBadRequest, Code: codeInvalidBody,
				Message: fmt.Sprintf("The request body has an unknown field %q (field names are lower case, such as image or working_dir). Send only %s.", k, overridesFields)}
		}
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return cur, &apiError{Status: http.StatusInternalServerError, Code: codeInternal, Message: "The controller could not read the instance's overrides. Try again."}
	}
	merged := map[string]json.RawMessage{}
	_ = json.Unmarshal(b, &merged)
	for k, v := range fields {
		if string(v) == "null" {
			delete(merged, k)
			continue
		}
		merged[k] = v
	}
	b, _ = json.Marshal(merged)
	var out spec.Overrides
	if e := decodeJSON(b, &out, overridesFields); e != nil {
		return cur, e
	}
	stored := map[string]spec.EnvVar{}
	for _, v := range cur.Env {
		stored[v.Key] = v
	}
	for i, v := range out.Env {
		old, ok := stored[v.Key]
		// A variable marked secret stays secret when its value changes.
		out.Env[i].Secret = v.Secret || (ok && old.Secret)
		if v.Value != spec.RedactedValue {
			continue
		}
		if !ok {
			return cur, &apiError{Status: http.StatusBadRequest, Code: codeInvalidBody,
				Message: fmt.Sprintf("env %s has the placeholder value %q but no stored value to keep. Send its value.", v.Key, spec.RedactedValue)}
		}
		out.Env[i] = old
	}
	return out, nil
}

// listRevisions lists a stack's revisions, newest first.
func (s *server) listRevisions(w http.ResponseWriter, r *http.Request) {
	ed, ok := s.editor(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	revs, err := ed.Revisions(r.Context(), name)
	if err != nil {
		s.editError(w, r, name, "", err)
		return
	}
	out := revisionList{Stack: name, Revisions: make([]revisionEntry, 0, len(revs))}
	for _, rv := range revs {
		var d plan.Plan
		if err := json.Unmarshal(rv.Diff, &d); err != nil {
			s.internalError(w, r, "read the stack's revisions", err)
			return
		}
		out.Revisions = append(out.Revisions, revisionEntry{Number: rv.Number, Author: rv.Author, Kind: rv.Kind,
			CreatedAt: rv.CreatedAt.UTC(), RevertedTo: rv.RevertedTo, Diff: &d})
	}
	if len(revs) > 0 {
		w.Header().Set("ETag", etag(revs[0].Number))
	}
	writeJSON(w, http.StatusOK, out)
}

// revertStack restores a revision as the stack's desired state (a new
// revision), or previews that with ?dry_run=true. If-Match is optional.
func (s *server) revertStack(w http.ResponseWriter, r *http.Request) {
	ed, ok := s.editor(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	number, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || number < 1 {
		writeError(w, http.StatusBadRequest, codeInvalidParameter,
			fmt.Sprintf("%q is not a revision number. List the stack's revisions with GET /api/v1/stacks/%s/revisions.", r.PathValue("number"), name))
		return
	}
	dry, e := dryRun(r)
	var rev *int
	if e == nil {
		rev, _, e = ifMatch(r)
	}
	if e == nil {
		e = readBody(w, r, s.opts.MaxBodyBytes, &cancelRequest{}, "an empty body or {}")
	}
	if e != nil {
		e.write(w)
		return
	}
	res, err := ed.RevertStack(s.authored(r), name, number, state.EditOptions{IfRevision: rev, DryRun: dry})
	if err != nil {
		s.editError(w, r, name, "", err)
		return
	}
	if res.Preview == nil {
		res.Preview = emptyPreview(name, 0)
	}
	w.Header().Set("ETag", etag(res.Revision))
	writeJSON(w, http.StatusOK, editResponse{Stack: name, DryRun: dry, Changed: res.Changed, Revision: res.Revision, Preview: res.Preview})
}

// stackRevision sets the ETag of a stack (its revision) and returns the
// revision; nil when the API has no edit store.
func (s *server) stackRevision(w http.ResponseWriter, r *http.Request, name string) (*int, bool) {
	if s.deps.Edits == nil {
		return nil, true
	}
	n, err := s.deps.Edits.StackRevision(r.Context(), name)
	if err != nil {
		s.editError(w, r, name, "", err)
		return nil, false
	}
	w.Header().Set("ETag", etag(n))
	return &n, true
}

// checkEngine refuses a stack that names an engine the controller does not
// have (engines nil: any name is accepted).
func checkEngine(st spec.Stack, engines []string) *apiError {
	if engines == nil {
		return nil
	}
	if err := spec.CheckEngine(st.Name, st.Engine, engines); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: codeInvalidStack,
			Message: "The stack file is not valid: " + err.Error() + ". Nothing was written."}
	}
	return nil
}

// engineOf is the engine stack st runs on, as the API shows it.
func (s *server) engineOf(st spec.Stack) string {
	switch {
	case st.Engine != "":
		return st.Engine
	case s.opts.DefaultEngine != "":
		return s.opts.DefaultEngine
	}
	return "default"
}
