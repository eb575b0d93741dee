package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

var (
	testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	// testKey is a fixed installation key, so that tokens and digests in
	// golden files are stable.
	testKey   = keyring.Key{ID: 1, Secret: []byte("devarch-controller-test-key-0001")}
	testPaths = project.Options{StateDir: "/var/lib/devarch", WorkspaceDir: "/var/lib/devarch/workspace", Keys: keyring.Ring{Current: testKey}}
)

// tok is the token of s in the test installation.
func tok(s spec.Stack) string { return Token(Desired{Stack: s, Paths: testPaths}) }

// hexSHA256 is the hex SHA-256 of s (fake image and container ids).
func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

const testNetworkID = "net0000000000000000000000000000000000000000000000000000000000001"

func pgTemplate() *spec.Template {
	return &spec.Template{ID: 11, Name: "postgres", Category: "database", Spec: spec.ServiceSpec{
		Image: "postgres:18.2",
		Env: []spec.EnvVar{
			{Key: "POSTGRES_USER", Value: "postgres"},
			{Key: "POSTGRES_PASSWORD", Value: "devarch", Secret: true},
			{Key: "POSTGRES_DB", Value: "devarch"},
		},
		Ports:       []spec.Port{{HostIP: "127.0.0.1", HostPort: 8502, ContainerPort: 5432, Protocol: "tcp"}},
		Volumes:     []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "postgres_data", Target: "/var/lib/postgresql/data"}},
		Healthcheck: &spec.Healthcheck{Test: []string{"CMD-SHELL", "pg_isready -U postgres"}, Interval: spec.Duration(10 * time.Second), Retries: 5},
		Restart:     "unless-stopped",
	}}
}

func webTemplate() *spec.Template {
	return &spec.Template{ID: 12, Name: "traefik", Category: "gateway", Spec: spec.ServiceSpec{
		Image:       "traefik:v3.2",
		Command:     []string{"--api.dashboard=true"},
		Labels:      []spec.Label{{Key: "tier", Value: "edge"}},
		ConfigFiles: []spec.ConfigFile{{Path: "traefik.yml", Target: "/etc/traefik/traefik.yml", Content: "entryPoints: {}\n"}},
	}}
}

func instance(id int64, name string, t *spec.Template, o spec.Overrides) spec.Instance {
	var base *spec.ServiceSpec
	if t != nil {
		base = &t.Spec
	}
	return spec.Instance{ID: id, Name: name, Enabled: true, Template: t, Overrides: o, Effective: spec.Merge(base, o)}
}

// shopStack is a two-instance stack: a postgres with user overrides and a
// traefik with a config file.
func shopStack() spec.Stack {
	return spec.Stack{ID: 3, Name: "shop", Enabled: true, Instances: []spec.Instance{
		instance(31, "db", pgTemplate(), spec.Overrides{ServiceSpec: spec.ServiceSpec{
			Env:   []spec.EnvVar{{Key: "POSTGRES_DB", Value: "shop"}},
			Ports: []spec.Port{{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"}},
		}}),
		instance(32, "edge", webTemplate(), spec.Overrides{}),
	}}
}

// remerge recomputes effective specs after a test edits templates or
// overrides.
func remerge(s spec.Stack) spec.Stack {
	for i, inst := range s.Instances {
		var base *spec.ServiceSpec
		if inst.Template != nil {
			base = &inst.Template.Spec
		}
		s.Instances[i].Effective = spec.Merge(base, inst.Overrides)
	}
	return s
}

// converged returns the containers compose would have created for the
// stack: running, healthy, on the stack network, with compose's config
// hash and the devarch labels.
func converged(s spec.Stack) []spec.Container { return convergedWith(s, testPaths) }

// convergedWith is converged in the installation paths.
func convergedWith(s spec.Stack, paths project.Options) []spec.Container {
	p, err := project.Build(s, paths)
	if err != nil {
		panic(err)
	}
	var out []spec.Container
	for _, inst := range s.Instances {
		svc, ok := p.Services[inst.Name]
		if !ok {
			continue
		}
		hash, err := project.ServiceHash(svc)
		if err != nil {
			panic(err)
		}
		labels := maps.Clone(map[string]string(svc.Labels))
		maps.Copy(labels, svc.CustomLabels)
		labels[api.ConfigHashLabel] = hash
		labels[api.ImageDigestLabel] = imageID(svc.Image)
		out = append(out, spec.Container{
			ID: containerID(inst.ID), Name: "/" + svc.ContainerName,
			StackID: s.ID, StackName: s.Name, InstanceID: inst.ID, InstanceName: inst.Name,
			Project: p.Name, Service: inst.Name, ConfigHash: hash, Image: svc.Image, ImageID: imageID(svc.Image),
			Labels: labels, Networks: map[string]string{s.Network(): testNetworkID},
			State: spec.StateRunning, Created: testNow.Add(-time.Hour), Published: slices.Clone(inst.Effective.Ports.Value),
		})
	}
	return out
}

func imageIDs(s spec.Stack) map[string]string {
	ids := map[string]string{}
	for _, inst := range s.Instances {
		ids[inst.Effective.Image.Value] = imageID(inst.Effective.Image.Value)
	}
	return ids
}

func imageID(ref string) string {
	return "sha256:" + hexSHA256(ref)
}

func containerID(instanceID int64) string {
	return hexSHA256(string(rune('a' + instanceID)))
}

func observedFor(s spec.Stack) Observed {
	return Observed{Containers: converged(s), ImageIDs: imageIDs(s), NetworkID: testNetworkID}
}

func mustCompute(s spec.Stack, o Observed) *Plan {
	p, err := Compute(Desired{Stack: s, Paths: testPaths}, o, testNow)
	if err != nil {
		panic(err)
	}
	return p
}
