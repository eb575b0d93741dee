package api

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantToken string
		wantErr   string // substring of the message; "" = no error
	}{
		{name: "token", body: `{"token":"abc"}`, wantToken: "abc"},
		{name: "whitespace", body: " \n{\"token\" : \"abc\"}\n ", wantToken: "abc"},
		{name: "empty", body: "", wantToken: ""},
		{name: "blank", body: "  \n", wantToken: ""},
		{name: "null", body: "null", wantToken: ""},
		{name: "unknown field", body: `{"token":"a","extra":1}`, wantErr: `unknown field "extra"`},
		{name: "wrong type", body: `{"token":true}`, wantErr: `Field "token" must be a JSON string.`},
		{name: "array", body: `[]`, wantErr: "must be a JSON object"},
		{name: "string", body: `"abc"`, wantErr: "must be a JSON object"},
		{name: "syntax", body: `{"token":}`, wantErr: "not valid JSON"},
		{name: "truncated", body: `{"token":"a"`, wantErr: "truncated"},
		{name: "trailing object", body: `{"token":"a"}{}`, wantErr: "data after the JSON object"},
		{name: "trailing garbage", body: `{"token":"a"} x`, wantErr: "data after the JSON object"},
		{name: "duplicate key wins last", body: `{"token":"a","token":"b"}`, wantToken: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req applyRequest
			e := decodeJSON([]byte(tt.body), &req, `the field "token"`)
			if tt.wantErr == "" {
				if e != nil {
					t.Fatalf("error %+v", e)
				}
				if req.Token != tt.wantToken {
					t.Errorf("token %q, want %q", req.Token, tt.wantToken)
				}
				return
			}
			if e == nil || e.Status != http.StatusBadRequest || e.Code != codeInvalidBody || !strings.Contains(e.Message, tt.wantErr) {
				t.Fatalf("error %+v, want invalid_body containing %q", e, tt.wantErr)
			}
		})
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"token":"abc"}`, ``, `null`, `{"token":1}`, `[]`, `{"a":1}`, `{"token":"a"}{}`, "{\"token\":\"\xff\"}", `{"token":"a"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req applyRequest
		e := decodeJSON(body, &req, `the field "token"`)
		if e == nil {
			return
		}
		if e.Status != http.StatusBadRequest || e.Code != codeInvalidBody || !strings.HasSuffix(e.Message, ".") {
			t.Fatalf("bad error for %q: %+v", body, e)
		}
		if !utf8.ValidString(e.Message) {
			t.Fatalf("message is not UTF-8: %q", e.Message)
		}
	})
}

func TestParseApprovalID(t *testing.T) {
	tests := []struct {
		raw  string
		want int64
		ok   bool
	}{
		{"1", 1, true}, {"9223372036854775807", 9223372036854775807, true},
		{"0", 0, false}, {"-1", 0, false}, {"+1", 1, true}, {"1.0", 0, false}, {"", 0, false},
		{"9223372036854775808", 0, false}, {"0x10", 0, false}, {" 1", 0, false},
	}
	for _, tt := range tests {
		got, e := parseApprovalID(tt.raw)
		if (e == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseApprovalID(%q) = %d, %+v; want %d ok %t", tt.raw, got, e, tt.want, tt.ok)
		}
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		raw  string
		want int
		ok   bool
	}{
		{"", 50, true}, {"1", 1, true}, {"500", 500, true}, {"501", 500, true}, {"99999999999", 500, true},
		{"0", 0, false}, {"-5", 0, false}, {"x", 0, false}, {"1e3", 0, false},
	}
	for _, tt := range tests {
		got, e := parseLimit(tt.raw)
		if (e == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseLimit(%q) = %d, %+v; want %d ok %t", tt.raw, got, e, tt.want, tt.ok)
		}
	}
}

func TestParseLastEventID(t *testing.T) {
	tests := []struct {
		header, query string
		want          int
		ok            bool
	}{
		{"", "", 0, true},
		{"7", "", 7, true},
		{" 7 ", "", 7, true},
		{"", "3", 3, true},
		{"7", "3", 7, true},
		{"0", "", 0, true},
		{"-1", "", 0, false},
		{"abc", "", 0, false},
		{"", "x", 0, false},
	}
	for _, tt := range tests {
		got, e := parseLastEventID(tt.header, tt.query)
		if (e == nil) != tt.ok || got != tt.want {
			t.Errorf("parseLastEventID(%q, %q) = %d, %+v; want %d ok %t", tt.header, tt.query, got, e, tt.want, tt.ok)
		}
	}
}

// FuzzParsers checks the parsers of path, query and header input: they
// never panic, accept only what they say, and answer 400 with a sentence.
func FuzzParsers(f *testing.F) {
	for _, seed := range []string{"1", "0", "-1", "abc", "", "500", "9999999999999999999999", "\xff", " 3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if id, e := parseApprovalID(raw); e == nil && id <= 0 || e != nil && (e.Status != 400 || !strings.HasSuffix(e.Message, ".")) {
			t.Fatalf("parseApprovalID(%q) = %d, %+v", raw, id, e)
		}
		if n, e := parseLimit(raw); e == nil && (n < 1 || n > maxApprovalLimit) || e != nil && e.Status != 400 {
			t.Fatalf("parseLimit(%q) = %d, %+v", raw, n, e)
		}
		if n, e := parseLastEventID(raw, ""); e == nil && n < 0 || e != nil && e.Status != 400 {
			t.Fatalf("parseLastEventID(%q) = %d, %+v", raw, n, e)
		}
	})
}
