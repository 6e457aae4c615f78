package connect

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Secret is a password or key. Every way of printing it (fmt's verbs,
// slog, JSON, text marshalling) shows "[redacted]"; only Reveal gives the
// value, for the client library that sends it.
type Secret struct{ v string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v} }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.v == "" }

const redacted = "[redacted]"

func (s Secret) String() string                { return s.redact() }
func (s Secret) GoString() string              { return s.redact() }
func (s Secret) LogValue() slog.Value          { return slog.StringValue(s.redact()) }
func (s Secret) MarshalText() ([]byte, error)  { return []byte(s.redact()), nil }
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.redact()) }
func (s Secret) redact() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// secretSource is where one secret comes from: an environment variable
// holding it, or a file (its path from a flag or the _FILE variable).
// Never a flag holding the value: command lines are visible to every user
// of the machine (ps, /proc).
type secretSource struct {
	env  string // e.g. KAFKA_SASL_PASSWORD; the file variable is env+"_FILE"
	file string // the file flag's value
}

// load reads the secret: the file when one is named, else the variable.
// Both at once is an error (which one would win is a guess).
func (src secretSource) load(getenv func(string) string) (Secret, error) {
	v := getenv(src.env)
	if src.file == "" {
		return Secret{v}, nil
	}
	if v != "" {
		return Secret{}, fmt.Errorf("both %s and a password file (%s_FILE or its flag) are set: keep one", src.env, src.env)
	}
	b, err := os.ReadFile(src.file)
	if err != nil {
		// The path is not secret; the error from os names it.
		return Secret{}, fmt.Errorf("%s_FILE: %w", src.env, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return Secret{}, fmt.Errorf("%s_FILE: %s is empty", src.env, src.file)
	}
	return Secret{s}, nil
}
