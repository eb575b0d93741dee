package security_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// The template and stack file of the canary test. CANARY is the secret; it
// is resolved through ${SECRET:DB_PASSWORD} and also sits inside a
// non-secret DSN, in a command line and in a config file. TMPLSECRET is a
// secret-named variable of the template.
const (
	canaryTemplate = `services:
  secapp:
    image: ` + testenv.TestImage + `
    environment:
      MODE: template
      TEMPLATE_SECRET_KEY: TMPLSECRET
    env_file: [.env]
    secrets: [file_secret]
secrets:
  file_secret:
    file: ./file_secret.txt
`
	canaryStack = `version: 1
stack:
  name: NAME
  description: Security canary stack.
instances:
  app:
    template: secapp
    command: ["--password", "CANARY"]
    environment:
      DB_PASSWORD: ${SECRET:DB_PASSWORD}
      CONN_REF: ${SECRET:DB_PASSWORD}
      DATABASE_URL: postgres://app:CANARY@db:5432/app?sslmode=disable
      MODE: canary
    config_files:
      app.conf:
        content: "password=CANARY\n"
    config_mounts:
      - target_path: /etc/app.conf
        config_file_path: app.conf
`
	// canaryBroken is added to make the second apply fail in the compose
	// phase: the engine cannot start a container whose entrypoint does not
	// exist, and its error message quotes the entrypoint, which is the
	// secret's value.
	canaryBroken = `  broken:
    template: secapp
    entrypoint: ["/CANARY"]
`
)

// rejectedStackFiles are stack files holding the secret that the import
// refuses; their errors must not show it.
var rejectedStackFiles = map[string]string{
	"wrong types": `version: 1
stack: {name: NAME}
instances:
  app:
    template: secapp
    enabled: CANARY
    environment:
      DB_PASSWORD: ${SECRET:DB_PASSWORD}
      API_TOKEN: {nested: CANARY}
      OTHER: [CANARY]
    ports: [{container_port: CANARY}]
    command: {CANARY: 1}
`,
	"missing template": `version: 1
stack: {name: NAME}
instances:
  app:
    template: no-such-template
    environment: {DB_PASSWORD: "${SECRET:DB_PASSWORD}", DSN: "postgres://u:CANARY@h/d"}
`,
	"invalid stack": `version: 1
stack: {name: NAME}
instances:
  a:
    template: secapp
    environment: {DB_PASSWORD: "${SECRET:DB_PASSWORD}"}
    ports: [{host_ip: 127.0.0.1, host_port: 18099, container_port: 80}]
  b:
    template: secapp
    environment: {DSN: "postgres://u:CANARY@h/d"}
    ports: [{host_ip: 127.0.0.1, host_port: 18099, container_port: 80}]
    volumes: [{source: "CANARY", target: relative}]
`,
	"YAML syntax error": `version: 1
stack: {name: NAME}
instances:
  app:
    template: secapp
    environment:
      DB_PASSWORD: "CANARY
`,
	"unknown field": `version: 1
stack: {name: NAME}
instances:
  app:
    template: secapp
    environment: {DB_PASSWORD: "${SECRET:DB_PASSWORD}"}
    password: CANARY
`,
}

// TestCanaryNeverLeaves follows one canary secret through a real
// controller: the serve command (API, metrics, reconcile loop) in this
// process with its debug log captured, real PostgreSQL and Docker. It
// imports a template and a stack holding the canary through the CLI, plans
// and applies through the API (following the event stream), makes a second
// apply fail in compose with an error that quotes the canary, and runs the
// CLI's read commands and failing imports. Then every log line, API
// response, event stream, metric, approval row, approval event, status
// row, NOTIFY payload and CLI output is searched for the canary and the
// API token: they must appear nowhere, nor may the password's previous
// value once it was rotated. The canary must reach the container, so the
// test cannot pass by losing the secret on the way.
func TestCanaryNeverLeaves(t *testing.T) {
	docker := testenv.Docker(t)
	dbURL := testenv.DatabaseURL(t)
	canary := "canary-" + randomHex(8)
	rotated := "canary-" + randomHex(8) // the password after a rotation
	templateSecret := "tmplsecret-" + randomHex(8)
	fileSecret := "filesecret-" + randomHex(8)       // a compose secret's file
	envFileSecret := "envfilesecret-" + randomHex(8) // a secret-named variable of an env file
	apiToken := "apitoken-" + randomHex(8)
	stackName := testenv.UniqueName("sec")
	work := t.TempDir()
	stateDir := filepath.Join(t.TempDir(), "state")
	ev := &evidence{}
	composeLog := captureLogrus(t)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	if err := state.Migrate(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	testenv.UniqueIDs(t, dbURL)
	store, err := state.Open(ctx, dbURL, "security-canary-test")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	notifications := collectNotifications(t, listenCtx, store)

	env := cliEnv{
		"HOME": work, "DEVARCH_DATABASE_URL": dbURL, "DEVARCH_STATE_DIR": stateDir,
		"DEVARCH_HTTP_ADDR": "127.0.0.1:0", "DEVARCH_API_TOKEN": apiToken, "DEVARCH_LOG_LEVEL": "debug",
		"DEVARCH_LOG_FORMAT": "json", "DEVARCH_RESYNC_INTERVAL": "2s",
		"DB_PASSWORD": canary, // ${SECRET:DB_PASSWORD} resolves from the environment
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env["DOCKER_HOST"] = h
	}
	subst := func(s string) string {
		return strings.NewReplacer("CANARY", canary, "NAME", stackName, "TMPLSECRET", templateSecret).Replace(s)
	}

	// The catalog and the stack, imported through the CLI as a user does.
	tmplDir := filepath.Join(work, "templates", "security", "secapp")
	testenv.MkdirAll(t, tmplDir)
	writeFile(t, filepath.Join(tmplDir, "compose.yml"), subst(canaryTemplate))
	writeFile(t, filepath.Join(tmplDir, ".env"), "ENV_FILE_TOKEN="+envFileSecret+"\n")
	writeFile(t, filepath.Join(tmplDir, "file_secret.txt"), fileSecret+"\n")
	if code, out := runCLI(t, ev, env, "catalog", "import", filepath.Join(work, "templates")); code != 0 {
		t.Fatalf("catalog import: %d\n%s", code, out)
	}
	stackFile := filepath.Join(work, "stack.yml")
	writeFile(t, stackFile, subst(canaryStack))
	if code, out := runCLI(t, ev, env, "stack", "import", stackFile); code != 0 {
		t.Fatalf("stack import: %d\n%s", code, out)
	}
	stack, err := store.Stack(ctx, stackName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.RemoveLabeled(t, docker, spec.LabelStackID+"="+strconv.FormatInt(stack.ID, 10)) })

	srv := startServe(t, env)
	c := newAPIClient(t, ev, srv.base, apiToken)

	// A good apply through the API.
	c.do(http.MethodGet, "/api/v1/stacks", "")
	c.do(http.MethodGet, "/api/v1/stacks/"+stackName, "")
	if a := c.apply(stackName, c.planToken(stackName)); a.Status != approval.Succeeded {
		t.Fatalf("apply: %s: %s", a.Status, a.Message)
	}
	assertCanaryInContainer(t, docker, spec.ContainerName(stackName, "app"), canary, templateSecret)
	assertFilesInContainer(t, docker, spec.ContainerName(stackName, "app"), envFileSecret, fileSecret)
	if code, _ := c.do(http.MethodPost, "/api/v1/stacks/"+stackName+"/apply", `{"token":"not-the-token"}`); code != http.StatusConflict {
		t.Errorf("apply with a stale token: %d, want 409", code)
	}

	// A failing apply: compose's error quotes the canary.
	writeFile(t, stackFile, subst(canaryStack+canaryBroken))
	if code, out := runCLI(t, ev, env, "stack", "import", stackFile); code != 0 {
		t.Fatalf("stack import with the broken instance: %d\n%s", code, out)
	}
	failed := c.apply(stackName, c.planToken(stackName))
	if failed.Status != approval.Failed || !strings.Contains(failed.Message, "compose phase") {
		t.Fatalf("the broken apply ended %s: %s", failed.Status, failed.Message)
	}
	if !strings.Contains(string(failed.Result), spec.RedactedValue) {
		t.Errorf("compose's error output does not show the scrubbed entrypoint, so the scrub was not exercised: %s", failed.Result)
	}
	waitStatus(t, store, stack.ID)

	// Rotate the password. The plan now compares the containers' recorded
	// specs, which embed the old password in the DSN and the command, with
	// the new ones: the old password is no longer one of the stack's
	// secrets, yet it must not show.
	writeFile(t, stackFile, strings.NewReplacer("CANARY", rotated, "NAME", stackName).Replace(canaryStack+canaryBroken))
	env = env.with("DB_PASSWORD", rotated)
	if code, out := runCLI(t, ev, env, "stack", "import", stackFile); code != 0 {
		t.Fatalf("stack import of the rotated password: %d\n%s", code, out)
	}

	// Every read path of the API, after both applies.
	for _, p := range []string{"/api/v1/stacks", "/api/v1/stacks/" + stackName, "/api/v1/stacks/" + stackName + "/plan",
		"/api/v1/stacks/" + stackName + "/revisions",
		"/api/v1/approvals", "/api/v1/approvals?stack=" + stackName, "/metrics", "/readyz", "/healthz",
		"/api/v1/stacks/" + stackName + "/export", "/api/v1/stacks/" + stackName + "/export?format=compose"} {
		c.do(http.MethodGet, p, "")
	}
	c.do(http.MethodGet, "/api/v1/approvals/"+strconv.FormatInt(failed.ID, 10), "")

	// The CLI's outputs.
	for _, args := range [][]string{
		{"plan", stackName}, {"plan", stackName, "-o", "json"}, {"stack", "show", stackName}, {"stack", "show", stackName, "-o", "json"},
		{"stack", "list"}, {"catalog", "list"}, {"approvals"}, {"approvals", stackName, "-o", "json"},
		{"config", "print"}, {"config", "print", "-o", "json"},
		{"stack", "export", stackName},
		{"stack", "history", stackName}, {"stack", "history", stackName, "-o", "json"},
	} {
		runCLI(t, ev, env, args...)
	}
	// The compose export replaces the secret values it holds by references.
	if code, out := runCLI(t, ev, env, "stack", "export", stackName, "--format", "compose"); code != 0 || !strings.Contains(out, "${") {
		t.Errorf("stack export --format compose: code %d, no ${...} reference:\n%s", code, out)
	}
	if code, _ := runCLI(t, ev, env, "apply", stackName, "--auto-approve", "--timeout", "3m"); code == 0 {
		t.Error("the CLI apply of the broken stack succeeded")
	}
	runCLI(t, ev, env.with("DEVARCH_DATABASE_URL", "postgres://app:"+canary+"@127.0.0.1:1/x"), "config", "print")
	runCLI(t, ev, env.with("DEVARCH_DATABASE_URL", "postgres://app:"+canary+"@[::1"), "stack", "list")

	// Imports that fail, with the secret in the file, the environment or a
	// secrets file.
	for name, content := range rejectedStackFiles {
		f := filepath.Join(work, strings.ReplaceAll(name, " ", "-")+".yml")
		writeFile(t, f, subst(content))
		if code, out := runCLI(t, ev, env, "stack", "import", f); code == 0 {
			t.Errorf("stack import of the %s file succeeded:\n%s", name, out)
		}
	}
	secretsFile := filepath.Join(work, "secrets.env")
	writeFile(t, secretsFile, "MODE=x\nDB_PASSWORD=\""+canary+"\nOTHER="+canary+"\n")
	if code, _ := runCLI(t, ev, env.with("DEVARCH_SECRETS_FILE", secretsFile), "stack", "import", stackFile); code == 0 {
		t.Error("stack import with a malformed secrets file succeeded")
	}

	// Stop serve so that its log is complete, then collect the stores.
	srv.shutdown(t)
	stopListening()
	ev.add("serve log", srv.log.String())
	ev.add("compose library log (logrus)", composeLog.String())
	for _, table := range []string{"approvals", "approval_events", "stack_status", "stacks"} {
		rows := tableRows(t, store, table)
		if len(rows) == 0 {
			t.Errorf("table %s is empty; the scan would prove nothing", table)
		}
		ev.add("table "+table, strings.Join(rows, "\n"))
	}
	// Revisions show their diff; their document keeps the secrets as the
	// instances table does, and is never shown (see SECURITY.md).
	diffs := queryTexts(t, store, `SELECT diff::text FROM stack_revisions`)
	if len(diffs) < 2 {
		t.Errorf("only %d revisions; the scan would prove little", len(diffs))
	}
	ev.add("revision diffs", strings.Join(diffs, "\n"))
	payloads := notifications()
	if len(payloads) < 5 {
		t.Errorf("only %d NOTIFY payloads received", len(payloads))
	}
	ev.add("NOTIFY payloads", strings.Join(payloads, "\n"))

	assertEvidenceComplete(t, ev, srv.log.String())
	t.Logf("scanned %d outputs, %d bytes, %d NOTIFY payloads", len(ev.texts), ev.total(), len(payloads))
	ev.scan(t, canary, rotated, templateSecret, apiToken, fileSecret, envFileSecret)
}

// assertCanaryInContainer checks that the secret did reach the container:
// a scan that finds nothing because the secret got lost proves nothing.
func assertCanaryInContainer(t *testing.T, docker *client.Client, name, canary, templateSecret string) {
	t.Helper()
	res, err := docker.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	env := res.Container.Config.Env
	for _, want := range []string{"DB_PASSWORD=" + canary, "CONN_REF=" + canary, "TEMPLATE_SECRET_KEY=" + templateSecret,
		"DATABASE_URL=postgres://app:" + canary + "@db:5432/app?sslmode=disable"} {
		if !slices.Contains(env, want) {
			t.Errorf("container %s lacks %q in its env %q", name, want, env)
		}
	}
	if !slices.Contains(res.Container.Config.Cmd, canary) {
		t.Errorf("container %s command %q lacks the canary", name, res.Container.Config.Cmd)
	}
}

// waitStatus waits until the loop has written a status for the stack
// after the failed apply.
func waitStatus(t *testing.T, store *state.Store, stackID int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		sts, err := store.StackStatuses(t.Context())
		if err == nil && sts[stackID].Condition != "" && sts[stackID].Condition != "Applying" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no status for stack %d after the apply", stackID)
}

// assertEvidenceComplete makes sure the scan looks at real output: debug
// logs of every component, both approvals, the failure's message.
func assertEvidenceComplete(t *testing.T, ev *evidence, serveLog string) {
	t.Helper()
	for _, want := range []string{`"component":"api"`, `"component":"reconcile"`, `"component":"deploy"`, `"level":"debug"`,
		`"msg":"approval filed"`, `"msg":"apply failed"`} {
		if !strings.Contains(serveLog, want) {
			t.Errorf("the serve log lacks %s; the scan would miss what it logs", want)
		}
	}
	if ev.total() < 50_000 {
		t.Errorf("only %d bytes of output collected", ev.total())
	}
	var lines int
	for _, l := range strings.Split(serveLog, "\n") {
		if json.Valid([]byte(l)) {
			lines++
		}
	}
	if lines < 20 {
		t.Errorf("only %d JSON log lines from serve", lines)
	}
}
