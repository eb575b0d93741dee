//go:build race

package e2e

// raceBuild is true when the tests run with -race: the serve binary is then
// built with -race too, and a data race in it fails the run (serve exits
// non-zero).
const raceBuild = true
