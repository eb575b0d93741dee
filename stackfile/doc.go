// Package stackfile reads devarch's stack export format, version 1 (the
// devarch.yml a devarch installation exports), into a stack definition: a
// spec.Stack whose instances name their catalog template and carry their
// overrides.
//
// Parsing is strict: an unknown key is an error naming the key and its line,
// and every problem in the file is reported at once. ${SECRET:NAME}
// references in environment values are resolved through a SecretLookup and
// the resulting variables are marked secret; secret values never appear in
// errors or warnings. Parts of the format the controller stores but does not
// apply yet (wires, domains, env files, extra networks) are kept in the
// result and each produces a warning, so nothing is dropped silently.
//
// Export writes a stored stack back in the same format, so that parsing
// and importing the file gives the same desired state; secrets are
// ${SECRET:NAME} references, never values, and what the format cannot
// express fails the export with every field named.
//
// The package owns the file format only. It must not touch the database or
// Docker, and it does not look templates up: whether the named templates
// exist in the catalog is checked by whoever stores the stack.
package stackfile
