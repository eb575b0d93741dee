package keyring_test

import (
	"bytes"
	"testing"

	"github.com/devarch/devarch-controller/keyring"
)

// TestAppendMAC: AppendMAC appends the key's MAC to what dst holds, for
// any purpose and parts (a part as long as the purpose, or empty,
// included), and allocates nothing once the Digester has made a MAC.
func TestAppendMAC(t *testing.T) {
	k := keyring.Key{ID: 4, Secret: []byte("devarch-controller-test-key-0004")}
	d := k.Digester()
	for i, parts := range [][][]byte{nil, {nil}, {[]byte("7"), []byte("env.DB_URL"), []byte("postgres://app:secret@db")}, {[]byte("purpose")}, {bytes.Repeat([]byte{0xAB}, 200)}} {
		for _, purpose := range []string{"", "purpose", "devarch.spec secret env"} {
			got := d.AppendMAC([]byte("head"), purpose, parts...)
			if want := append([]byte("head"), k.MAC(purpose, parts...)...); !bytes.Equal(got, want) {
				t.Fatalf("parts %d, purpose %q: AppendMAC %x, want %x", i, purpose, got, want)
			}
		}
	}
	dst := make([]byte, 0, 64)
	part := []byte("value")
	if n := testing.AllocsPerRun(100, func() { dst = d.AppendMAC(dst[:0], "devarch.spec config content", part, part) }); n != 0 {
		t.Errorf("AppendMAC allocates %v times per MAC", n)
	}
}
