// Package project turns a stack's effective desired state into the compose
// project that apply hands to the compose library, built in code from
// compose-go types (never YAML text), and computes compose's own
// configuration hash for each service.
//
// Plan and apply both build the project here, so the hash the plan compares
// with a container's com.docker.compose.config-hash label is exactly the
// one compose computes when it decides to recreate that container.
//
// Every service carries a devarch.spec label: a compact record of the
// effective spec it was created from, with secret env values and config
// file contents replaced by digests keyed with the installation key
// (Options.Keys). The plan reads it back from the container to explain,
// field by field, why a container will be recreated.
//
// Compose writes the same project as a compose file that the compose
// library loads back to services with the same config hashes, secret
// values replaced by ${VARIABLE} references unless asked for.
//
// Pure: no Docker, no database, no files.
package project
