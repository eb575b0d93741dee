// Package spec is the domain model every other package shares: catalog
// templates, stacks, instances, the effective spec of an instance with the
// provenance of every field, and the observed state of a labeled container.
//
// It owns the merge rules (template + instance overrides = effective spec),
// validation of user-supplied values, secret detection and redaction, and the
// naming and labelling conventions that tie containers to their stack and
// instance.
//
// It must not do I/O: no database, no Docker, no files. State loads rows and
// calls Merge; plan and deploy consume the results.
package spec
