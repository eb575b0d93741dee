package keyring_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/keyring"
)

func testKey(id int64, fill byte) keyring.Key {
	return keyring.Key{ID: id, Secret: bytes.Repeat([]byte{fill}, keyring.SecretSize), CreatedAt: time.Unix(1_700_000_000, 0).UTC()}
}

func TestGenerateIsRandomAndFullSize(t *testing.T) {
	a, err := keyring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := keyring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != keyring.SecretSize || len(b) != keyring.SecretSize {
		t.Fatalf("secret sizes %d and %d, want %d", len(a), len(b), keyring.SecretSize)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two generated secrets are equal")
	}
}

func TestDigestDependsOnKeyPurposeAndPartBoundaries(t *testing.T) {
	k1, k2 := testKey(1, 1), testKey(2, 2)
	base := k1.Digest("env", []byte("DB_PASSWORD"), []byte("devarch"))
	if !strings.HasPrefix(base, keyring.DigestPrefix) || len(base) != len(keyring.DigestPrefix)+64 {
		t.Fatalf("digest %q is not %s and 64 hex digits", base, keyring.DigestPrefix)
	}
	if base != k1.Digest("env", []byte("DB_PASSWORD"), []byte("devarch")) {
		t.Fatal("the digest is not deterministic")
	}
	for name, other := range map[string]string{
		"other key":      k2.Digest("env", []byte("DB_PASSWORD"), []byte("devarch")),
		"other purpose":  k1.Digest("config", []byte("DB_PASSWORD"), []byte("devarch")),
		"moved boundary": k1.Digest("env", []byte("DB_PASSWORDd"), []byte("evarch")),
		"joined parts":   k1.Digest("env", []byte("DB_PASSWORDdevarch")),
		"other value":    k1.Digest("env", []byte("DB_PASSWORD"), []byte("devarch2")),
	} {
		if other == base {
			t.Errorf("%s gives the same digest", name)
		}
	}
	unkeyed := sha256.Sum256([]byte("devarch"))
	if strings.Contains(base, hex.EncodeToString(unkeyed[:])) {
		t.Error("the digest contains the unkeyed SHA-256 of the value")
	}
}

func TestKeyNeverPrintsItsSecret(t *testing.T) {
	k := testKey(7, 0xAB)
	k.Secret = []byte("SECRET-canary-0123456789abcdef!!")
	ring := keyring.Ring{Current: k, Retired: []keyring.Key{testKey(6, 0xCD)}}
	js, err := json.Marshal(struct {
		K keyring.Key
		R keyring.Ring
	}{k, ring})
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x", k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", ring, ring, ring), fmt.Sprintf("%v %+v", &k, []keyring.Key{k}), string(js),
	}
	for _, out := range outputs {
		for _, needle := range []string{"SECRET-canary", hex.EncodeToString(k.Secret), "abababab", "cdcdcdcd"} {
			if strings.Contains(strings.ToLower(out), strings.ToLower(needle)) {
				t.Errorf("output shows the secret (%s): %s", needle, out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(k), "7") || !strings.Contains(string(js), `"id":7`) {
		t.Errorf("the key's id is missing: %s / %s", fmt.Sprint(k), js)
	}
}

func TestRingFindsCurrentAndRetiredKeys(t *testing.T) {
	ring := keyring.Ring{Current: testKey(3, 3), Retired: []keyring.Key{testKey(1, 1), testKey(2, 2)}}
	for _, id := range []int64{1, 2, 3} {
		k, ok := ring.Key(id)
		if !ok || k.ID != id {
			t.Errorf("Key(%d) = %v, %v", id, k, ok)
		}
	}
	if _, ok := ring.Key(4); ok {
		t.Error("Key(4) found a key that is not in the ring")
	}
}

// TestDigesterEqualsKey: a Digester gives the key's MAC and Digest for
// every call, however many it made before.
func TestDigesterEqualsKey(t *testing.T) {
	k := keyring.Key{ID: 3, Secret: []byte("devarch-controller-test-key-0003")}
	d := k.Digester()
	for i := range 5 {
		parts := [][]byte{[]byte("part"), {byte(i)}, nil}
		if got, want := d.MAC("purpose", parts...), k.MAC("purpose", parts...); string(got) != string(want) {
			t.Fatalf("call %d: Digester.MAC %x, Key.MAC %x", i, got, want)
		}
		if got, want := d.Digest("other", parts[:i%3]...), k.Digest("other", parts[:i%3]...); got != want {
			t.Fatalf("call %d: Digester.Digest %s, Key.Digest %s", i, got, want)
		}
	}
}
