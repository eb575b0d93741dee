// Package catalog reads catalog templates: compose files in the devarch
// services format (one service per file, optional x-devarch-config entries
// naming files in the template's config/ folder) and turns each into a
// spec.Template, with warnings for every compose key the controller cannot
// honour yet.
//
// Files are parsed with the compose-go loader, never by hand. Compose
// variables are not interpolated: "$$" becomes "$" and every other "$"
// reference is kept literally, so the result never depends on the process
// environment or a .env file. Bind mount sources are kept exactly as written
// (relative paths stay relative).
//
// The package owns reading template files and their config files. It must
// not touch the database or Docker: storing templates is the job of state,
// running them the job of deploy.
package catalog
