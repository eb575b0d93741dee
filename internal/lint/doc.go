// Package lint holds the module's own structural checks, run as tests:
// rules about the code's shape that go vet does not know, such as "no
// package-level mutable state" and "plans are computed only by the
// planner". It has no code of its own.
package lint
