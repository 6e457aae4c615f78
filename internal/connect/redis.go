package connect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis is how to reach and log in to a Redis server or a Redis Cluster.
// The zero value of everything but Addr is a plaintext connection as the
// default user to one server.
type Redis struct {
	// Addr is the server's host:port; with Cluster, the comma-separated
	// host:port of one or more of the cluster's nodes (the seeds the client
	// learns the others from).
	Addr string
	// Cluster makes the client a Redis Cluster client (REDIS_CLUSTER). The
	// ACL user and TLS settings apply to every node.
	Cluster bool
	// Username is the ACL user; empty is the default user (and a password
	// alone is the legacy requirepass).
	Username string
	Password Secret
	TLS      TLS
}

// Validate reports every setting that cannot work, naming its variable.
func (r Redis) Validate() error {
	var errs []error
	switch addrs := r.Addrs(); {
	case len(addrs) == 0 && r.Cluster:
		errs = append(errs, errors.New("REDIS_ADDR: name one or more nodes of the Redis Cluster (host:port,host:port,...)"))
	case len(addrs) == 0:
		errs = append(errs, errors.New("REDIS_ADDR: name the Redis address (host:port)"))
	case len(addrs) > 1 && !r.Cluster:
		errs = append(errs, fmt.Errorf("REDIS_ADDR lists %d addresses (%s): for a Redis Cluster set REDIS_CLUSTER=true (--redis-cluster); otherwise name one server", len(addrs), r.Addr))
	}
	if r.Username != "" && r.Password.IsZero() {
		errs = append(errs, errors.New("REDIS_USERNAME is set without REDIS_PASSWORD (or REDIS_PASSWORD_FILE)"))
	}
	if err := r.TLS.validate("REDIS_TLS"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Addrs is Addr split at commas, blanks dropped.
func (r Redis) Addrs() []string {
	var out []string
	for _, a := range strings.Split(r.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Apply sets the address, the ACL user and TLS on o, leaving its timeouts
// and pool settings alone. It is for one server: a cluster's settings
// refuse it (use Client).
func (r Redis) Apply(o *redis.Options) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Cluster {
		return errors.New("REDIS_CLUSTER is set: a Redis Cluster needs a cluster client (connect.Redis.Client), not one server's options")
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

// Client returns a client for the settings: a *redis.ClusterClient on the
// Addr seeds when Cluster is set, else a *redis.Client on Addr. base gives
// the timeouts, retries and pool settings (its address and credentials are
// replaced); nil takes the library's defaults. The client is the caller's
// to close.
func (r Redis) Client(base *redis.Options) (redis.UniversalClient, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	o := &redis.Options{}
	if base != nil {
		c := *base
		o = &c
	}
	if !r.Cluster {
		if err := r.Apply(o); err != nil {
			return nil, err
		}
		return redis.NewClient(o), nil
	}
	tc, err := r.TLS.Config("REDIS_TLS")
	if err != nil {
		return nil, err
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:    r.Addrs(),
		Username: r.Username, Password: r.Password.Reveal(), TLSConfig: tc,
		Protocol:   o.Protocol,
		ClientName: o.ClientName,
		MaxRetries: o.MaxRetries, MinRetryBackoff: o.MinRetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		DialerRetries: o.DialerRetries, DialerRetryTimeout: o.DialerRetryTimeout, DialerRetryBackoff: o.DialerRetryBackoff,
		ContextTimeoutEnabled: o.ContextTimeoutEnabled,
		PoolFIFO:              o.PoolFIFO, PoolSize: o.PoolSize, PoolTimeout: o.PoolTimeout,
		MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns, MaxActiveConns: o.MaxActiveConns,
		ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
	}), nil
}

// Secured reports whether the connection uses TLS or a login.
func (r Redis) Secured() bool { return r.TLS.On() || r.Username != "" || !r.Password.IsZero() }

// Describe is the connection in a few words, for banners and logs.
func (r Redis) Describe() string {
	s := r.Addr
	if r.Cluster {
		s = "Redis Cluster " + s
	}
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

// CheckNode reports, as an *Error, a server whose INFO cluster section
// (info) says it is a node of a Redis Cluster while r names one server: it
// answers PING, and MOVED or CROSSSLOT to most commands on keys, forever.
// A cluster's settings, and an info that says nothing of it (a proxy, a
// user not allowed INFO), pass.
func (r Redis) CheckNode(info string) error {
	if r.Cluster {
		return nil
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.TrimSpace(line) == "cluster_enabled:1" {
			return &Error{Server: RedisServer.Name, Addr: r.Addr, What: "it is a node of a Redis Cluster",
				Fix: "pass --redis-cluster (REDIS_CLUSTER=true), with one or more of its nodes in REDIS_ADDR",
				Err: errors.New("INFO cluster says cluster_enabled:1")}
		}
	}
	return nil
}
