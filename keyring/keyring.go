package keyring

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"time"
)

// SecretSize is the length of a key's secret in bytes (the block-aligned
// key size of HMAC-SHA256).
const SecretSize = 32

// DigestPrefix starts every keyed digest written to a label.
const DigestPrefix = "hmac-sha256:"

// Key is one installation key.
type Key struct {
	// ID identifies the key; records carry it so that a digest can be
	// checked with the key that made it.
	ID int64
	// Secret is the HMAC key. It never leaves the process.
	Secret    []byte
	CreatedAt time.Time
	// RetiredAt is zero while the key is the installation's current key.
	RetiredAt time.Time
}

// Generate returns a fresh random secret of SecretSize bytes.
func Generate() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate installation key: %w", err)
	}
	return b, nil
}

// MAC returns the HMAC-SHA256 of the parts under the key. purpose
// separates the uses of one key (a token never equals a digest of the
// same bytes), and every part is length-prefixed, so that no two lists of
// parts give the same input.
func (k Key) MAC(purpose string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, k.Secret)
	writePart(m, []byte(purpose))
	for _, p := range parts {
		writePart(m, p)
	}
	return m.Sum(nil)
}

// Digest is MAC in the form stored in labels: DigestPrefix and hex.
func (k Key) Digest(purpose string, parts ...[]byte) string {
	return DigestPrefix + hex.EncodeToString(k.MAC(purpose, parts...))
}

// Digester makes several digests under one key, keying HMAC once: its MAC
// and Digest equal the key's. A Digester is not safe for concurrent use.
type Digester struct {
	key Key
	m   hash.Hash
	// prefix and purpose hold a part's length and the purpose on their
	// way into m, which keeps them from escaping to the heap each time.
	prefix  [8]byte
	purpose []byte
}

// Digester returns a Digester of k.
func (k Key) Digester() *Digester { return &Digester{key: k} }

// MAC is Key.MAC.
func (d *Digester) MAC(purpose string, parts ...[]byte) []byte {
	return d.AppendMAC(nil, purpose, parts...)
}

// AppendMAC appends Key.MAC to dst. Given room in dst, it allocates
// nothing (after the Digester's first MAC): records make several digests
// for every instance of every first plan of a stack.
func (d *Digester) AppendMAC(dst []byte, purpose string, parts ...[]byte) []byte {
	if d.m == nil {
		d.m = hmac.New(sha256.New, d.key.Secret)
	} else {
		d.m.Reset()
	}
	d.purpose = append(d.purpose[:0], purpose...)
	d.writePart(d.purpose)
	for _, p := range parts {
		d.writePart(p)
	}
	return d.m.Sum(dst)
}

// writePart is the function writePart into d.m, the length prefix
// written from d.prefix rather than a new slice.
func (d *Digester) writePart(p []byte) {
	binary.BigEndian.PutUint64(d.prefix[:], uint64(len(p)))
	_, _ = d.m.Write(d.prefix[:])
	_, _ = d.m.Write(p)
}

// Digest is Key.Digest.
func (d *Digester) Digest(purpose string, parts ...[]byte) string {
	return DigestPrefix + hex.EncodeToString(d.MAC(purpose, parts...))
}

func writePart(w hash.Hash, p []byte) {
	_, _ = w.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
	_, _ = w.Write(p)
}

// String names the key by id, never by secret.
func (k Key) String() string { return fmt.Sprintf("installation key %d", k.ID) }

// GoString is String, so that %#v does not print the secret either.
func (k Key) GoString() string { return k.String() }

// MarshalJSON writes the key's id and dates, never its secret.
func (k Key) MarshalJSON() ([]byte, error) {
	v := struct {
		ID        int64      `json:"id"`
		CreatedAt time.Time  `json:"created_at"`
		RetiredAt *time.Time `json:"retired_at"`
	}{ID: k.ID, CreatedAt: k.CreatedAt}
	if !k.RetiredAt.IsZero() {
		v.RetiredAt = &k.RetiredAt
	}
	return json.Marshal(v)
}

// Ring is an installation's keys: the current one and the retired ones.
type Ring struct {
	Current Key
	Retired []Key
}

// Key returns the key with the given id, current or retired.
func (r Ring) Key(id int64) (Key, bool) {
	if r.Current.ID == id {
		return r.Current, true
	}
	for _, k := range r.Retired {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// String names the current key and counts the retired ones.
func (r Ring) String() string {
	return fmt.Sprintf("keyring{current: %d, retired: %d}", r.Current.ID, len(r.Retired))
}

// GoString is String.
func (r Ring) GoString() string { return r.String() }
