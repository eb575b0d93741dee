package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// TestPrometheusSeesDrift runs a real Prometheus (Debian's prometheus
// package) scraping a real serve every second, and checks that
// devarch_stack_drifted for a stack goes from 0 to 1 after `docker stop`
// of one of its containers.
func TestPrometheusSeesDrift(t *testing.T) {
	t.Parallel() // own database, serve, Prometheus and stack
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.Skipf(t, "prometheus not found (Debian: apt-get install -y prometheus; scripts/test.sh installs it): %v", err)
	}
	if !realBackendConfigured() {
		testenv.Skip(t, "PostgreSQL and Docker not configured; run the tests through scripts/test.sh")
	}
	b := startRealBackend(t)
	name := b.newStackName("prom")
	b.importStack(t, newStackFile(name, map[string]instanceFile{"web": demoCache()}))
	b.deploy(t, name)

	promURL := startPrometheus(t, prom, strings.TrimSuffix(strings.TrimPrefix(b.base, "http://"), "/"))
	query := fmt.Sprintf(`devarch_stack_drifted{stack=%q}`, name)
	waitPromValue(t, promURL, query, "0", 60*time.Second)

	stopped := time.Now()
	if _, err := b.docker.ContainerStop(context.Background(), spec.ContainerName(name, "web"), client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPromValue(t, promURL, query, "1", 30*time.Second)
	t.Logf("Prometheus saw %s = 1 %s after docker stop", query, time.Since(stopped).Round(10*time.Millisecond))
}

// startPrometheus runs prometheus scraping target every second and
// returns its base URL; it is stopped when the test ends.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: devarch-controller\n    static_configs:\n      - targets: [%q]\n", target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var logBuf strings.Builder
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logBuf.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("prometheus did not become ready:\n%s", logBuf.String())
	return ""
}

// waitPromValue polls an instant query until its single sample has the
// wanted value.
func waitPromValue(t *testing.T, base, query, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := "no result"
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var r struct {
				Data struct {
					Result []struct {
						Value []any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if len(r.Data.Result) == 1 && len(r.Data.Result[0].Value) == 2 {
				last = fmt.Sprint(r.Data.Result[0].Value[1])
				if last == want {
					return
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s did not become %s within %v (last: %s)", query, want, timeout, last)
}
