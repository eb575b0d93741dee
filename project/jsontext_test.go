package project

import (
	"encoding/json"
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
		for _, s := range []string{string([]byte{byte(c)}), "a" + string([]byte{byte(c)}) + "z\u00e9"} {
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
