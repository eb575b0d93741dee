package project

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomStrings are the texts random records are made of: empty, plain,
// and every kind of character encoding/json escapes or replaces.
var randomStrings = []string{
	"", "a", "postgres:16", "/var/lib/data", `quote"d`, `back\slash`, "<tag>&amp;", "tab\tnew\nline\r",
	"\x00\x01\x1f", "caf\u00e9 \u00b5s", "line\u2028sep\u2029", "bad\xffutf8\xc3", "\u65e5\u672c", "${VAR}", "a=b",
}

// fillRandom sets every exported field reachable from v to a random value:
// zero values, nil and empty slices and maps are as likely as filled ones,
// so every omitempty rule is exercised.
func fillRandom(r *rand.Rand, v reflect.Value) { fillRandomFrom(r, v, randomStrings) }

// fillRandomFrom is fillRandom with the texts drawn from pool.
func fillRandomFrom(r *rand.Rand, v reflect.Value, pool []string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(pool[r.IntN(len(pool))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch r.IntN(3) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(r.Int64N(100000) - 50000)
		default:
			v.SetInt(r.Int64())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if r.IntN(3) > 0 {
			v.SetUint(r.Uint64() >> (64 - v.Type().Bits()))
		} else {
			v.SetUint(0)
		}
	case reflect.Pointer:
		if r.IntN(3) > 0 {
			p := reflect.New(v.Type().Elem())
			fillRandomFrom(r, p.Elem(), pool)
			v.Set(p)
		}
	case reflect.Slice:
		switch n := r.IntN(5); n {
		case 0: // nil
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				fillRandomFrom(r, s.Index(i), pool)
			}
			v.Set(s)
		}
	case reflect.Map:
		switch n := r.IntN(5); n {
		case 0: // nil
		default:
			m := reflect.MakeMapWithSize(v.Type(), n-1)
			for range n - 1 {
				k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
				fillRandomFrom(r, k, pool)
				fillRandomFrom(r, e, pool)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillRandomFrom(r, v.Field(i), pool)
			}
		}
	default:
		panic("fillRandom: no random value for " + v.Type().String())
	}
}

func checkAppendRecord(t *testing.T, seed uint64) {
	t.Helper()
	var rec Record
	fillRandom(rand.New(rand.NewPCG(seed, seed^0x5eed)), reflect.ValueOf(&rec).Elem())
	want, err := json.Marshal(rec)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	if got := rec.Encode(); got != string(want) {
		t.Fatalf("seed %d: Encode differs from encoding/json\n got %s\nwant %s", seed, got, want)
	}
}

// TestAppendRecordMatchesEncodingJSON: the hand-written encoding of a
// record equals encoding/json's for random records that set every field
// (a field added to Record or the types it holds, and not to appendRecord,
// fails this test), and the label still decodes.
func TestAppendRecordMatchesEncodingJSON(t *testing.T) {
	for seed := range uint64(20000) {
		checkAppendRecord(t, seed)
	}
	var rec Record
	fillRandom(rand.New(rand.NewPCG(1, 2)), reflect.ValueOf(&rec).Elem())
	rec.Version = RecordVersion
	var back Record
	if err := json.Unmarshal([]byte(rec.Encode()), &back); err != nil {
		t.Fatalf("the encoded record does not decode: %v", err)
	}
}

func FuzzAppendRecord(f *testing.F) {
	for _, s := range []uint64{0, 1, 42, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkAppendRecord(t, seed) })
}
