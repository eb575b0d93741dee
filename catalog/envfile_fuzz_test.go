package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// FuzzEnvFile reads arbitrary bytes as an env file: reading never panics,
// every variable it returns has a valid name, comes from the file and is
// secret when its name looks secret, environment: always wins, and an
// error never quotes the file.
func FuzzEnvFile(f *testing.F) {
	f.Add([]byte("A=1\nB=\"two ${A}\"\nexport C='three'\n# comment\nD=four # trailing\n"), "A")
	f.Add([]byte("PASSWORD=hunter2\nURL=http://${HOST:-db}/\nHOST\n"), "HOST")
	f.Add([]byte("BAD KEY=x\n"), "")
	f.Add([]byte("Q=\"unterminated\n"), "")
	f.Add([]byte("E=${X:?must be set}\n"), "")
	f.Add([]byte("M: yaml-style\nN=a\\nb\n"), "N")
	f.Fuzz(func(t *testing.T, data []byte, envKey string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ".env"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		environment := map[string]string{}
		if envKey != "" {
			environment[envKey] = "from-environment"
		}
		res, err := ReadEnvFiles(dir, []EnvFile{{Path: ".env", Required: true}}, environment)
		if err != nil {
			if text := strings.TrimSpace(string(data)); len(text) >= 8 && strings.Contains(err.Error(), text) {
				t.Fatalf("the error quotes the file: %v", err)
			}
			return
		}
		for _, v := range res.Env {
			if err := spec.ValidateEnvKey(v.Key); err != nil {
				t.Fatalf("returned invalid key %q: %v", v.Key, err)
			}
			if v.File != ".env" {
				t.Fatalf("variable %s has file %q", v.Key, v.File)
			}
			if _, set := environment[v.Key]; set {
				t.Fatalf("variable %s of environment: came from the env file", v.Key)
			}
			if spec.IsSecretName(v.Key) && !v.Secret {
				t.Fatalf("variable %s is not secret", v.Key)
			}
		}
	})
}
