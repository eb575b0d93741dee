package catalog

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// optionsStack loads testdata/options as templates and returns a stack
// with one instance of each.
func optionsStack(t *testing.T) spec.Stack { return fixtureStack(t, "opts", "options") }

// fixtureStack loads testdata/<dir> as templates, none of which may warn,
// and returns stack name (id 7) with one instance of each, without
// overrides.
func fixtureStack(t *testing.T, name, dir string) spec.Stack {
	t.Helper()
	s := spec.Stack{ID: 7, Name: name, Enabled: true}
	for i, fr := range LoadPaths(filepath.Join("testdata", dir)) {
		if fr.Err != nil {
			t.Fatal(fr.Err)
		}
		for _, w := range fr.Warnings {
			t.Errorf("unexpected warning: %s", w)
		}
		tmpl := fr.Template
		s.Instances = append(s.Instances, spec.Instance{ID: int64(i + 1), Name: tmpl.Name, Enabled: true, Template: &tmpl,
			Effective: spec.Merge(&tmpl.Spec, spec.Overrides{})})
	}
	return s
}

// composeService loads a template file with compose-go alone, the way
// `docker compose config` reads it (no environment).
func composeService(t *testing.T, path string) types.ServiceConfig {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{WorkingDir: filepath.Dir(path), ConfigFiles: []types.ConfigFile{{Filename: path, Content: content}}, Environment: types.Mapping{}}
	model, err := loader.LoadModelWithContext(context.Background(), details, func(o *loader.Options) { o.SetProjectName("opts", true) })
	if err != nil {
		t.Fatal(err)
	}
	name, err := onlyService(model)
	if err != nil {
		t.Fatal(err)
	}
	declarePlaceholders(model, name)
	p, err := loader.ModelToProject(model, loader.ToOptions(&details, []func(*loader.Options){func(o *loader.Options) { o.SetProjectName("opts", true) }}), details)
	if err != nil {
		t.Fatal(err)
	}
	return p.Services[name]
}

func keysJSON(t *testing.T, svc types.ServiceConfig) map[string]json.RawMessage {
	t.Helper()
	b, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOptionsAgreeWithCompose builds the compose project of a stack made
// of the templates in testdata/options and compares, key by key, each
// service with compose-go's own reading of the template file: the
// controller hands compose what the user wrote. The only differences
// allowed are the normal forms the controller records (a ulimit's single
// number as equal soft and hard limits; deploy.restart_policy as restart).
func TestOptionsAgreeWithCompose(t *testing.T) {
	covered := optionsAgree(t, optionsStack(t))
	for k := range optionsAgree(t, fixtureStack(t, "opts", "options-host")) {
		covered[k] = true
	}
	// The fixtures cover every key but annotations (engine API 1.43) and
	// storage_opt (needs a storage driver with quotas), tested below.
	var missing []string
	for _, k := range spec.OptionKeys() {
		if !covered[k] && k != "annotations" && k != "storage_opt" && k != "cgroup_parent" && k != "network_mode" { // network_mode: see networks_test.go
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("testdata/options and options-host do not set %s", strings.Join(missing, ", "))
	}
	if len(covered) < 30 {
		t.Errorf("testdata/options sets %d keys, want at least 30", len(covered))
	}
}

// optionsAgree compares the compose project of s (one instance per
// template file) with compose-go's reading of each file and returns the
// option keys the files set.
func optionsAgree(t *testing.T, s spec.Stack) map[string]bool {
	t.Helper()
	p, err := project.Build(s, project.Options{StateDir: "/state", WorkspaceDir: "/ws"})
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, inst := range s.Instances {
		user := composeService(t, inst.Template.SourcePath)
		for name, u := range user.Ulimits {
			if u.Single != 0 {
				user.Ulimits[name] = &types.UlimitsConfig{Soft: u.Single, Hard: u.Single}
			}
		}
		if user.Deploy != nil && user.Deploy.RestartPolicy != nil {
			if got := p.Services[inst.Name].Restart; got != "on-failure:3" {
				t.Errorf("%s: restart = %q, want on-failure:3 from deploy.restart_policy", inst.Name, got)
			}
			user.Deploy.RestartPolicy = nil
		}
		want, got := keysJSON(t, user), keysJSON(t, p.Services[inst.Name])
		for _, key := range append(spec.OptionKeys(), "deploy") {
			if want[key] == nil {
				continue
			}
			covered[key] = true
			if string(got[key]) != string(want[key]) {
				t.Errorf("%s: %s = %s, compose reads %s", inst.Name, key, got[key], want[key])
			}
		}
		for key := range got {
			if want[key] == nil && slices.Contains(spec.OptionKeys(), key) {
				t.Errorf("%s: %s = %s, which the file does not set", inst.Name, key, got[key])
			}
		}
	}
	return covered
}

// TestOptionsRoundTrip: every option survives project.ApplyOptions then
// project.OptionsOf, and the JSON the database stores.
func TestOptionsRoundTrip(t *testing.T) {
	for _, inst := range optionsStack(t).Instances {
		o := inst.Template.Spec.Options
		var svc types.ServiceConfig
		project.ApplyOptions(&svc, o)
		back := project.OptionsOf(svc)
		if a, b := mustJSON(o), mustJSON(back); a != b {
			t.Errorf("%s: through compose:\n%s\nwant:\n%s", inst.Name, b, a)
		}
		raw, err := json.Marshal(inst.Template.Spec)
		if err != nil {
			t.Fatal(err)
		}
		var stored spec.ServiceSpec
		if err := json.Unmarshal(raw, &stored); err != nil {
			t.Fatal(err)
		}
		if a, b := mustJSON(inst.Template.Spec), mustJSON(stored); a != b {
			t.Errorf("%s: through JSON:\n%s\nwant:\n%s", inst.Name, b, a)
		}
	}
}

// TestOptionsRefusedOrIgnored: a key the engine cannot apply as written is
// refused (the file is not imported) or left out with a warning, each
// naming the key and what to do; never dropped silently.
func TestOptionsRefusedOrIgnored(t *testing.T) {
	tests := []struct {
		name, body  string
		wantProblem string // on services.app.<key>
		wantIgnored string // warning key under services.app
		wantMessage string
	}{
		{"scale", "scale: 2", "scale", "", "one container per instance"},
		{"replicas", "deploy: {replicas: 3}", "deploy.replicas", "", "add instances to the stack"},
		{"gpus", "deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}", "deploy.resources.reservations.devices", "", "GPUs"},
		{"dns", "dns: [resolver.example]", "dns", "", "not an IP address"},
		{"extra_hosts", "extra_hosts: ['db=not-an-ip']", "extra_hosts", "", "not an IP address or host-gateway"},
		{"tmpfs", "tmpfs: [run]", "tmpfs", "", "absolute container path"},
		{"devices", "devices: ['dev/null:/dev/x']", "devices", "", "absolute host path"},
		{"ulimits", "ulimits: {nofile: {soft: 20, hard: 10}}", "ulimits.nofile", "", "above hard limit"},
		{"pull_policy", "pull_policy: sometimes", "pull_policy", "", "does not match pattern"},
		{"restart condition", "deploy: {restart_policy: {condition: sometimes}}", "deploy.restart_policy.condition", "", "not one of none, on-failure, any"},
		{"host sysctl", "sysctls: {vm.max_map_count: 262144}", "", "sysctls.vm.max_map_count", "set it on the host"},
		{"swarm placement", "deploy: {placement: {constraints: [node.role==manager]}}", "", "deploy.placement", "swarm services only"},
		{"windows cpu_count", "cpu_count: 2", "", "cpu_count", "Windows containers only"},
		{"credential_spec", "credential_spec: {file: x.json}", "", "credential_spec", "Windows containers only"},
		{"gpus key", "gpus: all", "gpus", "", "GPU requests are not supported"},
		{"post_start", "post_start: [{command: [echo, hi]}]", "", "post_start", "hooks are not run"},
		{"pre_stop", "pre_stop: [{command: [echo, bye]}]", "", "pre_stop", "hooks are not run"},
		{"use_api_socket", "use_api_socket: true", "", "use_api_socket", "never grants implicitly"},
		{"develop", "develop: {watch: [{path: ./src, action: sync, target: /src}]}", "", "develop", "docker compose watch"},
		{"attach", "attach: true", "", "attach", "whose logs"},
		{"profiles", "profiles: [debug]", "", "profiles", "enabled: false"},
		{"external_links", "external_links: [redis]", "", "external_links", "by instance name"},
		{"label_file", "label_file: ./app.labels", "", "label_file", "under labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fixtures", "app")
			writeFile(t, filepath.Join(dir, "compose.yml"), "services:\n  app:\n    image: busybox:1.36\n    "+tt.body+"\n")
			res, err := LoadFile(filepath.Join(dir, "compose.yml"))
			if tt.wantProblem != "" {
				if err == nil || !strings.Contains(err.Error(), "services.app."+tt.wantProblem) || !strings.Contains(err.Error(), tt.wantMessage) {
					t.Fatalf("error = %v, want a problem at services.app.%s saying %q", err, tt.wantProblem, tt.wantMessage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range res.Warnings {
				if w.Key == "services.app."+tt.wantIgnored && w.Ignored && strings.Contains(w.Message, tt.wantMessage) {
					return
				}
			}
			t.Fatalf("warnings %v lack an ignored services.app.%s saying %q", res.Warnings, tt.wantIgnored, tt.wantMessage)
		})
	}
}

func TestSummary(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a", "one", "compose.yml"), "services:\n  one:\n    image: x\n    hostname: h\n    profiles: [debug]\n")
	writeFile(t, filepath.Join(root, "a", "two", "compose.yml"), "services:\n  two:\n    image: x\n    hostname: h\n    scale: 3\n")
	writeFile(t, filepath.Join(root, "a", "three", "compose.yml"), "services:\n  three:\n    image: x\n    read_only: true\n")
	s := Summarize(LoadPaths(root))
	if s.Files != 3 || s.Services != 2 || s.Failed != 1 {
		t.Fatalf("summary %+v", s)
	}
	if s.Used["hostname"] != 1 || s.Used["read_only"] != 1 || s.Used["image"] != 2 || s.Ignored["profiles"] != 1 || s.Refused["scale"] != 1 {
		t.Errorf("counts: used %v ignored %v refused %v", s.Used, s.Ignored, s.Refused)
	}
	text := s.String()
	for _, want := range []string{"2 services in 3 files (1 refused).", "Keys used: image 2, ", "Keys ignored: profiles 1.", "Keys refused: scale 1."} {
		if !strings.Contains(text, want) {
			t.Errorf("summary text lacks %q:\n%s", want, text)
		}
	}
}

// TestLoaderPanicIsAnError: a file on which compose-go's loader panics (a
// config entry with `target:` and no value) is an import error naming
// what to look for, not a crash.
func TestLoaderPanicIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "web", "p")
	writeFile(t, filepath.Join(dir, "compose.yml"),
		"services:\n  p:\n    image: x\n    configs:\n      - source: c\n        target:\nconfigs:\n  c:\n    content: hi\n")
	_, err := LoadFile(filepath.Join(dir, "compose.yml"))
	if err == nil || !strings.Contains(err.Error(), "a key and no value") {
		t.Fatalf("err = %v, want the loader's failure as an error", err)
	}
}
