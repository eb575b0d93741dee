package e2e

import (
	"time"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// Secret values of the fixtures. They live only in desired state: no page
// of the dashboard may ever show them.
const (
	secretTemplatePassword = "tmpl-pg-password-4711"
	secretAppKey           = "app-key-0815-do-not-show"
	secretLogToken         = "log-token-2342-do-not-show"
)

func ptr(s string) *string { return &s }

func instance(id int64, name string, tmpl *spec.Template, o spec.Overrides) spec.Instance {
	return spec.Instance{ID: id, Name: name, Enabled: true, Template: tmpl, Overrides: o, Effective: spec.Merge(&tmpl.Spec, o)}
}

func shopStack() spec.Stack {
	postgres := &spec.Template{ID: 1, Name: "postgres", Category: "database", Spec: spec.ServiceSpec{
		Image: "postgres:18.2",
		Env: []spec.EnvVar{
			{Key: "POSTGRES_DB", Value: "shop"},
			{Key: "POSTGRES_PASSWORD", Value: secretTemplatePassword},
			{Key: "POSTGRES_USER", Value: "shop"},
		},
		Ports:       []spec.Port{{HostIP: "127.0.0.1", HostPort: 5432, ContainerPort: 5432, Protocol: "tcp"}},
		Volumes:     []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "shop-pgdata", Target: "/var/lib/postgresql/data"}},
		Healthcheck: &spec.Healthcheck{Test: []string{"CMD-SHELL", "pg_isready -U shop"}, Interval: spec.Duration(10 * time.Second), Retries: 5},
		Restart:     "unless-stopped",
		Options:     spec.Options{ShmSize: 256 << 20, Ulimits: map[string]spec.Ulimit{"nofile": {Soft: 65536, Hard: 65536}}},
	}}
	traefik := &spec.Template{ID: 2, Name: "traefik", Category: "proxy", Spec: spec.ServiceSpec{
		Image:       "traefik:v3.2",
		Command:     []string{"--api.dashboard=true", "--providers.file.filename=/etc/traefik/traefik.yml"},
		Ports:       []spec.Port{{HostPort: 80, ContainerPort: 80, Protocol: "tcp"}, {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 8080, Protocol: "tcp"}},
		Labels:      []spec.Label{{Key: "tier", Value: "edge"}},
		ConfigFiles: []spec.ConfigFile{{Path: "traefik.yml", Target: "/etc/traefik/traefik.yml", Content: "entryPoints:\n  web:\n    address: \":80\"\n"}},
		Restart:     "unless-stopped",
	}}
	redis := &spec.Template{ID: 3, Name: "redis", Category: "cache", Spec: spec.ServiceSpec{
		Image: "redis:7.4", Command: []string{"redis-server", "--save", ""}, Ports: []spec.Port{{ContainerPort: 6379, Protocol: "tcp"}},
	}}
	return spec.Stack{ID: 3, Name: "shop", Enabled: true, Instances: []spec.Instance{
		instance(31, "db", postgres, spec.Overrides{ServiceSpec: spec.ServiceSpec{
			Image: "postgres:17",
			Env:   []spec.EnvVar{{Key: "APP_KEY", Value: secretAppKey, Secret: true}, {Key: "POSTGRES_DB", Value: "shop_production"}},
			Options: spec.Options{Hostname: "db-1", Logging: &spec.Logging{Driver: "json-file",
				Options: map[string]string{"max-size": "10m", "auth-token": secretLogToken}}},
		}}),
		instance(32, "edge", traefik, spec.Overrides{Domains: []spec.Domain{{Domain: "shop.localhost", ProxyPort: 80}}}),
		instance(33, "cache", redis, spec.Overrides{ServiceSpec: spec.ServiceSpec{Restart: "always"}}),
	}}
}

// shopDrift is the shop's plan: modify db, add edge, remove worker.
func shopDrift() []plan.Change {
	return []plan.Change{
		{Action: plan.ActionModify, Instance: "db", InstanceID: 31, Template: "postgres", Container: "devarch-shop-db", ContainerID: "ea0add9a514e",
			Recreate: true, Reason: "recreate: configuration changed", Fields: []plan.FieldChange{
				{Path: "image", Old: ptr("postgres:18.2"), New: ptr("postgres:17"), Source: spec.SourceUser, Reason: "the tag now names a different image"},
				{Path: "env.POSTGRES_DB", Old: ptr("shop"), New: ptr("shop_production"), Source: spec.SourceUser},
				{Path: "env.APP_KEY", New: ptr(spec.RedactedValue), Source: spec.SourceUser, Sensitive: true, Reason: "secret value set"},
				{Path: "env.POSTGRES_PASSWORD", Old: ptr(spec.RedactedValue), New: ptr(spec.RedactedValue), Source: spec.SourceTemplate, Sensitive: true, Reason: "secret value changed"},
				{Path: "labels.com.example.owner", Old: ptr("team-a"), Source: spec.SourceRuntime},
			}},
		{Action: plan.ActionAdd, Instance: "edge", InstanceID: 32, Template: "traefik", Container: "devarch-shop-edge",
			Reason: "no container exists; apply creates it", Fields: []plan.FieldChange{
				{Path: "image", New: ptr("traefik:v3.2"), Source: spec.SourceTemplate},
				{Path: "ports", New: ptr("80->80/tcp, 127.0.0.1:8080->8080/tcp"), Source: spec.SourceTemplate},
				{Path: "config_files.traefik.yml", New: ptr("/etc/traefik/traefik.yml mode 0644 content d1574de687b3"), Source: spec.SourceTemplate},
			}},
		{Action: plan.ActionRemove, Instance: "worker", InstanceID: 40, Container: "devarch-shop-worker", ContainerID: "cccccccccccc",
			Reason: "its instance no longer exists (deleted or never in this stack)", Fields: []plan.FieldChange{}},
	}
}

func billingStack() spec.Stack {
	node := &spec.Template{ID: 4, Name: "node", Category: "runtime", Spec: spec.ServiceSpec{
		Image: "node:22-alpine", Command: []string{"node", "server.js"}, WorkingDir: "/app",
		Ports: []spec.Port{{HostPort: 8080, ContainerPort: 8080, Protocol: "tcp"}},
	}}
	rabbit := &spec.Template{ID: 5, Name: "rabbitmq", Category: "queue", Spec: spec.ServiceSpec{
		Image: "rabbitmq:4-management", Env: []spec.EnvVar{{Key: "RABBITMQ_DEFAULT_PASS", Value: "guest-pass-9"}, {Key: "RABBITMQ_DEFAULT_USER", Value: "billing"}},
	}}
	return spec.Stack{ID: 4, Name: "billing", Enabled: true, Instances: []spec.Instance{
		instance(41, "api", node, spec.Overrides{ServiceSpec: spec.ServiceSpec{Env: []spec.EnvVar{{Key: "NODE_ENV", Value: "production"}}}}),
		instance(42, "queue", rabbit, spec.Overrides{}),
	}}
}

// billingDrift: the queue is stopped (start), the api has no container.
func billingDrift() []plan.Change {
	return []plan.Change{
		{Action: plan.ActionModify, Instance: "queue", InstanceID: 42, Template: "rabbitmq", Container: "devarch-billing-queue", ContainerID: "b0b0b0b0b0b0",
			Reason: "start: container is exited", Fields: []plan.FieldChange{{Path: "state", Old: ptr("exited"), New: ptr("running"), Source: spec.SourceRuntime}}},
		{Action: plan.ActionAdd, Instance: "api", InstanceID: 41, Template: "node", Container: "devarch-billing-api",
			Reason: "no container exists; apply creates it", Fields: []plan.FieldChange{
				{Path: "image", New: ptr("node:22-alpine"), Source: spec.SourceTemplate},
				{Path: "ports", New: ptr("8080->8080/tcp"), Source: spec.SourceTemplate},
			}},
	}
}

func simpleStack(id int64, name, tmplName, image string) spec.Stack {
	t := &spec.Template{ID: 100 + id, Name: tmplName, Spec: spec.ServiceSpec{Image: image}}
	return spec.Stack{ID: id, Name: name, Enabled: true, Instances: []spec.Instance{instance(id*10+1, tmplName, t, spec.Overrides{})}}
}

// oneAdd is a small drift used to flip a stack to Drifted.
func oneAdd(stack, inst string) []plan.Change {
	return []plan.Change{{Action: plan.ActionAdd, Instance: inst, Container: spec.ContainerName(stack, inst),
		Reason: "no container exists; apply creates it", Fields: []plan.FieldChange{}}}
}
