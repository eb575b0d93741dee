package stackfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSecrets(t *testing.T) {
	file := strings.Join([]string{
		"# database",
		"DB_PASSWORD=s3cret",
		"",
		"export API_KEY=\"quoted \\\"value\\\"\\n with $HOME kept\"   # comment",
		"RAW='single $quoted # not a comment'",
		"SPACED =  padded value   # trailing comment",
		"HASH=a#b",
		"EMPTY=",
		"CRLF=yes\r",
		"DUP=first",
		"DUP=second",
		"ESCAPES=\"tab\\there \\\\ \\$ \\q\"",
	}, "\n")
	got, err := ParseSecrets([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DB_PASSWORD": "s3cret",
		"API_KEY":     "quoted \"value\"\n with $HOME kept",
		"RAW":         "single $quoted # not a comment",
		"SPACED":      "padded value",
		"HASH":        "a#b",
		"EMPTY":       "",
		"CRLF":        "yes",
		"DUP":         "second",
		"ESCAPES":     "tab\there \\ $ \\q",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSecrets:\n%q\nwant:\n%q", got, want)
	}
}

func TestParseSecretsErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"OK=1\nno equals sign hunter2", "line 2: expected NAME=value"},
		{"1BAD=hunter2", "line 1: the name is not a valid secret name"},
		{"A-B=hunter2", "line 1: the name is not a valid secret name"},
		{"X='hunter2", "line 1 (X): the single-quoted value is not closed"},
		{"X=\"hunter2", "line 1 (X): the double-quoted value is not closed"},
		{"X=\"hunter2\" trailing", "line 1 (X): unexpected text after the closing quote"},
	}
	for _, tt := range tests {
		_, err := ParseSecrets([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSecrets(%q) = %v, want %q", tt.file, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the value: %v", err)
		}
	}
}

func TestFileSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.env")
	if err := os.WriteFile(path, []byte("APP_KEY=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup, err := FileSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := lookup("APP_KEY"); !ok || v != "from-file" {
		t.Errorf("APP_KEY = %q, %v", v, ok)
	}
	if _, ok := lookup("OTHER"); ok {
		t.Error("OTHER found")
	}
	if _, err := FileSecrets(filepath.Join(dir, "missing.env")); err == nil {
		t.Error("FileSecrets accepted a missing file")
	}
	bad := filepath.Join(dir, "bad.env")
	if err := os.WriteFile(bad, []byte("X='hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := FileSecrets(bad); err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("FileSecrets(bad) = %v, want an error naming the file and not the value", err)
	}
}

func TestEnvSecretsAndChain(t *testing.T) {
	t.Setenv("DEVARCH_STACKFILE_TEST_SECRET", "from-env")
	env := EnvSecrets(nil)
	if v, ok := env("DEVARCH_STACKFILE_TEST_SECRET"); !ok || v != "from-env" {
		t.Errorf("EnvSecrets(nil) = %q, %v", v, ok)
	}
	fakeEnv := EnvSecrets(mapSecrets(map[string]string{"A": "env-a", "B": "env-b", "EMPTY": ""}))
	file := mapSecrets(map[string]string{"A": "file-a"})
	chain := Chain(nil, file, fakeEnv)
	for name, want := range map[string]string{"A": "file-a", "B": "env-b", "EMPTY": ""} {
		if v, ok := chain(name); !ok || v != want {
			t.Errorf("chain(%s) = %q, %v; want %q", name, v, ok, want)
		}
	}
	if _, ok := chain("C"); ok {
		t.Error("chain found C")
	}
	if _, ok := Chain()("A"); ok {
		t.Error("empty chain found A")
	}
}
