//go:build !race

package e2e

// raceBuild is false without -race: the serve binary is built without it.
const raceBuild = false
