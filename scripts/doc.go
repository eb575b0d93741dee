// Package scripts holds no Go code: it is the home of the development and
// test scripts (*.sh, see docs/development.md) and of the tests that check
// their decisions without changing the machine.
package scripts
