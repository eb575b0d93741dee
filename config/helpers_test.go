package config

import (
	"errors"
	"strings"
	"testing"
)

// problemsOf returns the problems err lists; err must be a *ValidationError.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v; want *ValidationError", err)
	}
	return verr.Problems
}

// wantProblems asserts that err is a *ValidationError listing exactly want,
// in order.
func wantProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if got := strings.Join(problemsOf(t, err), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
