package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// The installation tests run the real serve command in this process (the
// reconcile loop, the API) against a fresh database and the test engine,
// and the CLI beside it, as a user does.

const (
	keyPassword = "devarch" // the catalog's default password: low entropy on purpose
	keyConfig   = "auth_password = \"devarch-sonic-password\"\n"
	keyTemplate = `services:
  keyapp:
    image: ` + testenv.TestImage + `
    init: true
    environment:
      MODE: template
`
	keyStack = `version: 1
stack:
  name: NAME
instances:
  app:
    template: keyapp
    environment:
      DB_PASSWORD: ${SECRET:DB_PASSWORD}
    config_files:
      app.conf:
        content: "auth_password = \"devarch-sonic-password\"\n"
    config_mounts:
      - target_path: /etc/app.conf
        config_file_path: app.conf
`
)

// syncBuffer is a bytes.Buffer safe for serve's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// installationWorld is one database with the key template and a stack
// named stack, imported through the CLI with env, and serve running.
type installationWorld struct {
	env   map[string]string
	stack string
	store *state.Store
	base  string // serve's http://127.0.0.1:PORT
	log   *syncBuffer
}

var servingAddr = regexp.MustCompile(`"msg":"serving","addr":"(http://127\.0\.0\.1:\d+)"`)

func newInstallationWorld(t *testing.T) *installationWorld {
	t.Helper()
	docker := testenv.Docker(t)
	dbURL := testenv.DatabaseURL(t)
	work := t.TempDir()
	w := &installationWorld{stack: testenv.UniqueName("key"), log: &syncBuffer{}, env: map[string]string{
		"DEVARCH_DATABASE_URL": dbURL, "DEVARCH_STATE_DIR": filepath.Join(work, "state-a"), "DEVARCH_HTTP_ADDR": "127.0.0.1:0",
		"DEVARCH_LOG_FORMAT": "json", "DEVARCH_RESYNC_INTERVAL": "2s", "DB_PASSWORD": keyPassword,
	}}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		w.env["DOCKER_HOST"] = h
	}
	ctx := t.Context()
	tmplDir := filepath.Join(work, "templates", "test", "keyapp")
	if err := os.MkdirAll(tmplDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(tmplDir, "compose.yml"), keyTemplate)
	stackFile := filepath.Join(work, "stack.yml")
	write(stackFile, strings.ReplaceAll(keyStack, "NAME", w.stack))
	if r := run(t, ctx, []string{"catalog", "import", filepath.Join(work, "templates")}, w.env); r.code != 0 {
		t.Fatalf("catalog import: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, ctx, []string{"stack", "import", stackFile}, w.env); r.code != 0 {
		t.Fatalf("stack import: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	store, err := state.Open(ctx, dbURL, "installation-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	w.store = store
	s, err := store.Stack(ctx, w.stack)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeStack(t, docker, s) })
	w.startServe(t)
	return w
}

// startServe runs `serve` with the world's environment until the test ends.
func (w *installationWorld) startServe(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	lookup := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	go func() {
		done <- Execute(ctx, []string{"serve", "--pull-policy", "never"}, "test",
			WithStreams(strings.NewReader(""), w.log, w.log), WithLookupEnv(lookup))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited with %d:\n%s", code, w.log)
			}
		case <-time.After(time.Minute):
			t.Error("serve did not stop within a minute")
		}
	})
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m := servingAddr.FindStringSubmatch(w.log.String()); m != nil {
			w.base = m[1]
			return
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before serving:\n%s", code, w.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start within a minute:\n%s", w.log)
}

// cli runs a command with the world's environment plus extra pairs.
func (w *installationWorld) cli(t *testing.T, extra map[string]string, args ...string) result {
	t.Helper()
	env := map[string]string{}
	for k, v := range w.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	return run(t, ctx, args, env)
}

// applyCLI applies the stack from the CLI (serve applies it) and fails the
// test unless it succeeds.
func (w *installationWorld) applyCLI(t *testing.T) {
	t.Helper()
	if r := w.cli(t, nil, "apply", w.stack, "--auto-approve", "--timeout", "3m"); r.code != 0 {
		t.Fatalf("apply: %d\n%s%s\nserve log:\n%s", r.code, r.stdout, r.stderr, w.log)
	}
}

// planJSON is the CLI's plan of the stack, with its exit code under
// --detailed-exitcode.
func (w *installationWorld) planJSON(t *testing.T, extra map[string]string) (plan.Plan, result) {
	t.Helper()
	r := w.cli(t, extra, "plan", w.stack, "-o", "json", "--detailed-exitcode")
	var p plan.Plan
	if r.code == 1 || json.Unmarshal([]byte(r.stdout), &p) != nil {
		t.Fatalf("plan: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return p, r
}

func removeStack(t *testing.T, docker *client.Client, s spec.Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	label := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(s.ID, 10))
	list, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label})
	if err != nil {
		t.Logf("clean up stack %s: %v", s.Name, err)
		return
	}
	for _, c := range list.Items {
		_, _ = docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	_, _ = docker.NetworkRemove(ctx, s.Network(), client.NetworkRemoveOptions{})
}

// TestPlanUsesTheDaemonsHostPaths: after serve (state dir A) applied a
// stack with a config file, a plan from a CLI configured with state dir B
// is empty: the host paths recorded by serve are the truth, and the CLI
// says it does not use its own.
func TestPlanUsesTheDaemonsHostPaths(t *testing.T) {
	w := newInstallationWorld(t)
	w.applyCLI(t)
	stateA := w.env["DEVARCH_STATE_DIR"]
	stateB := filepath.Join(t.TempDir(), "state-b")

	p, r := w.planJSON(t, map[string]string{"DEVARCH_STATE_DIR": stateB})
	if r.code != 0 || !p.Empty() {
		t.Fatalf("plan with another state dir: exit %d, want 0 (empty):\n%s%s", r.code, r.stdout, r.stderr)
	}
	if want := "Note: planning with the controller's state_dir " + stateA; !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one line %q...", r.stderr, want)
	}
	if _, r := w.planJSON(t, nil); r.code != 0 || r.stderr != "" {
		t.Errorf("plan with the daemon's own state dir: exit %d, stderr %q", r.code, r.stderr)
	}
	// The token the CLI with state dir B shows is the daemon's: an
	// approval filed with it applies.
	if r := w.cli(t, map[string]string{"DEVARCH_STATE_DIR": stateB}, "apply", w.stack, "--auto-approve"); r.code != 0 ||
		!strings.Contains(r.stdout, "No changes.") {
		t.Errorf("apply with another state dir: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A serve started with state dir B records it (its paths win) and says
	// so; from then on B is the truth and the container built under A is
	// planned for recreation, whatever the CLI's own state dir.
	second := &installationWorld{env: map[string]string{}, stack: w.stack, store: w.store, log: &syncBuffer{}}
	for k, v := range w.env {
		second.env[k] = v
	}
	second.env["DEVARCH_STATE_DIR"] = stateB
	second.startServe(t)
	if !strings.Contains(second.log.String(), `"msg":"installation host paths changed`) ||
		!strings.Contains(second.log.String(), `"previous_state_dir":"`+stateA+`"`) {
		t.Errorf("the second serve does not log the change of host paths:\n%s", second.log)
	}
	p, r = w.planJSON(t, nil)
	if r.code != ExitChanges || len(p.Changes) != 1 || p.Changes[0].Fields[0].Path != "host_paths" ||
		!strings.Contains(r.stderr, "Note: planning with the controller's state_dir "+stateB) {
		t.Errorf("plan after serve recorded state dir B: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestKeyRotation: the digests in labels are keyed (no unkeyed SHA-256 of
// a secret anywhere); rotating the key makes the old token stale for the
// API (409) and for an approval (stale), never accepted; the plan after the
// rotation says the containers are re-keyed, not that a secret changed;
// applying it converges with digests of the new key.
func TestKeyRotation(t *testing.T) {
	w := newInstallationWorld(t)
	w.applyCLI(t)
	ctx := t.Context()
	before, err := w.store.Installation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.store.Stack(ctx, w.stack)
	if err != nil {
		t.Fatal(err)
	}
	inst := s.Instances[0]
	forbidden := unkeyedDigests(inst.ID, "DB_PASSWORD", keyPassword, keyConfig)
	label := w.specLabel(t, forbidden)
	if label.KeyID != before.Keys.Current.ID ||
		label.Env["DB_PASSWORD"] != project.SecretDigest(before.Keys.Current, inst.ID, "DB_PASSWORD", keyPassword) {
		t.Fatalf("devarch.spec: key %d, DB_PASSWORD %q; want the digest of key %d", label.KeyID, label.Env["DB_PASSWORD"], before.Keys.Current.ID)
	}
	old, _ := w.planJSON(t, nil)

	r := w.cli(t, nil, "key", "rotate")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("key %d retired", before.Keys.Current.ID)) {
		t.Fatalf("key rotate: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	after, err := w.store.Installation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r = w.cli(t, nil, "key", "show")
	for _, secret := range [][]byte{before.Keys.Current.Secret, after.Keys.Current.Secret} {
		if strings.Contains(r.stdout+r.stderr, hex.EncodeToString(secret)) || strings.Contains(r.stdout+r.stderr, string(secret)) {
			t.Errorf("key show prints a key:\n%s", r.stdout)
		}
	}
	current := regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s+current\s`, after.Keys.Current.ID))
	retired := regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s+retired\s`, before.Keys.Current.ID))
	if r.code != 0 || !current.MatchString(r.stdout) || !retired.MatchString(r.stdout) {
		t.Errorf("key show: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The old token: the API refuses it, an approval filed with it ends stale.
	code, body := w.post(t, "/api/v1/stacks/"+w.stack+"/apply", `{"token":"`+old.Token+`"}`)
	if code != http.StatusConflict || !strings.Contains(body, "plan_stale") {
		t.Errorf("API apply with the old token: %d %s, want 409 plan_stale", code, body)
	}
	a, err := w.store.CreateApproval(ctx, s.ID, old.Token, []byte(`{"changes":[]}`), "installation-test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if final := waitFinal(t, w.store, a.ID); final.Status != approval.Stale {
		t.Errorf("approval with the old token ended %s: %s", final.Status, final.Message)
	}

	// The plan names the re-keying as the reason.
	p, r := w.planJSON(t, nil)
	if r.code != ExitChanges || p.Token == old.Token || len(p.Changes) != 1 || !p.Changes[0].Recreate {
		t.Fatalf("plan after the rotation: exit %d\n%s", r.code, r.stdout)
	}
	wantReason := fmt.Sprintf("retired installation key %d", before.Keys.Current.ID)
	if !strings.Contains(p.Changes[0].Reason, wantReason) {
		t.Errorf("change reason %q does not name the re-keying", p.Changes[0].Reason)
	}
	for _, f := range p.Changes[0].Fields {
		if !strings.Contains(f.Reason, "unchanged; re-keyed") || !strings.Contains(f.Reason, wantReason) {
			t.Errorf("field %s: reason %q, want it re-keyed with %s", f.Path, f.Reason, wantReason)
		}
	}
	if text := w.cli(t, nil, "plan", w.stack); strings.Contains(text.stdout, "secret value changed") {
		t.Errorf("the rotation shows as a changed secret:\n%s", text.stdout)
	}

	// Applying it writes digests of the new key and converges.
	w.applyCLI(t)
	if _, r := w.planJSON(t, nil); r.code != 0 {
		t.Errorf("plan after applying the re-keying: exit %d\n%s", r.code, r.stdout)
	}
	if label := w.specLabel(t, forbidden); label.KeyID != after.Keys.Current.ID {
		t.Errorf("devarch.spec key %d after the apply, want %d", label.KeyID, after.Keys.Current.ID)
	}
	// Tokens in status and approval rows are keyed too.
	for _, table := range []string{"stack_status", "approvals"} {
		rows := tableText(t, w.store, table)
		for _, f := range forbidden {
			if strings.Contains(rows, f) {
				t.Errorf("table %s holds the unkeyed digest %s", table, f)
			}
		}
	}
}

// unkeyedDigests are the unkeyed SHA-256 digests a reader of labels could
// test guesses against: of each secret alone, and salted as records used
// to salt them ("%d\x00%s\x00"+value), bare and with "sha256:".
func unkeyedDigests(instanceID int64, name string, secrets ...string) []string {
	var out []string
	for _, v := range secrets {
		for _, in := range []string{v, fmt.Sprintf("%d\x00%s\x00", instanceID, name) + v} {
			sum := sha256.Sum256([]byte(in))
			h := hex.EncodeToString(sum[:])
			out = append(out, h, "sha256:"+h)
		}
	}
	return out
}

// specLabel inspects the stack's container: no label may hold a forbidden
// digest; it returns the decoded devarch.spec record.
func (w *installationWorld) specLabel(t *testing.T, forbidden []string) project.Record {
	t.Helper()
	docker := testenv.Docker(t)
	res, err := docker.ContainerInspect(t.Context(), spec.ContainerName(w.stack, "app"), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	labels := res.Container.Config.Labels
	for k, v := range labels {
		for _, f := range forbidden {
			if strings.Contains(v, f) {
				t.Errorf("label %s holds the unkeyed digest %s:\n%s", k, f, v)
			}
		}
	}
	r, ok := project.DecodeRecord(labels[spec.LabelSpec])
	if !ok {
		t.Fatalf("container has no devarch.spec record: %v", labels)
	}
	if cf := r.ConfigFiles["app.conf"]; !project.IsDigest(cf.Digest) || !strings.HasPrefix(labels[spec.LabelConfigDigest], "hmac-sha256:") {
		t.Errorf("config digests are not keyed: %q, %q", cf.Digest, labels[spec.LabelConfigDigest])
	}
	return r
}

func (w *installationWorld) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFinal(t *testing.T, st *state.Store, id int64) approval.Approval {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		a, err := st.Approval(t.Context(), id)
		if err == nil && a.Status.Final() {
			return a
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("approval %d did not finish within a minute", id)
	return approval.Approval{}
}

func tableText(t *testing.T, st *state.Store, table string) string {
	t.Helper()
	rows, err := st.Pool().Query(t.Context(), `SELECT coalesce(string_agg(row_to_json(x)::text, E'\n'), '') FROM `+table+` x`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out string
	for rows.Next() {
		if err := rows.Scan(&out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
