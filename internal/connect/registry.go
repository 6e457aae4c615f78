package connect

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// SchemaRegistry is how to reach a Confluent-compatible schema registry.
// The zero value (no URL) is no registry: events use Avro single-object
// encoding.
type SchemaRegistry struct {
	URL      string
	Username string // basic auth, with Password
	Password Secret
	// CAFile is a PEM file of the CAs that sign the registry's
	// certificate; empty trusts the system's CAs.
	CAFile string
}

// On reports whether a registry is configured.
func (r SchemaRegistry) On() bool { return r.URL != "" }

// Validate reports every setting that cannot work, naming its variable.
func (r SchemaRegistry) Validate() error {
	if !r.On() {
		if r.Username != "" || !r.Password.IsZero() || r.CAFile != "" {
			return errors.New("SCHEMA_REGISTRY_USERNAME/PASSWORD/CA_FILE are set but SCHEMA_REGISTRY_URL is not")
		}
		return nil
	}
	var errs []error
	if err := checkURL("SCHEMA_REGISTRY_URL", "set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD instead", r.URL); err != nil {
		errs = append(errs, err)
	}
	if (r.Username == "") != r.Password.IsZero() {
		errs = append(errs, errors.New("SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD (or SCHEMA_REGISTRY_PASSWORD_FILE) go together"))
	}
	return errors.Join(errs...)
}

// Opts returns the franz-go sr client options: the URL, basic auth, and
// an HTTP client with a timeout and the CA.
func (r SchemaRegistry) Opts() ([]sr.ClientOpt, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if r.CAFile != "" {
		tc, err := TLS{CAFile: r.CAFile}.Config("SCHEMA_REGISTRY")
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = tc
	}
	opts := []sr.ClientOpt{sr.URLs(r.URL), sr.HTTPClient(&http.Client{Transport: t, Timeout: 30 * time.Second})}
	if r.Username != "" {
		opts = append(opts, sr.BasicAuth(r.Username, r.Password.Reveal()))
	}
	return opts, nil
}

// Describe is the registry in a few words, for banners and logs.
func (r SchemaRegistry) Describe() string {
	if r.Username != "" {
		return fmt.Sprintf("%s (basic auth as %s)", r.URL, r.Username)
	}
	return r.URL
}

// SchemaRegistryFlags are the schema registry's flags.
type SchemaRegistryFlags struct {
	getenv       func(string) string
	r            SchemaRegistry
	passwordFile string
}

// RegisterSchemaRegistry adds --schema-registry and its login flags to
// fs, for a command that writes events (and registers their schemas).
func RegisterSchemaRegistry(fs *flag.FlagSet, getenv func(string) string) *SchemaRegistryFlags {
	return registerSchemaRegistry(fs, getenv, "Confluent-compatible schema registry URL, without credentials: events are written with Confluent framing and their schemas registered (RecordNameStrategy subjects); empty writes Avro single-object encoding. Both are read either way (env SCHEMA_REGISTRY_URL)")
}

// RegisterSchemaRegistryReader is RegisterSchemaRegistry for a command that
// only reads events: it looks schemas up by ID and registers nothing.
func RegisterSchemaRegistryReader(fs *flag.FlagSet, getenv func(string) string) *SchemaRegistryFlags {
	return registerSchemaRegistry(fs, getenv, "Confluent-compatible schema registry URL, without credentials, to read events written with Confluent framing: their schemas are looked up by ID, none is registered, so read-only credentials do; events in Avro single-object encoding are read without it (env SCHEMA_REGISTRY_URL)")
}

func registerSchemaRegistry(fs *flag.FlagSet, getenv func(string) string, usage string) *SchemaRegistryFlags {
	f := &SchemaRegistryFlags{getenv: getenv}
	fs.StringVar(&f.r.URL, "schema-registry", RedactURLs(getenv("SCHEMA_REGISTRY_URL")), usage)
	fs.StringVar(&f.r.Username, "schema-registry-username", getenv("SCHEMA_REGISTRY_USERNAME"), "schema registry basic-auth user (env SCHEMA_REGISTRY_USERNAME)")
	fs.StringVar(&f.passwordFile, "schema-registry-password-file", getenv("SCHEMA_REGISTRY_PASSWORD_FILE"), "file holding the schema registry password (env SCHEMA_REGISTRY_PASSWORD_FILE; or the password itself in env SCHEMA_REGISTRY_PASSWORD)")
	fs.StringVar(&f.r.CAFile, "schema-registry-ca-file", getenv("SCHEMA_REGISTRY_CA_FILE"), "PEM file of the CA that signs the schema registry's certificate (env SCHEMA_REGISTRY_CA_FILE)")
	return f
}

// Load returns the settings, reading the password.
func (f *SchemaRegistryFlags) Load() (SchemaRegistry, error) {
	r := f.r
	var err error
	if r.Password, err = (secretSource{"SCHEMA_REGISTRY_PASSWORD", f.passwordFile}).load(f.getenv); err != nil {
		return SchemaRegistry{}, err
	}
	return r, r.Validate()
}
