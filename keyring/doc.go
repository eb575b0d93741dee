// Package keyring holds an installation's keys: random secrets, one per
// installation (one database), that key every digest of desired state the
// controller lets out of the process — the staleness token and the
// digests of secret env values and config file contents in the
// devarch.spec and devarch.config_digest container labels. Without the
// key, a published digest does not let anyone confirm a guessed secret
// offline.
//
// A Ring is the current key, which makes every new digest and token, plus
// the retired keys, kept so that a digest made before a rotation can still
// be checked against a value. Keys are created and stored by package
// state; this package only computes with them.
//
// Pure apart from Generate (crypto/rand). A key's secret never appears in
// its String, GoString or JSON form, so a key that reaches a log line or a
// JSON document shows its id only.
package keyring
