package project

import (
	"cmp"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/spec"
)

// encoderStrings are the texts random stacks are made of: randomStrings,
// names that make an env var secret, secret values, values that embed
// them (a DSN, a command line) and names that hold them (the stack's own
// names, which the Scrubber leaves alone).
var encoderStrings = append(slices.Clone(randomStrings),
	"DB_PASSWORD", "API_KEY", "s3cret-value", "postgres://app:s3cret-value@db/app", "--password=s3cret-value",
	"shop", "db", "devarch", "devarch-shop-net", "POSTGRES_DB", "logging.options.splunk-token", "/abs/context",
)

// randomEncoderStack returns a random stack of one to three instances for
// RecordEncoder's comparison with NewRecordScrubbed, and the options to
// encode it with. Every field a record is made of is random, texts drawn
// from pool; half of the instances have their keyed lists sorted as
// spec.Merge leaves them (RecordEncoder's fast path), the others as
// random (its fallback through a map, repeated keys included).
func randomEncoderStack(r *rand.Rand, pool []string) (spec.Stack, Options) {
	pick := func() string { return pool[r.IntN(len(pool))] }
	s := spec.Stack{ID: r.Int64N(1000), Name: pick(), Enabled: true}
	if r.IntN(3) == 0 {
		s.NetworkName = pick()
	}
	fillRandomFrom(r, reflect.ValueOf(&s.Variables).Elem(), pool)
	keyID := []int64{0, 1, 7, r.Int64()}[r.IntN(4)]
	o := Options{StateDir: pick(), WorkspaceDir: pick(), Keys: keyring.Ring{Current: keyring.Key{ID: keyID, Secret: []byte(pick() + "-0123456789abcdef0123456789abcdef")}}}
	for i := range 1 + r.IntN(3) {
		inst := spec.Instance{ID: r.Int64N(1 << 40), Name: pick(), Enabled: true}
		if r.IntN(3) > 0 {
			inst.Template = &spec.Template{ID: int64(i), Name: pick()}
		}
		e := &inst.Effective
		ev := reflect.ValueOf(e).Elem()
		for j := range ev.NumField() {
			if f := ev.Type().Field(j); f.IsExported() && f.Name != "Options" {
				fillRandomFrom(r, ev.Field(j), pool)
			}
		}
		e.Options.NetworkMode = []string{"", "", "host", "service:db"}[r.IntN(4)]
		if b := e.Build.Value; b != nil && r.IntN(2) == 0 {
			b.Context, b.Dockerfile, b.Labels = "/abs/context", "", nil
			if o.Builds == nil {
				o.Builds = map[int64]BuildContext{}
			}
			o.Builds[inst.ID] = []BuildContext{{Digest: "sha256:" + pick()}, {Err: pick()}}[r.IntN(2)]
		}
		if r.IntN(2) == 0 {
			sortByKey(e.Env, func(v spec.EnvVar) string { return v.Key })
			sortByKey(e.Labels, func(v spec.Label) string { return v.Key })
			sortByKey(e.OptionFields, func(v spec.OptionField) string { return v.Path })
			sortByKey(e.ConfigFiles, func(v spec.ConfigFile) string { return v.Path })
			sortByKey(e.Secrets, func(v spec.FileMount) string { return v.Name })
			sortByKey(e.Configs, func(v spec.FileMount) string { return v.Name })
		}
		s.Instances = append(s.Instances, inst)
	}
	return s, o
}

// sortByKey sorts xs by key, keeping the last of equal keys, as spec.Merge
// leaves keyed lists.
func sortByKey[T any](xs []T, key func(T) string) {
	slices.Reverse(xs)
	slices.SortStableFunc(xs, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	copy(xs, slices.CompactFunc(xs, func(a, b T) bool { return key(a) == key(b) }))
}

// encoderCoverage counts what the compared records held, so that the test
// can tell that each way of encoding was taken.
type encoderCoverage struct{ records, keyed, embedded, fallback int }

// checkRecordEncoder compares, for every instance of a random stack, the
// encoder's record with NewRecordScrubbed's, encoding the instances twice
// in a random order with one encoder (its digester and buffer reused).
func checkRecordEncoder(t *testing.T, seed uint64, pool []string, cov *encoderCoverage) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0xe4c0de))
	s, o := randomEncoderStack(r, pool)
	sc := s.Scrubber()
	enc := NewRecordEncoder(s, o, sc)
	order := append(r.Perm(len(s.Instances)), r.Perm(len(s.Instances))...)
	for _, i := range order {
		inst := s.Instances[i]
		want := NewRecordScrubbed(s, inst, o, sc).Encode()
		if got := enc.Encode(&s.Instances[i]); got != want {
			t.Fatalf("seed %d, instance %d: RecordEncoder differs from NewRecordScrubbed\n got %s\nwant %s", seed, i, got, want)
		}
		if got := enc.EncodeReusing(&s.Instances[i], want[:len(want)-1]+"x"); got != want {
			t.Fatalf("seed %d, instance %d: EncodeReusing of another label gives %s, want %s", seed, i, got, want)
		}
		if got := enc.EncodeReusing(&s.Instances[i], want); got != want {
			t.Fatalf("seed %d, instance %d: EncodeReusing of the record gives %s, want %s", seed, i, got, want)
		}
		if cov != nil {
			cov.records++
			if strings.Contains(want, `"key_id":`) {
				cov.keyed++
			}
			if hidesEmbedded(s, inst, o, sc) {
				cov.embedded++
			}
			e := inst.Effective
			if !strictlyIncreasing(e.Env, func(v spec.EnvVar) string { return v.Key }) ||
				!strictlyIncreasing(e.OptionFields, func(v spec.OptionField) string { return v.Path }) {
				cov.fallback++
			}
		}
	}
}

// hidesEmbedded reports whether the instance's record hides a value that
// embeds a secret (an embedded digest where the value was).
func hidesEmbedded(s spec.Stack, inst spec.Instance, o Options, sc spec.Scrubber) bool {
	plain := NewRecordScrubbed(s, inst, o, spec.Scrubber{})
	return !reflect.DeepEqual(plain, NewRecordScrubbed(s, inst, o, sc))
}

// TestRecordEncoderMatchesNewRecord: the devarch.spec label the encoder
// writes is byte for byte the one NewRecordScrubbed(...).Encode() writes,
// for random stacks that set every field a record is made of, with secret
// env values, option leaves, files and values that embed a secret, and
// keyed lists sorted (as spec.Merge leaves them) or not.
func TestRecordEncoderMatchesNewRecord(t *testing.T) {
	var cov encoderCoverage
	for seed := range uint64(5000) {
		checkRecordEncoder(t, seed, encoderStrings, &cov)
	}
	t.Logf("%+v", cov)
	if cov.keyed < cov.records/4 || cov.embedded < cov.records/20 || cov.fallback < cov.records/10 || cov.fallback > cov.records*9/10 {
		t.Errorf("the random stacks do not exercise every way of encoding: %+v", cov)
	}
}

func FuzzRecordEncoder(f *testing.F) {
	f.Add(uint64(0), "s3cret-value", "x s3cret-value y")
	f.Add(uint64(42), "devarch", "devarch-shop-net")
	f.Add(uint64(1<<40), "\xff\xfe", "<&>\u2028")
	f.Fuzz(func(t *testing.T, seed uint64, a, b string) {
		checkRecordEncoder(t, seed, append(slices.Clone(encoderStrings), a, b, a+b), nil)
	})
}
