package catalog

import "github.com/devarch/devarch-controller/spec"

// Warning is something in a template file that the controller reads but
// does not honour (or honours differently from compose). Loading succeeds.
type Warning struct {
	// File is the template file, as given to LoadFile.
	File string `json:"file"`
	// Key is the compose path the warning is about, such as
	// "services.php.build"; empty when it concerns the whole file.
	Key string `json:"key,omitempty"`
	// Message is a full sentence saying what happens and what to do.
	Message string `json:"message"`
	// Ignored says that the key's value is not applied (the warning is
	// not only advice).
	Ignored bool `json:"ignored,omitempty"`
}

func (w Warning) String() string {
	if w.Key == "" {
		return w.File + ": " + w.Message
	}
	return w.File + ": " + w.Key + ": " + w.Message
}

// Result is one loaded template and the warnings raised while loading it.
type Result struct {
	Template spec.Template
	Warnings []Warning
	// Keys are the service keys the file sets, sorted.
	Keys []string
}

// FileResult is the outcome for one file found by LoadPaths. Err is set when
// the file could not be loaded; Result is then empty.
type FileResult struct {
	Path string
	Result
	Err error
}
