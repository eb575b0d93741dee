package state

import (
	"net"
	"strconv"
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

// serverKeepalive asks PostgreSQL to watch the same way over its end of
// every TCP session (these settings are ignored on Unix sockets): a client
// that vanished without closing its connection — its host gone, a network
// partition — then loses its session, and the stack locks it held, within
// about 15 s instead of the server's default of hours.
func serverKeepalive() map[string]string {
	return map[string]string{
		"tcp_keepalives_idle":     strconv.Itoa(int(keepAliveIdle.Seconds())),
		"tcp_keepalives_interval": strconv.Itoa(int(keepAliveInterval.Seconds())),
		"tcp_keepalives_count":    strconv.Itoa(keepAliveCount),
		"tcp_user_timeout":        strconv.FormatInt(tcpUserTimeout.Milliseconds(), 10),
	}
}

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
