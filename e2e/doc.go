// Package e2e holds the end-to-end tests of the web dashboard: they drive a
// headless Chromium (chromedp) through the dashboard and assert on the DOM.
//
// The browser-driving steps (steps_test.go, pagesteps_test.go) take only a
// base URL, so they run against two backends: an in-process fake of the
// JSON API (fakeapi_test.go, a small state machine built from the real
// plan, state and view types), and a real `devarch-controller serve` child
// process with PostgreSQL and Docker (real_*_test.go, TestRealBackend: one
// serve, one stack per scenario).
//
// Tests skip when no Chromium is found (and the real backend without
// PostgreSQL or Docker, see internal/testenv) and fail instead when
// DEVARCH_TEST_REQUIRE=1. DEVARCH_CHROMIUM names the browser binary;
// DEVARCH_UPDATE_SCREENSHOTS=1 rewrites docs/screenshots/*.png.
//
// This package has no production code and must not be imported.
package e2e
