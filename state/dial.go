package state

import (
	"net"
	"time"
)

// A database peer that goes silent — its host gone, a network partition,
// a packet filter dropping everything, with no FIN or RST — leaves an idle
// TCP connection open for hours by the kernel's defaults. A controller
// would then believe it holds a stack lock that PostgreSQL already
// released. Every connection of the pool therefore uses TCP keepalive
// (an idle peer that stops answering is found after keepAliveIdle plus
// keepAliveCount probes keepAliveInterval apart) and TCP_USER_TIMEOUT
// (data sent and not acknowledged for tcpUserTimeout closes the
// connection; on Linux it also bounds the wait for keepalive answers), so
// a silent peer is detected within about 13 s whether the connection is
// idle or busy.
const (
	keepAliveIdle     = 3 * time.Second
	keepAliveInterval = 2 * time.Second
	keepAliveCount    = 4
	tcpUserTimeout    = 10 * time.Second
	dialTimeout       = 10 * time.Second
)

// serverKeepaliveSQL asks PostgreSQL to watch the same way over its end of
// the session (these settings are ignored on Unix sockets): a client that
// vanished without closing its connection — its host gone, a network
// partition — then loses its session, and the stack locks it held, within
// about 13 s instead of the server's default of hours. The values are
// keepAliveIdle, keepAliveInterval, keepAliveCount and tcpUserTimeout
// (TestConnectionsDetectASilentPeer checks they agree).
const serverKeepaliveSQL = "SET tcp_keepalives_idle = 3; SET tcp_keepalives_interval = 2; " +
	"SET tcp_keepalives_count = 4; SET tcp_user_timeout = 10000"

// dialer returns the dialer of every pool connection.
func dialer() *net.Dialer {
	return &net.Dialer{
		Timeout: dialTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount,
		},
		Control: setUserTimeout,
	}
}
