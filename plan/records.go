package plan

import (
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// stackRecords gives one plan of a stack the stack's Scrubber and the
// records of its instances, each made on first use: a plan whose records
// are all cached (an unchanged stack, planned again) and that has nothing
// to scrub builds neither.
type stackRecords struct {
	d   Desired
	sc  *spec.Scrubber
	enc *project.RecordEncoder
}

// scrubber returns the stack's Scrubber (spec.Stack.Scrubber).
func (r *stackRecords) scrubber() spec.Scrubber {
	if r.sc == nil {
		sc := r.d.Stack.Scrubber()
		r.sc = &sc
	}
	return *r.sc
}

// encode returns the devarch.spec label of an instance of the stack:
// project.NewRecordScrubbed(...).Encode(), encoded straight from its
// effective spec (project.RecordEncoder); had when it is that label.
func (r *stackRecords) encode(inst *spec.Instance, had string) string {
	if r.enc == nil {
		r.enc = project.NewRecordEncoder(r.d.Stack, r.d.Paths, r.scrubber())
	}
	return r.enc.EncodeReusing(inst, had)
}
