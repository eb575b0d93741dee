package e2e

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// envChromium names the browser binary; by default the first of
// chromium, chromium-browser, google-chrome on PATH, or /usr/bin/chromium.
const envChromium = "DEVARCH_CHROMIUM"

// browserPath returns the Chromium binary to drive, or "" when none is found.
func browserPath() string {
	if p := os.Getenv(envChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile for the test
// and returns its context; each openDashboard call opens a tab in it. The
// browser is stopped, and its profile deleted, when the test ends. Without
// a browser the test is skipped, or fails when DEVARCH_TEST_REQUIRE=1.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := browserPath()
	if path == "" {
		testenv.Skipf(t, "no Chromium browser found: install Debian's chromium (apt-get install -y chromium; scripts/test.sh installs it) or set %s", envChromium)
	}
	profile := t.TempDir() // registered first, so removed after the browser stopped
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first Do starts the browser and opens its first tab; fail early
	// and clearly when it cannot start.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return browser
}
