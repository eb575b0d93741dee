package stackfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// FuzzParse: parsing never panics, and a stack that parses has valid names
// everywhere, a template for every instance, valid config file paths and
// ports, and never an unresolved secret reference marked secret.
func FuzzParse(f *testing.F) {
	// Seeds from devarch's corpus when it is there (required under
	// DEVARCH_TEST_REQUIRE=1); the target still fuzzes without them.
	for _, name := range []string{"shop-export.yaml", "rejected-missing-template.yaml"} {
		data, err := os.ReadFile(filepath.Join(testenv.CorpusDir(f), "devarch-stacks", name))
		if err != nil {
			if testenv.Required() {
				f.Fatalf("corpus seed: %v (set %s to the corpus directory)", err, testenv.EnvCorpus)
			}
			continue
		}
		f.Add(data)
	}
	f.Add([]byte(stackWithApp("command: sh -c 'x'\nenvironment: {A: ${SECRET:PW}}\nports: [{container_port: 80}]")))
	f.Add([]byte(stackWithApp("config_files: {a.conf: {content: x}}\nconfig_mounts: [{target_path: /a, config_file_path: a.conf}]")))
	f.Add([]byte(stackWithApp("healthcheck: {test: CMD true, interval: 1s}\ndependencies: [db]\nvolumes: [{source: ./x, target: /x}]")))
	f.Add([]byte("version: 1\nstack: {name: s}\nwires: [{consumer_instance: a, provider_instance: b}]"))
	f.Add([]byte(stackWithApp("env_files: [a.env, {path: b.env, required: false, secret: true}]\nenv_file: c.env\nsecrets: [s, {source: t, target: k, uid: '1', mode: 0400}]\nconfigs: [c]") +
		"secrets:\n  s: {environment: PW}\n  t: {environment: TOKEN}\nconfigs:\n  c: {content: x}\nvolumes:\n  v: {external: true, name: n}\n"))
	f.Add([]byte(stackWithApp("hostname: h\nread_only: true\nulimits: {nofile: {soft: 1, hard: 2}, nproc: 3}\nsysctls: [net.core.somaxconn=1]\ndeploy: {resources: {limits: {memory: 1g}}}")))
	f.Add([]byte(stackWithApp("extra_hosts: ['a:1.2.3.4']\ntmpfs: /run\ndevices: ['/dev/null:/dev/x:rwm']\nlogging: {driver: local, options: {max-size: 1m}}\nstop_grace_period: 1m30s")))
	f.Add([]byte(networksFile))

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, testSecrets)
		if err != nil {
			return
		}
		if err := spec.ValidateName(file.Stack.Name); err != nil {
			t.Fatalf("accepted stack name: %v", err)
		}
		for _, inst := range file.Stack.Instances {
			if err := spec.ValidateName(inst.Name); err != nil {
				t.Fatalf("accepted instance name: %v", err)
			}
			if inst.TemplateName() == "" {
				t.Fatalf("instance %q has no template", inst.Name)
			}
			for _, c := range inst.Overrides.ConfigFiles {
				if err := spec.ValidateConfigPath(c.Path); err != nil || !strings.HasPrefix(c.Target, "/") {
					t.Fatalf("accepted config file %q -> %q: %v", c.Path, c.Target, err)
				}
			}
			for _, p := range inst.Overrides.Ports {
				if err := spec.ValidatePort(p); err != nil {
					t.Fatalf("accepted port %v: %v", p, err)
				}
			}
			for _, e := range inst.Overrides.Env {
				if err := spec.ValidateEnvKey(e.Key); err != nil {
					t.Fatalf("accepted env key: %v", err)
				}
			}
			for _, m := range append(slices.Clone(inst.Overrides.Secrets), inst.Overrides.Configs...) {
				if err := spec.ValidateFileMount(m); err != nil || strings.ContainsAny(m.Name, "/\\") {
					t.Fatalf("accepted secret or config %q: %v", m.Name, err)
				}
			}
		}
	})
}

// FuzzValidateConfigPath checks spec.ValidateConfigPath as the parser uses
// it: any accepted path, joined under a base directory and cleaned, stays
// strictly inside that directory.
func FuzzValidateConfigPath(f *testing.F) {
	for _, s := range []string{"app.env", "nested/dir/file.conf", "../x", "a/../../x", "/etc/passwd", "./a", "a//b", "a\\b", "..", ".", "", "a/..", "..a", "a..", "...", "a/.../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if spec.ValidateConfigPath(p) != nil {
			return
		}
		base := filepath.Join(string(filepath.Separator), "state", "stack", "instance")
		joined := filepath.Clean(filepath.Join(base, filepath.FromSlash(p)))
		rel, err := filepath.Rel(base, joined)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			t.Fatalf("accepted path %q escapes %s: %s", p, base, joined)
		}
		if !strings.HasPrefix(joined, base+string(filepath.Separator)) {
			t.Fatalf("accepted path %q lands outside %s: %s", p, base, joined)
		}
	})
}

// FuzzParseSecrets: the secrets file parser never panics and only returns
// valid names.
func FuzzParseSecrets(f *testing.F) {
	f.Add([]byte("A=1\nexport B=\"x\\n\"\n# c\nC='y' # z\n"))
	f.Add([]byte("X=\"unterminated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		values, err := ParseSecrets(data)
		if err != nil {
			return
		}
		for name := range values {
			if !secretName.MatchString(name) {
				t.Fatalf("accepted secret name %q", name)
			}
		}
	})
}
