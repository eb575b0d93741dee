package deploy

import (
	"strings"
	"testing"
)

func TestExpandCopyFrom(t *testing.T) {
	df := "ARG BASE=8\nFROM php:${BASE}\nARG COMPOSER_VERSION=latest\nARG BASE\n" +
		"COPY --from=composer:${COMPOSER_VERSION} /usr/bin/composer /usr/bin/composer\n" +
		"COPY --chown=1:1 --from=img:$BASE /a \\\n  /b\n" +
		"COPY --from=x:${UNKNOWN} /c /c\nCOPY --from=y:${UNSET:-2} /d /d\n# COPY --from=z:${BASE}\nRUN echo ${COMPOSER_VERSION}\n"
	got := expandCopyFrom(df, nil)
	for _, want := range []string{
		"FROM php:${BASE}\n", // FROM is the builder's business: it expands it itself
		"COPY --from=composer:latest /usr/bin/composer /usr/bin/composer\n",
		"COPY --chown=1:1 --from=img:8 /a \\\n  /b\n",
		"COPY --from=x:${UNKNOWN} /c /c\n",
		"COPY --from=y:2 /d /d\n",
		"# COPY --from=z:${BASE}\n",
		"RUN echo ${COMPOSER_VERSION}\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("expanded Dockerfile lacks %q:\n%s", want, got)
		}
	}
	if got := expandCopyFrom(df, map[string]string{"COMPOSER_VERSION": "2.7"}); !strings.Contains(got, "--from=composer:2.7 ") {
		t.Errorf("a build arg does not override the ARG default:\n%s", got)
	}
	if plain := "FROM a\nCOPY b c\n"; expandCopyFrom(plain, nil) != plain {
		t.Error("a Dockerfile without --from changed")
	}
}

func FuzzExpandCopyFrom(f *testing.F) {
	f.Add("ARG V=1\nFROM a\nARG V\nCOPY --from=b:${V} /x /y\n", "V", "2")
	f.Add("FROM a\nCOPY --from=$A${B:-c} \\\n /x /y\n", "A", "")
	f.Fuzz(func(t *testing.T, df, name, value string) {
		got := expandCopyFrom(df, map[string]string{name: value})
		if strings.Count(got, "\n") != strings.Count(df, "\n") {
			t.Fatalf("line count changed: %q → %q", df, got)
		}
		if !strings.Contains(strings.ToLower(df), "--from=") && got != df {
			t.Fatalf("changed a Dockerfile without --from: %q → %q", df, got)
		}
	})
}
