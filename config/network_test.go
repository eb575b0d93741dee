package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSubnetPoolFromEveryForm(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		want string
		bits int
	}{
		{name: "default", want: "", bits: 24},
		{name: "section", file: "network:\n  subnet_pool: 10.128.0.0/9\n", want: "10.128.0.0/9", bits: 24},
		{name: "section with prefix", file: "network: {subnet_pool: 10.199.0.0/16, subnet_prefix: 26}\n", want: "10.199.0.0/16", bits: 26},
		{name: "flat file key", file: "network_subnet_pool: 10.199.0.0/16\n", want: "10.199.0.0/16", bits: 24},
		{name: "environment over file", file: "network:\n  subnet_pool: 10.128.0.0/9\n",
			env: []string{"DEVARCH_NETWORK_SUBNET_POOL", "10.199.0.0/16", "DEVARCH_NETWORK_SUBNET_PREFIX", "25"}, want: "10.199.0.0/16", bits: 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{LookupEnv: env(baseEnv(tc.env...))}
			if tc.file != "" {
				o.File = writeConfig(t, tc.file)
			}
			cfg, err := Load(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			p := cfg.SubnetPool()
			if tc.want == "" {
				if p.Enabled() {
					t.Errorf("pool %s, want none", p)
				}
				return
			}
			if p.Prefix.String() != tc.want || p.Bits != tc.bits {
				t.Errorf("pool %s /%d, want %s /%d", p.Prefix, p.Bits, tc.want, tc.bits)
			}
		})
	}
}

func TestNetworkSectionProblems(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"unknown setting", "network:\n  subnet: 10.0.0.0/8\n", `Unknown key "subnet" in the network section`},
		{"not a mapping", "network: 10.0.0.0/8\n", "must be a mapping"},
		{"set both ways", "network_subnet_pool: 10.1.0.0/16\nnetwork:\n  subnet_pool: 10.2.0.0/16\n", "network.subnet_pool is set twice"},
		{"prefix not a number", "network:\n  subnet_prefix: big\n", "network.subnet_prefix in config file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Options{File: writeConfig(t, tc.file), LookupEnv: env(baseEnv())})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if got := strings.Join(problemsOf(t, err), "\n"); !strings.Contains(got, tc.want) {
				t.Errorf("problems %q lack %q", got, tc.want)
			}
		})
	}
}

func TestValidateSubnetPool(t *testing.T) {
	for _, tc := range []struct {
		pool string
		bits int
		want string
	}{
		{"10.128.0.0", 24, "is not an IPv4 network in CIDR notation; write it like 10.128.0.0/9."},
		{"10.128.0.0/24", 24, "network.subnet_prefix 24 must be longer than the pool's /24"},
		{"fd00::/16", 64, "only IPv4 pools are supported"},
	} {
		c := valid()
		c.NetworkSubnetPool, c.NetworkSubnetPrefix = tc.pool, tc.bits
		err := c.Validate()
		if err == nil {
			t.Errorf("%s /%d: valid", tc.pool, tc.bits)
			continue
		}
		if got := strings.Join(problemsOf(t, err), "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("%s /%d: %q lacks %q", tc.pool, tc.bits, got, tc.want)
		}
	}
}
