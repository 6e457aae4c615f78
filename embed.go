// Package streamview holds the repository's own files that the binary
// embeds; the code lives in the sub-packages (see README.md).
package streamview

import _ "embed"

// TopicsYAML is topics.yaml, for `streamview dev`, which applies it to its
// embedded broker without needing the file beside it.
//
//go:embed topics.yaml
var TopicsYAML []byte
