package connect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms Kafka accepts here.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// Kafka is how to reach and log in to a Kafka cluster. The zero value is
// a plaintext connection without SASL.
type Kafka struct {
	Brokers []string
	TLS     TLS
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty is no SASL.
	Mechanism string
	Username  string
	Password  Secret
}

// Validate reports every setting that cannot work, naming its variable.
func (k Kafka) Validate() error {
	var errs []error
	if len(k.Brokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS: name at least one seed broker"))
	}
	switch strings.ToUpper(k.Mechanism) {
	case "":
		if k.Username != "" || !k.Password.IsZero() {
			errs = append(errs, errors.New("KAFKA_SASL_USERNAME/PASSWORD are set but KAFKA_SASL_MECHANISM is not: set it to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"))
		}
	case Plain, ScramSHA256, ScramSHA512:
		if k.Username == "" || k.Password.IsZero() {
			errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM=%s needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)", strings.ToUpper(k.Mechanism)))
		}
	default:
		errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k.Mechanism))
	}
	if err := k.TLS.validate("KAFKA_TLS"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Opts returns the franz-go options that reach and log in to the cluster:
// the seed brokers, TLS and SASL.
func (k Kafka) Opts() ([]kgo.Opt, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...)}
	sec, err := k.SecurityOpts()
	if err != nil {
		return nil, err
	}
	return append(opts, sec...), nil
}

// SecurityOpts is Opts without the seed brokers, for code that adds them
// itself.
func (k Kafka) SecurityOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	tc, err := k.TLS.Config("KAFKA_TLS")
	if err != nil {
		return nil, err
	}
	if tc != nil {
		// franz-go sets ServerName to each broker's host when it is empty.
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := k.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (k Kafka) mechanism() sasl.Mechanism {
	user, pass := k.Username, k.Password.Reveal()
	switch strings.ToUpper(k.Mechanism) {
	case Plain:
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case ScramSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case ScramSHA512:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	}
	return nil
}

// Secured reports whether the connection uses TLS or SASL: whether a
// setting can be wrong in a way Explain recognises.
func (k Kafka) Secured() bool { return k.TLS.On() || k.Mechanism != "" }

// Describe is the connection in a few words, for banners and logs; it
// names the user, never the password.
func (k Kafka) Describe() string {
	s := strings.Join(k.Brokers, ",")
	var how []string
	if k.TLS.On() {
		how = append(how, "TLS")
	}
	if k.Mechanism != "" {
		how = append(how, fmt.Sprintf("SASL %s as %s", strings.ToUpper(k.Mechanism), k.Username))
	}
	if len(how) > 0 {
		s += " (" + strings.Join(how, ", ") + ")"
	}
	return s
}
