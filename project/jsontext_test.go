package project

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func FuzzTextMapMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\back`, "<tag>&amp;", "\x00\x1f\t\n\r\b\f", "é\u2028\u2029", "\xff\xfe bad", "日本"} {
		f.Add(s, s+"v")
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		m := map[string]string{k: v, k + "2": k, "z" + v: ""}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(textMap(m))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("textMap encodes %s, encoding/json %s", got, want)
		}
	})
}

func TestTextMapNil(t *testing.T) {
	var m textMap
	if b, _ := json.Marshal(m); string(b) != "null" {
		t.Errorf("nil textMap = %s", b)
	}
}

// TestAppendJSONStringEveryByte: each byte, alone and between others, is
// encoded as encoding/json encodes it.
func TestAppendJSONStringEveryByte(t *testing.T) {
	for c := range 256 {
		cases := []string{string([]byte{byte(c)}), "a" + string([]byte{byte(c)}) + "z\u00e9"}
		for p := range 17 { // at each place of the eight-byte words appendJSONString tests at once
			s := []byte("abcdefghijklmnopq")
			s[p] = byte(c)
			cases = append(cases, string(s))
		}
		for _, s := range cases {
			want, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendJSONString(nil, s); string(got) != string(want) {
				t.Errorf("byte %#x: appendJSONString gives %s, encoding/json %s", c, got, want)
			}
		}
	}
}

// TestSafe8: the eight-byte test agrees with jsonSafe byte by byte, for
// words made of the bytes around every boundary of jsonSafe and for
// random words.
func TestSafe8(t *testing.T) {
	edges := []byte{0, 1, 0x1f, 0x20, 0x21, '"' - 1, '"', '"' + 1, '&' - 1, '&', '&' + 1, '<' - 1, '<', '<' + 1, '>', '>' + 1,
		'\\' - 1, '\\', '\\' + 1, 0x7e, 0x7f, 0x80, 0x81, 0xc3, 0xe2, 0xfe, 0xff}
	r := rand.New(rand.NewPCG(8, 8))
	check := func(w []byte) {
		want := true
		for _, c := range w {
			want = want && c < 0x80 && jsonSafe[c]
		}
		if got := safe8(string(w)); got != want {
			t.Fatalf("safe8(%q) = %v, want %v", w, got, want)
		}
	}
	for range 200000 {
		w := make([]byte, 8)
		for i := range w {
			if r.IntN(3) == 0 {
				w[i] = byte(r.IntN(256))
			} else {
				w[i] = edges[r.IntN(len(edges))]
			}
		}
		check(w)
		for i := range w { // the same word with all but one byte safe
			v := []byte("safeword")
			v[i] = w[i]
			check(v)
		}
	}
}
