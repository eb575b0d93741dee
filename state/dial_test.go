package state_test

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/state"
)

// TestConnectionsDetectASilentPeer: every pool connection, the stack
// locks' ones included, has TCP keepalive and TCP_USER_TIMEOUT set on the
// controller's side and asks PostgreSQL for keepalive and a user timeout
// on its side, so that a peer gone silent is found within about 15 s.
func TestConnectionsDetectASilentPeer(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx := context.Background()
	s, err := state.Open(ctx, url, "dial-test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tcp, ok := conn.Conn().PgConn().Conn().(*net.TCPConn)
	if !ok {
		t.Fatalf("connection is a %T, want a TCP connection (the test database URL names a TCP host)", conn.Conn().PgConn().Conn())
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	opts := map[string]int{}
	err = raw.Control(func(fd uintptr) {
		for name, opt := range map[string][2]int{
			"SO_KEEPALIVE":     {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
			"TCP_KEEPIDLE":     {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
			"TCP_KEEPINTVL":    {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
			"TCP_KEEPCNT":      {unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
			"TCP_USER_TIMEOUT": {unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT},
		} {
			v, err := unix.GetsockoptInt(int(fd), opt[0], opt[1])
			if err != nil {
				t.Errorf("getsockopt %s: %v", name, err)
			}
			opts[name] = v
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	idle, count, intvl := opts["TCP_KEEPIDLE"], opts["TCP_KEEPCNT"], opts["TCP_KEEPINTVL"]
	if opts["SO_KEEPALIVE"] == 0 || idle+count*intvl > 15 || opts["TCP_USER_TIMEOUT"] == 0 || opts["TCP_USER_TIMEOUT"] > 15000 {
		t.Errorf("socket options %v: want keepalive on, idle+count×interval ≤ 15 s, 0 < TCP_USER_TIMEOUT ≤ 15000 ms", opts)
	}
	var serverIdle, serverIntvl, serverCount, serverUser int
	err = conn.QueryRow(ctx, `SELECT current_setting('tcp_keepalives_idle')::int, current_setting('tcp_keepalives_interval')::int,
		current_setting('tcp_keepalives_count')::int, current_setting('tcp_user_timeout')::int`).Scan(&serverIdle, &serverIntvl, &serverCount, &serverUser)
	if err != nil {
		t.Fatal(err)
	}
	if serverIdle+serverCount*serverIntvl > 15 || serverIdle == 0 || serverUser == 0 || serverUser > 15000 {
		t.Errorf("server side: keepalives idle %d interval %d count %d, user timeout %d ms; want detection within 15 s",
			serverIdle, serverIntvl, serverCount, serverUser)
	}
	if serverIdle != idle || serverIntvl != intvl || serverCount != count || serverUser != opts["TCP_USER_TIMEOUT"] {
		t.Errorf("server side (idle %d interval %d count %d user timeout %d) differs from the client's socket %v",
			serverIdle, serverIntvl, serverCount, serverUser, opts)
	}
}
