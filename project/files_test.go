package project_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

const filesSecret = "files-secret-value"

func filesStack(secret string) spec.Stack {
	tmpl := &spec.Template{ID: 1, Name: "app", Category: "test", Spec: spec.ServiceSpec{
		Image:   "app:1",
		Env:     []spec.EnvVar{{Key: "GREETING", Value: "hi", File: ".env"}},
		Secrets: []spec.FileMount{{Name: "db_password", Target: "/run/secrets/db_password", Content: secret, Mode: 0o400, UID: "1000", GID: "1000"}},
		Configs: []spec.FileMount{{Name: "app_conf", Target: "/app_conf", Content: "a=1\n"}},
		Volumes: []spec.Volume{
			{Type: spec.VolumeTypeVolume, Source: "data", Target: "/data"},
			{Type: spec.VolumeTypeVolume, Source: "shared", Target: "/shared"},
			{Type: spec.VolumeTypeVolume, Source: "plain", Target: "/plain"},
		},
		VolumeDefs: []spec.VolumeDef{
			{Key: "data", Driver: "local", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}, Labels: map[string]string{"tier": "cache"}},
			{Key: "shared", Name: "proxy-data", External: true},
		},
	}}
	inst := spec.Instance{ID: 5, Name: "api", Enabled: true, Template: tmpl, Effective: spec.Merge(&tmpl.Spec, spec.Overrides{})}
	return spec.Stack{ID: 3, Name: "shop", Enabled: true, Instances: []spec.Instance{inst}}
}

// TestBuildFiles: secrets and configs are compose secrets and configs
// backed by the materialized files, with their targets, modes and owners;
// volumes carry their declarations; the record holds no secret.
func TestBuildFiles(t *testing.T) {
	o := project.Options{StateDir: "/state", WorkspaceDir: "/ws", Keys: testRing(1)}
	p, err := project.Build(filesStack(filesSecret), o)
	if err != nil {
		t.Fatal(err)
	}
	svc := p.Services["api"]
	if len(svc.Secrets) != 1 || svc.Secrets[0].Source != "api.db_password" || svc.Secrets[0].Target != "/run/secrets/db_password" ||
		svc.Secrets[0].UID != "1000" || svc.Secrets[0].GID != "1000" || *svc.Secrets[0].Mode != 0o400 {
		t.Errorf("service secrets = %+v", svc.Secrets)
	}
	if got := p.Secrets["api.db_password"].File; got != "/state/stacks/shop/api.secrets/db_password" {
		t.Errorf("secret file = %q", got)
	}
	if len(svc.Configs) != 1 || svc.Configs[0].Target != "/app_conf" || *svc.Configs[0].Mode != 0o444 || p.Configs["api.app_conf"].File != "/state/stacks/shop/api.configs/app_conf" {
		t.Errorf("configs = %+v %+v", svc.Configs, p.Configs)
	}
	data, shared, plain := p.Volumes["data"], p.Volumes["shared"], p.Volumes["plain"]
	if data.Name != "devarch-shop_data" || data.Driver != "local" || data.DriverOpts["type"] != "tmpfs" || data.Labels["tier"] != "cache" || data.Labels[spec.LabelStackID] != "3" {
		t.Errorf("data volume = %+v", data)
	}
	if shared.Name != "proxy-data" || !bool(shared.External) || len(shared.Labels) != 0 {
		t.Errorf("external volume = %+v", shared)
	}
	if plain.Name != "devarch-shop_plain" || plain.Driver != "" {
		t.Errorf("plain volume = %+v", plain)
	}
	label := svc.Labels[spec.LabelSpec]
	if strings.Contains(label, filesSecret) {
		t.Fatalf("the record holds the secret: %s", label)
	}
	r, ok := project.DecodeRecord(label)
	if !ok || r.Secrets["db_password"].Digest == "" || r.Secrets["db_password"].Mode != 0o400 || r.Configs["app_conf"].Target != "/app_conf" {
		t.Errorf("record = %+v", r)
	}
	if b, _ := json.Marshal(p.Project); strings.Contains(string(b), filesSecret) {
		t.Errorf("the compose project holds the secret")
	}

	// Another secret changes the record and compose's hash; the same
	// secret does not.
	p2, err := project.Build(filesStack("another-secret"), o)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := project.ServiceHash(svc)
	h2, _ := project.ServiceHash(p2.Services["api"])
	p3, _ := project.Build(filesStack(filesSecret), o)
	h3, _ := project.ServiceHash(p3.Services["api"])
	if h1 == h2 || h1 != h3 {
		t.Errorf("hashes: %s %s %s; want a new hash for a new secret only", h1, h2, h3)
	}
}
