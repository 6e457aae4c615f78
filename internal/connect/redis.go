package connect

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Redis is how to reach and log in to a Redis server. The zero value of
// everything but Addr is a plaintext connection as the default user.
type Redis struct {
	Addr string
	// Username is the ACL user; empty is the default user (and a password
	// alone is the legacy requirepass).
	Username string
	Password Secret
	TLS      TLS
}

// Validate reports every setting that cannot work, naming its variable.
func (r Redis) Validate() error {
	var errs []error
	if r.Addr == "" {
		errs = append(errs, errors.New("REDIS_ADDR: name the Redis address (host:port)"))
	}
	if r.Username != "" && r.Password.IsZero() {
		errs = append(errs, errors.New("REDIS_USERNAME is set without REDIS_PASSWORD (or REDIS_PASSWORD_FILE)"))
	}
	if err := r.TLS.validate("REDIS_TLS"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Apply sets the address, the ACL user and TLS on o, leaving its timeouts
// and pool settings alone.
func (r Redis) Apply(o *redis.Options) error {
	if err := r.Validate(); err != nil {
		return err
	}
	tc, err := r.TLS.Config("REDIS_TLS")
	if err != nil {
		return err
	}
	o.Addr, o.Username, o.Password, o.TLSConfig = r.Addr, r.Username, r.Password.Reveal(), tc
	return nil
}

// Options returns go-redis options for the server with the library's
// defaults otherwise.
func (r Redis) Options() (*redis.Options, error) {
	o := &redis.Options{}
	if err := r.Apply(o); err != nil {
		return nil, err
	}
	return o, nil
}

// Secured reports whether the connection uses TLS or a login.
func (r Redis) Secured() bool { return r.TLS.On() || r.Username != "" || !r.Password.IsZero() }

// Describe is the connection in a few words, for banners and logs.
func (r Redis) Describe() string {
	s := r.Addr
	switch {
	case r.TLS.On() && r.Username != "":
		s += fmt.Sprintf(" (TLS, ACL user %s)", r.Username)
	case r.TLS.On():
		s += " (TLS)"
	case r.Username != "":
		s += fmt.Sprintf(" (ACL user %s)", r.Username)
	}
	return s
}
