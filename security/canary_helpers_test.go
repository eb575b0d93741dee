package security_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/internal/cli"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/state"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// evidence collects every text the controller let out, by where it came
// from, for the final scan.
type evidence struct {
	mu    sync.Mutex
	texts []evidenceText
}

type evidenceText struct{ where, text string }

func (e *evidence) add(where, text string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.texts = append(e.texts, evidenceText{where, text})
}

// scan reports every text holding one of the needles.
func (e *evidence) scan(t *testing.T, needles ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.texts {
		for _, n := range needles {
			if i := strings.Index(ev.text, n); i >= 0 {
				lo, hi := max(0, i-300), min(len(ev.text), i+len(n)+300)
				t.Errorf("%s shows a secret:\n...%s...", ev.where, ev.text[lo:hi])
			}
		}
	}
}

// total is the number of bytes collected.
func (e *evidence) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.texts {
		n += len(ev.text)
	}
	return n
}

// cliEnv is the environment the CLI and serve see (they read it through
// WithLookupEnv, never from the process).
type cliEnv map[string]string

func (c cliEnv) with(kv ...string) cliEnv {
	out := cliEnv{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (c cliEnv) lookup(k string) (string, bool) { v, ok := c[k]; return v, ok }

// runCLI runs the command line as a user would, records its output and
// returns its exit code and stdout.
func runCLI(t *testing.T, ev *evidence, env cliEnv, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := cli.Execute(ctx, args, "security-test", cli.WithStreams(strings.NewReader(""), &out, &errOut), cli.WithLookupEnv(env.lookup))
	ev.add(fmt.Sprintf("`%s` stdout", strings.Join(args, " ")), out.String())
	ev.add(fmt.Sprintf("`%s` stderr", strings.Join(args, " ")), errOut.String())
	return code, out.String() + errOut.String()
}

// serveProcess is `devarch-controller serve` running in this process.
type serveProcess struct {
	log  *testenv.SyncBuffer
	base string // http://127.0.0.1:PORT
	done chan int
	stop context.CancelFunc
	once sync.Once
}

var servingAddr = regexp.MustCompile(`"msg":"serving","addr":"(http://127\.0\.0\.1:\d+)"`)

// startServe runs the real serve command (the API, dashboard, metrics and
// reconcile loop wired exactly as in production) with its debug log in a
// buffer, and stops it when the test ends.
func startServe(t *testing.T, env cliEnv) *serveProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sp := &serveProcess{log: &testenv.SyncBuffer{}, done: make(chan int, 1), stop: cancel}
	go func() {
		sp.done <- cli.Execute(ctx, []string{"serve", "--pull-policy", "never"}, "security-test",
			cli.WithStreams(strings.NewReader(""), sp.log, sp.log), cli.WithLookupEnv(env.lookup))
	}()
	t.Cleanup(func() { sp.shutdown(t) })
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m := servingAddr.FindStringSubmatch(sp.log.String()); m != nil {
			sp.base = m[1]
			return sp
		}
		select {
		case code := <-sp.done:
			t.Fatalf("serve exited with %d before serving:\n%s", code, sp.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start within a minute:\n%s", sp.log)
	return nil
}

// shutdown stops serve (idempotent) and checks that it exits cleanly.
func (sp *serveProcess) shutdown(t *testing.T) {
	t.Helper()
	sp.once.Do(func() {
		sp.stop()
		select {
		case code := <-sp.done:
			if code != 0 {
				t.Errorf("serve exited with %d:\n%s", code, sp.log)
			}
		case <-time.After(time.Minute):
			t.Errorf("serve did not stop within a minute")
		}
	})
}

// apiClient calls the served API with the bearer token, recording every
// response.
type apiClient struct {
	t     *testing.T
	ev    *evidence
	base  string
	token string
	http  *http.Client
}

func newAPIClient(t *testing.T, ev *evidence, base, token string) *apiClient {
	// No proxy: the API is on loopback and nothing may leave the machine.
	return &apiClient{t: t, ev: ev, base: base, token: token,
		http: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 3 * time.Minute}}
}

// do sends one request and returns the status and body.
func (c *apiClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	headers, _ := json.Marshal(resp.Header)
	c.ev.add(fmt.Sprintf("API %s %s (%d)", method, path, resp.StatusCode), string(headers)+"\n"+string(b))
	return resp.StatusCode, string(b)
}

// planToken generates the stack's plan through the API and returns its
// token.
func (c *apiClient) planToken(stack string) string {
	c.t.Helper()
	code, body := c.do(http.MethodGet, "/api/v1/stacks/"+stack+"/plan", "")
	var p struct {
		Token   string `json:"token"`
		Summary struct{ Add, Modify, Remove int }
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil || p.Token == "" {
		c.t.Fatalf("plan of %s: %d %s", stack, code, body)
	}
	return p.Token
}

// apply files an approval of the plan with token and follows its event
// stream to the end; it returns the final approval.
func (c *apiClient) apply(stack, token string) approval.Approval {
	c.t.Helper()
	code, body := c.do(http.MethodPost, "/api/v1/stacks/"+stack+"/apply", `{"token":"`+token+`"}`)
	var filed struct {
		Approval approval.Approval `json:"approval"`
		URL      string            `json:"url"`
	}
	if code != http.StatusAccepted || json.Unmarshal([]byte(body), &filed) != nil || filed.URL == "" {
		c.t.Fatalf("apply %s: %d %s", stack, code, body)
	}
	stream := c.followEvents(filed.URL + "/events")
	var final approval.Approval
	for _, line := range strings.Split(stream, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(data, `"status"`) && strings.Contains(data, `"requested_by"`) {
			if err := json.Unmarshal([]byte(data), &final); err != nil {
				c.t.Fatalf("status event %q: %v", data, err)
			}
		}
	}
	if !final.Status.Final() {
		c.t.Fatalf("the event stream of %s ended without a final status:\n%s", filed.URL, stream)
	}
	return final
}

// followEvents reads an SSE stream until the server ends it.
func (c *apiClient) followEvents(path string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 3*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	var all strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		all.WriteString(sc.Text() + "\n")
	}
	if err := sc.Err(); err != nil {
		c.t.Fatalf("read %s: %v\n%s", path, err, all.String())
	}
	c.ev.add("API event stream "+path, all.String())
	return all.String()
}

// captureLogrus sends the compose library's own log (logrus, at its
// default level, as in production) to a buffer for the scan.
func captureLogrus(t *testing.T) *testenv.SyncBuffer {
	t.Helper()
	buf := &testenv.SyncBuffer{}
	prev := logrus.StandardLogger().Out
	logrus.SetOutput(buf)
	t.Cleanup(func() { logrus.SetOutput(prev) })
	return buf
}

// collectNotifications listens on every NOTIFY channel until ctx ends and
// returns a function that yields the payloads received.
func collectNotifications(t *testing.T, ctx context.Context, st *state.Store) func() []string {
	t.Helper()
	ch, err := st.Listen(ctx, state.ChannelDesired, state.ChannelApprovals, state.ChannelApprovalEvents)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var payloads []string
	go func() {
		for n := range ch {
			mu.Lock()
			payloads = append(payloads, n.Channel+" "+n.Payload)
			mu.Unlock()
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), payloads...)
	}
}

// tableRows returns every row of a table as JSON.
func tableRows(t *testing.T, st *state.Store, table string) []string {
	t.Helper()
	rows, err := st.Pool().Query(t.Context(), `SELECT row_to_json(t)::text FROM `+table+` t`)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeFile writes a test input file.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
