package main

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
)

func TestImageRef(t *testing.T) {
	tests := []struct {
		image    string
		build    bool
		want     string
		wantSkip string
	}{
		{"mariadb", false, "mariadb:latest", ""},
		{"postgres:18.2", false, "postgres:18.2", ""},
		{"docker.io/library/node:22-alpine", false, "node:22-alpine", ""},
		{"docker.io/euantorano/zig:0.13", false, "euantorano/zig:0.13", ""},
		{"mcr.microsoft.com/dotnet/sdk:9.0", false, "mcr.microsoft.com/dotnet/sdk:9.0", ""},
		{"localhost:5000/app", false, "localhost:5000/app:latest", ""},
		{" redis:7 ", false, "redis:7", ""},
		{"", true, "", "builds its image"},
		{"", false, "", "names no image"},
		{"app:${TAG:-1}", false, "", "interpolation"},
		{"Upper/Case", false, "", "not a valid reference"},
		{"busybox@sha256:" + strings.Repeat("0", 64), false, "", "digest"},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			got, skip := service{name: "s", image: strings.TrimSpace(tt.image), build: tt.build}.imageRef()
			if got != tt.want {
				t.Errorf("ref = %q, want %q", got, tt.want)
			}
			if (tt.wantSkip == "") != (skip == "") || !strings.Contains(skip, tt.wantSkip) {
				t.Errorf("skip = %q, want one containing %q", skip, tt.wantSkip)
			}
		})
	}
}

func TestHealthcheckPaths(t *testing.T) {
	tests := []struct {
		name      string
		test      any
		want      []string
		wantSkips int
	}{
		{"absent", nil, nil, 0},
		{"NONE", []any{"NONE"}, nil, 0},
		{"CMD", []any{"CMD", "php-fpm", "-t"}, []string{"/usr/bin/php-fpm"}, 0},
		{"CMD absolute", []any{"CMD", "/opt/x/bin/check"}, []string{"/opt/x/bin/check"}, 0},
		{"CMD-SHELL", []any{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}, []string{"/bin/sh", "/usr/bin/curl"}, 0},
		{"CMD-SHELL env first", []any{"CMD-SHELL", "PGPASSWORD=x pg_isready -h 127.0.0.1"}, []string{"/bin/sh", "/usr/bin/pg_isready"}, 0},
		{"CMD-SHELL builtin", []any{"CMD-SHELL", "exit 0"}, []string{"/bin/sh"}, 0},
		{"CMD-SHELL absolute", []any{"CMD-SHELL", "/opt/mssql-tools18/bin/sqlcmd -Q 'SELECT 1'"}, []string{"/bin/sh", "/opt/mssql-tools18/bin/sqlcmd"}, 0},
		{"string form", "wget -q http://localhost/", []string{"/bin/sh", "/usr/bin/wget"}, 0},
		{"relative", []any{"CMD", "./health.sh"}, nil, 1},
		{"dot dot", []any{"CMD", "/usr/../sleeper"}, nil, 1},
		{"replaces sleeper", []any{"CMD", "/sleeper"}, nil, 1},
		{"shell syntax", []any{"CMD-SHELL", "$(which curl) -f x"}, []string{"/bin/sh"}, 1},
		{"CMD without program", []any{"CMD"}, nil, 1},
		{"unknown kind", []any{"RUN", "x"}, nil, 1},
		{"empty list", []any{}, nil, 1},
		{"wrong type", 42, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skips := service{name: "s", healthcheck: tt.test}.healthcheckPaths()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("paths = %q, want %q", got, tt.want)
			}
			if len(skips) != tt.wantSkips {
				t.Errorf("skips = %q, want %d of them", skips, tt.wantSkips)
			}
		})
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		mode       string
		want       string
		wantStderr []string
	}{
		{"images", "node:22-alpine\npostgres:15\nprometheuscommunity/postgres-exporter:latest\nredis:7\n",
			[]string{"service php: it builds its image", "service pinned: image"}},
		{"links", "/bin/sh\n/opt/exporter/bin/check\n/usr/bin/pg_isready\n/usr/bin/php-fpm\n/usr/bin/redis-cli\n/usr/bin/wget\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run([]string{tt.mode, "testdata/corpus"}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit code = %d, stderr: %s", code, &stderr)
			}
			if stdout.String() != tt.want {
				t.Errorf("stdout =\n%s\nwant\n%s", &stdout, tt.want)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q does not contain %q", &stderr, w)
				}
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := [][]string{nil, {"images"}, {"tags", "testdata/corpus"}, {"images", t.TempDir()}}
	for _, args := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 {
			t.Errorf("run(%q) = 0, want a failure", args)
		}
		if stderr.Len() == 0 || stdout.Len() != 0 {
			t.Errorf("run(%q): stdout %q stderr %q, want only an explanation on stderr", args, &stdout, &stderr)
		}
	}
}

// TestRealCorpus checks the shared corpus: every template must come out as
// a taggable image, and every CMD-form healthcheck program as a link.
func TestRealCorpus(t *testing.T) {
	dir := testenv.Corpus(t, "devarch-services")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*", "compose.yml"))
	if len(files) == 0 {
		t.Fatalf("no */*/compose.yml under %s", dir)
	}
	images, links := 0, map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		services, err := parseCompose(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range services {
			if ref, _ := s.imageRef(); ref != "" {
				images++
			} else if !s.build {
				t.Errorf("%s service %s: no taggable image", f, s.name)
			}
			paths, skips := s.healthcheckPaths()
			if len(skips) > 0 {
				t.Errorf("%s service %s: %q", f, s.name, skips)
			}
			for _, p := range paths {
				links[p] = true
			}
		}
	}
	if images < len(files)-5 {
		t.Errorf("only %d images from %d compose files", images, len(files))
	}
	for _, want := range []string{"/bin/sh", "/usr/bin/php-fpm", "/usr/bin/redis-cli", "/usr/bin/curl", "/usr/bin/wget"} {
		if !links[want] {
			t.Errorf("corpus links lack %s", want)
		}
	}
}

func FuzzParseCompose(f *testing.F) {
	for _, seed := range []string{
		"services:\n  a:\n    image: x\n    healthcheck:\n      test: [\"CMD\", \"curl\"]\n",
		"services:\n  a:\n    image: ${X}\n    healthcheck:\n      test: \"FOO=1 pg_isready\"\n",
		"services: {a: {build: ., healthcheck: {test: [CMD-SHELL, '/opt/a/b -x']}}}",
		"services:\n  a:\n    healthcheck:\n      test: [NONE]\n",
		"{}", "services: 3", "- a\n- b",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		services, err := parseCompose(data)
		if err != nil {
			return
		}
		for _, s := range services {
			if ref, skip := s.imageRef(); (ref == "") == (skip == "") {
				t.Errorf("imageRef(%q) = %q, %q: want exactly one", s.image, ref, skip)
			}
			paths, _ := s.healthcheckPaths()
			for _, p := range paths {
				if !path.IsAbs(p) || path.Clean(p) != p || p == "/sleeper" || !safeCommand.MatchString(p) {
					t.Errorf("unsafe link path %q", p)
				}
			}
		}
	})
}

// A healthcheck command that names a directory ("." or a path that is not
// clean) is skipped: linking it to the sleeper would replace the directory.
func TestLinkPathRefusesDirectories(t *testing.T) {
	for word, want := range map[string]string{
		"curl": "/usr/bin/curl", "/usr/bin/curl": "/usr/bin/curl",
		".": "", "/usr/bin/.": "", "/bin//sh": "", "/usr/bin/": "", "/": "",
	} {
		p, skip := linkPath(word)
		if p != want || (want == "") == (skip == "") {
			t.Errorf("linkPath(%q) = %q, %q; want %q", word, p, skip, want)
		}
	}
}
