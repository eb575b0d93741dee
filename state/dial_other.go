//go:build !linux

package state

import "syscall"

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist; TCP
// keepalive still finds a silent idle peer.
func setUserTimeout(string, string, syscall.RawConn) error { return nil }
