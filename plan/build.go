package plan

import "github.com/devarch/devarch-controller/spec"

// build records a change of the build digest ("~ build"): the build
// context's files, its Dockerfile or a build setting changed, so apply
// rebuilds the image and recreates the container. Digests are shown by
// their first hex digits (keyed: they give nothing away).
func (d *differ) build(had, want string) {
	if had == want {
		return
	}
	f := FieldChange{Path: "build", Source: d.inst.Effective.Build.Source}
	if d.inst.Effective.Build.Value == nil {
		f.Source = spec.SourceUser
		if d.inst.Template != nil && d.inst.Overrides.Build == nil {
			f.Source = spec.SourceTemplate
		}
	}
	if had != "" {
		f.Old = str(shortDigest(had))
	}
	if want != "" {
		f.New = str(shortDigest(want))
	}
	switch {
	case had != "" && want != "":
		f.Reason = "the build context or a build setting changed; apply rebuilds the image"
	case want != "":
		f.Reason = "apply builds the image"
	}
	d.fields = append(d.fields, f)
}

// imageSource is the source of the image field: the build's when the
// image is the tag the controller builds (the instance names none).
func imageSource(e spec.Effective) spec.Source {
	if e.Image.Value == "" && e.Build.Value != nil {
		return e.Build.Source
	}
	return e.Image.Source
}
