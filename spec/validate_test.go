package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, tt := range []struct {
		name    string
		wantErr string
	}{
		{"shop", ""},
		{"shop-import", ""},
		{"a1", ""},
		{"", "empty"},
		{"Shop", "not DNS-safe"},
		{"-shop", "not DNS-safe"},
		{"shop-", "not DNS-safe"},
		{"shop_db", "not DNS-safe"},
		{"shop.db", "not DNS-safe"},
		{strings.Repeat("a", 64), "limit is 63"},
	} {
		checkErr(t, "ValidateName("+tt.name+")", ValidateName(tt.name), tt.wantErr)
	}
}

func TestValidateConfigPath(t *testing.T) {
	for _, tt := range []struct {
		path    string
		wantErr string
	}{
		{"app.env", ""},
		{"dynamic/routes.yml", ""},
		{".hidden", ""},
		{"", "empty"},
		{"/etc/passwd", "absolute"},
		{"../x", "leaves"},
		{"a/../../x", "leaves"},
		{"a/./b", "not clean"},
		{"a//b", "not clean"},
		{"a/", "not clean"},
		{`a\b`, "backslash"},
		{"a\x00b", "NUL"},
	} {
		checkErr(t, "ValidateConfigPath("+tt.path+")", ValidateConfigPath(tt.path), tt.wantErr)
	}
}

func TestValidateImageRef(t *testing.T) {
	for _, tt := range []struct {
		ref     string
		wantErr string
	}{
		{"postgres:16", ""},
		{"ghcr.io/org/app:1.2", ""},
		{"localhost:5000/app", ""},
		{"busybox@sha256:" + strings.Repeat("a", 64), ""},
		{"", "image is empty"},
		{"Postgres:16", "not a valid image reference"},
		{"app:bad tag", "not a valid image reference"},
	} {
		checkErr(t, "ValidateImageRef("+tt.ref+")", ValidateImageRef(tt.ref), tt.wantErr)
	}
}

func TestValidateEnvKey(t *testing.T) {
	for _, tt := range []struct {
		key     string
		wantErr string
	}{
		{"NODE_ENV", ""},
		{"_x", ""},
		{"gravitee_management_mongodb_uri", ""},
		{"1ABC", "invalid"},
		{"A B", "invalid"},
		{"", "invalid"},
		{"A=B", "invalid"},
	} {
		checkErr(t, "ValidateEnvKey("+tt.key+")", ValidateEnvKey(tt.key), tt.wantErr)
	}
}

func TestValidateEffective(t *testing.T) {
	base := func() Effective { return Merge(tmplSpec(), Overrides{}) }
	for _, tt := range []struct {
		name    string
		mutate  func(e *Effective)
		wantErr string
	}{
		{"valid", func(*Effective) {}, ""},
		{"bad image", func(e *Effective) { e.Image.Value = "UPPER" }, "x.image: image \"UPPER\""},
		{"bad env key", func(e *Effective) { e.Env = append(e.Env, EnvVar{Key: "9X"}) }, "x.env.9X"},
		{"zero container port", func(e *Effective) { e.Ports.Value = []Port{{HostPort: 80}} }, "x.ports[0]: container port"},
		{"bad protocol", func(e *Effective) { e.Ports.Value = []Port{{ContainerPort: 80, Protocol: "icmp"}} }, "protocol \"icmp\""},
		{"relative volume target", func(e *Effective) { e.Volumes.Value = []Volume{{Type: VolumeTypeVolume, Target: "data"}} }, "absolute container path"},
		{"bad volume type", func(e *Effective) { e.Volumes.Value = []Volume{{Type: "nfs", Target: "/d"}} }, "volume type \"nfs\""},
		{"bind without source", func(e *Effective) { e.Volumes.Value = []Volume{{Type: VolumeTypeBind, Target: "/d"}} }, "no source path"},
		{"reserved label", func(e *Effective) { e.Labels = []Label{{Key: "devarch.stack", Value: "x"}} }, "reserved"},
		{"config path escape", func(e *Effective) { e.ConfigFiles[0].Path = "../etc/x" }, "leaves"},
		{"config relative target", func(e *Effective) { e.ConfigFiles[0].Target = "etc/x" }, "absolute container path"},
		{"config duplicate target", func(e *Effective) {
			e.ConfigFiles = append(e.ConfigFiles, ConfigFile{Path: "b", Target: e.ConfigFiles[0].Target})
		}, "also the target"},
		{"config mode", func(e *Effective) { e.ConfigFiles[0].Mode = 0o4755 }, "outside 0777"},
		{"restart policy", func(e *Effective) { e.Restart.Value = "sometimes" }, "restart policy \"sometimes\""},
		{"on-failure with count", func(e *Effective) { e.Restart.Value = "on-failure:3" }, ""},
		{"healthcheck without test", func(e *Effective) { e.Healthcheck.Value = &Healthcheck{Retries: 1} }, "no test"},
		{"disabled healthcheck", func(e *Effective) { e.Healthcheck.Value = &Healthcheck{Disable: true} }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := base()
			tt.mutate(&e)
			ps := ValidateEffective("x", e)
			var err error
			if len(ps) > 0 {
				err = &ValidationError{Problems: ps}
			}
			checkErr(t, tt.name, err, tt.wantErr)
		})
	}
}

func TestStackValidate(t *testing.T) {
	inst := func(name string, enabled bool, ports ...Port) Instance {
		return Instance{Name: name, Enabled: enabled, Effective: Merge(&ServiceSpec{Image: "busybox", Ports: ports}, Overrides{})}
	}
	p := func(ip string, host uint16) Port { return Port{HostIP: ip, HostPort: host, ContainerPort: 80} }
	for _, tt := range []struct {
		name    string
		stack   Stack
		wantErr string
	}{
		{"valid", Stack{Name: "shop", Instances: []Instance{inst("a", true, p("127.0.0.1", 80)), inst("b", true, p("127.0.0.1", 81))}}, ""},
		{"bad stack name", Stack{Name: "Shop"}, "stack.name"},
		{"bad instance name", Stack{Name: "s", Instances: []Instance{inst("A_1", true)}}, "instances.A_1"},
		{"duplicate instance", Stack{Name: "s", Instances: []Instance{inst("a", true), inst("a", true)}}, "used twice"},
		{"host port clash", Stack{Name: "s", Instances: []Instance{inst("a", true, p("127.0.0.1", 80)), inst("b", true, p("127.0.0.1", 80))}}, "host port 80/tcp is already published by instance \"a\""},
		{"clash with wildcard", Stack{Name: "s", Instances: []Instance{inst("a", true, p("", 80)), inst("b", true, p("127.0.0.1", 80))}}, "already published"},
		{"same port different ips", Stack{Name: "s", Instances: []Instance{inst("a", true, p("127.0.0.1", 80)), inst("b", true, p("127.0.0.2", 80))}}, ""},
		{"clash within one instance", Stack{Name: "s", Instances: []Instance{inst("a", true, p("127.0.0.1", 80), p("127.0.0.1", 80))}}, "already published by instance \"a\""},
		{"disabled instance does not clash", Stack{Name: "s", Instances: []Instance{inst("a", true, p("", 80)), inst("b", false, p("", 80))}}, ""},
		{"unknown dependency", Stack{Name: "s", Instances: []Instance{{Name: "a", Effective: Merge(&ServiceSpec{Image: "busybox", DependsOn: []Dependency{{Name: "db"}}}, Overrides{})}}}, "depends on \"db\""},
	} {
		t.Run(tt.name, func(t *testing.T) { checkErr(t, tt.name, tt.stack.Validate(), tt.wantErr) })
	}
}

func TestValidationErrorListsEveryProblem(t *testing.T) {
	s := Stack{Name: "BAD", Instances: []Instance{{Name: "x", Effective: Merge(&ServiceSpec{}, Overrides{})}}}
	err := s.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %T %v", err, err)
	}
	if len(ve.Problems) < 2 || strings.Count(err.Error(), "\n") != len(ve.Problems)-1 {
		t.Fatalf("want one line per problem, got %d problems:\n%v", len(ve.Problems), err)
	}
}

func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error: %v", what, err)
	case want != "" && err == nil:
		t.Errorf("%s: want error containing %q, got nil", what, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q does not contain %q", what, err, want)
	}
}
