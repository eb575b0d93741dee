package stackfile

import (
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// TestInstanceOptions: an instance takes the compose service keys of
// spec.Options in compose's own syntax; they land in its overrides in the
// controller's normal form.
func TestInstanceOptions(t *testing.T) {
	f, err := Parse([]byte(stackWithApp(`hostname: web-1
read_only: true
ulimits:
  nofile: {soft: 1024, hard: 2048}
  nproc: 512
sysctls: [net.core.somaxconn=511]
extra_hosts: ["db.local:10.0.0.5"]
stop_grace_period: 1m30s
deploy:
  resources:
    limits: {cpus: "0.5", memory: 128M}
  restart_policy: {condition: on-failure, max_attempts: 2}`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var app spec.Instance
	for _, inst := range f.Stack.Instances {
		if inst.Name == "app" {
			app = inst
		}
	}
	o := app.Overrides
	if o.Hostname != "web-1" || !o.ReadOnly || o.Ulimits["nofile"] != (spec.Ulimit{Soft: 1024, Hard: 2048}) || o.Ulimits["nproc"] != (spec.Ulimit{Soft: 512, Hard: 512}) {
		t.Errorf("options: %+v", o.Options)
	}
	if o.Sysctls["net.core.somaxconn"] != "511" || o.ExtraHosts[0] != "db.local=10.0.0.5" || o.StopGracePeriod.String() != "1m30s" {
		t.Errorf("options: %+v", o.Options)
	}
	if o.Deploy == nil || o.Deploy.Resources.Limits.Memory != 128<<20 || o.Deploy.Resources.Limits.CPUs != 0.5 || o.Restart != "on-failure:2" {
		t.Errorf("deploy: %+v, restart %q", o.Deploy, o.Restart)
	}
}

func TestInstanceOptionErrors(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"unknown key", "hostnam: x", `line 9: unknown field "hostnam" in an instance; the fields are template, enabled, image,`},
		{"wrong type", "read_only: maybe", "instances.app"},
		{"bad value", "dns: [not-an-ip]", `instances.app.dns: "not-an-ip" is not an IP address`},
		{"compose conflict", "mem_limit: 1g\ndeploy: {resources: {limits: {memory: 2g}}}", "can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory'"},
		{"swarm only", "deploy: {replicas: 2}", "instances.app.deploy.replicas: replicas 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(stackWithApp(tt.body)), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
