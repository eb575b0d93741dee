package stackfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzExportRoundTrip: every stack file that parses either exports to a
// stack file that parses back to the same stack (but for the provenance
// Export documents it drops), holding none of the secret values, or the
// export fails with an *ExportError; it never panics.
func FuzzExportRoundTrip(f *testing.F) {
	for _, path := range []string{filepath.Join("testdata", "export", "stack.yml"), filepath.Join("..", "examples", "stacks", "demo.yaml")} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(stackWithApp("command: sh -c 'echo $$HOME ${X}'\nenvironment: {A: ${SECRET:PW}, B: 'x ${SECRET:TOKEN} y', C: '$1'}\nlabels: {l: '$x'}")))
	f.Add([]byte(stackWithApp("hostname: $h\nulimits: {nofile: 3}\ndeploy: {restart_policy: {condition: on-failure, max_attempts: 2}}\nnetworks: {default: , n: {aliases: [$a]}}") +
		"networks:\n  n: {labels: {k: $$v}}\nvariables: {PW: ${SECRET:PW}, V: $v}\n"))
	f.Add([]byte(stackWithApp("secrets: [s]\nconfigs: [{source: c, target: /c, mode: 0600}]") + "secrets:\n  s: {environment: TOKEN}\nconfigs:\n  c: {content: '$$x'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		orig, err := Parse(data, testSecrets)
		if err != nil {
			return
		}
		e, err := Export(orig.Stack)
		if err != nil {
			if _, ok := err.(*ExportError); !ok {
				t.Fatalf("Export failed without an *ExportError: %v", err)
			}
			return
		}
		for _, v := range []string{"pw-value", "token-value"} {
			if strings.Contains(string(e.Data), v) {
				t.Fatalf("the export holds the secret %q:\n%s", v, e.Data)
			}
		}
		back, err := Parse(e.Data, e.Lookup())
		if err != nil {
			t.Fatalf("the export does not parse: %v\n%s", err, e.Data)
		}
		if got, want := normalizeForRoundTrip(back.Stack), normalizeForRoundTrip(orig.Stack); !reflect.DeepEqual(got, want) {
			t.Fatalf("the export reads back otherwise:\ngot  %s\nwant %s\nexport:\n%s", mustJSON(got), mustJSON(want), e.Data)
		}
	})
}
