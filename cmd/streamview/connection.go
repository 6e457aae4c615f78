package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/connect"
)

// This file wires internal/connect into the commands: the address flag of
// each server with its security flags (registered together, once per
// command), and the clients built from them. Every command that talks to
// Kafka, Redis or Elasticsearch goes through kafkaFlags, redisFlags and
// esFlags, so a TLS or login setting works the same everywhere.

// connectionHelp is the environment of the security settings, for
// `streamview help`. No value is printed, only names.
const connectionHelp = `
Secured servers (flags of the same name win; see README "Run it securely"):
  KAFKA_SASL_MECHANISM      PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
  KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE
  KAFKA_TLS=true, KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE,
  KAFKA_TLS_SERVER_NAME
  REDIS_USERNAME, REDIS_PASSWORD or REDIS_PASSWORD_FILE
  REDIS_TLS=true, REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE,
  REDIS_TLS_SERVER_NAME
  ELASTICSEARCH_USERNAME, ELASTICSEARCH_PASSWORD or ELASTICSEARCH_PASSWORD_FILE
  ELASTICSEARCH_API_KEY or ELASTICSEARCH_API_KEY_FILE (instead of a user)
  ELASTICSEARCH_CA_FILE or ELASTICSEARCH_CA_FINGERPRINT
  SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD or SCHEMA_REGISTRY_PASSWORD_FILE,
  SCHEMA_REGISTRY_CA_FILE
  Secrets come from these variables or files only, never from a flag, and
  are never printed. ELASTICSEARCH_URL must not carry credentials.
`

// newKafkaClient connects with conn and checks that a broker answers, so
// that a wrong address fails fast with advice and a refused certificate or
// login says which setting to fix.
func newKafkaClient(ctx context.Context, conn connect.Kafka, opts ...kgo.Opt) (*kgo.Client, error) {
	base, err := conn.Opts()
	if err != nil {
		return nil, err
	}
	var dials connect.DialErrors
	cl, err := kgo.NewClient(append(append(base, kgo.WithHooks(&dials)), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %s: %w", conn.Describe(), err)
	}
	if err := pingKafka(ctx, cl, conn, &dials); err != nil {
		cl.Close()
		if connect.IsConfig(err) {
			return nil, err
		}
		return nil, fmt.Errorf("kafka at %s does not answer: %w (start one with `make services-up`, or pass --brokers)", conn.Describe(), err)
	}
	return cl, nil
}

// pingKafka pings the cluster for up to 10s; a failure is explained by the
// last failed dial when there was one (franz-go retries a dial until the
// deadline, and the deadline alone says nothing).
func pingKafka(ctx context.Context, cl *kgo.Client, conn connect.Kafka, dials *connect.DialErrors) error {
	return pingKafkaWithin(ctx, cl, conn, dials, 10*time.Second)
}

// pingKafkaWithin is pingKafka bounded by d. A failure that is no setting
// by its message is probed: a plaintext client at a port that speaks TLS
// is one (probeTimeout more).
func pingKafkaWithin(ctx context.Context, cl *kgo.Client, conn connect.Kafka, dials *connect.DialErrors, d time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := cl.Ping(pctx)
	if err == nil {
		return nil
	}
	addr := strings.Join(conn.Brokers, ",")
	// The request's own error first: a broker that answered in TLS
	// ("plaintext connection speaking to a tls endpoint") dialled fine.
	if e := connect.Explain(connect.KafkaServer, addr, conn.Username, err); connect.IsConfig(e) {
		return e
	}
	if last := dials.Last(); last != nil {
		err = last
	}
	err = connect.Explain(connect.KafkaServer, addr, conn.Username, err)
	prctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return connect.ExplainProtocol(prctx, connect.KafkaServer, conn.Brokers, conn.TLS.On(), err)
}

// probeTimeout bounds the probe of a failed connection for the other
// protocol (TLS or plaintext): a positive answer comes at once, and a
// server that does not answer at all is only waited for.
const probeTimeout = 2 * time.Second

// redisFlags are the Redis address and security flags.
type redisFlags struct {
	addr string
	sec  *connect.RedisFlags
}

// register adds --redis (default REDIS_ADDR, else def) and the Redis
// security flags; what says what the command keeps in Redis.
func (r *redisFlags) register(fs *flag.FlagSet, e env, def, what string) {
	usage := "Redis address host:port, or with --redis-cluster one or more nodes of the cluster, comma-separated (env REDIS_ADDR)"
	if what != "" {
		usage += ": " + what
	}
	fs.StringVar(&r.addr, "redis", e.or("REDIS_ADDR", def), usage)
	r.sec = connect.RegisterRedis(fs, e.getenv)
}

// settings are the flags' connection settings for --redis.
func (r *redisFlags) settings() (connect.Redis, error) { return r.sec.Load(r.addr) }

// newRedisConn is a client with the view store's timeouts
// (redisOptions) and conn's address, ACL user and TLS: a cluster client
// when conn names a Redis Cluster (--redis-cluster), else one server's.
//
// Its pool dials once per attempt of a command (redisDialAttempts). The
// command is still tried again, with go-redis's backoff, on a new
// connection (MaxRetries, 3): a connection lost under it, a server
// loading its data. With go-redis's default of 5 dials 100 ms apart
// within each of those 4 attempts, a refused connection failed a command
// after 1.7 s, and a projector's first start, a few commands, took serve's
// whole bound of 5 s; it fails in about 0.1 s now. A server that stays
// down is its callers' to wait for: the projectors and the notifier back
// off and start again, the API answers 503.
func newRedisConn(conn connect.Redis) (redis.UniversalClient, error) {
	o := redisOptions()
	o.DialerRetries = redisDialAttempts
	return conn.Client(o)
}

// newEmbeddedRedisConn is newRedisConn for dev's embedded Redis
// (miniredis, in this process), with embeddedRedisTimeout to read and
// write.
func newEmbeddedRedisConn(conn connect.Redis) (redis.UniversalClient, error) {
	o := redisOptions()
	o.DialerRetries = redisDialAttempts
	o.ReadTimeout, o.WriteTimeout = embeddedRedisTimeout, embeddedRedisTimeout
	return conn.Client(o)
}

// embeddedRedisTimeout bounds a read or write to dev's embedded Redis. A
// server in this process cannot be cut off as a remote one can, but it runs
// every command under one lock, and it goes on with a pipeline whose client
// gave up, so that a retry after a time-out adds its pipeline to those
// still running: with serve's 3 s, a rebuild of dev's views on a busy
// machine (six history lanes of 1,000 HSETNX each, while miniredis's
// ClockTTL aged every key at every command: see startEmbeddedRedis) timed
// out again and again, and one start took 13 minutes instead of 15 s.
// Callers' contexts still bound each command.
const embeddedRedisTimeout = 2 * time.Minute

// redisDialAttempts is how many times the pool dials for one attempt of a
// command (go-redis's DialerRetries; its default is 5).
const redisDialAttempts = 1

// pingRedis pings within 5s, explaining a refused certificate or login, a
// TLS or plaintext client at a port that speaks the other (probed for
// probeTimeout more) and a Redis Cluster met with the wrong client: a
// cluster client at one server fails its first command, and one server's
// client at a cluster node answers PING, so INFO cluster is asked too.
//
// Over TLS 1.3 a server checks the client's certificate after the
// handshake has ended on the client's side, so a refused certificate
// shows either as the server's alert ("certificate required") or, when
// the server closed first, as a reset or an end of file on the first
// command. Those are tried again a few times, on new connections, until
// the alert is read: a reset alone cannot tell a refused certificate from
// a server going down.
func pingRedis(ctx context.Context, rc redis.UniversalClient, conn connect.Redis) error {
	return pingRedisWithin(ctx, rc, conn, 5*time.Second)
}

// pingRedisWithin is pingRedis with the ping bounded by d.
func pingRedisWithin(ctx context.Context, rc redis.UniversalClient, conn connect.Redis, d time.Duration) error {
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := pingRedisOnce(pctx, rc, conn)
	switch {
	case err == nil && conn.Cluster:
		return nil
	case err == nil:
		info, err := rc.Info(pctx, "cluster").Result()
		if err != nil {
			return nil // a proxy, or a user not allowed INFO: nothing to tell
		}
		return conn.CheckNode(info)
	case connect.IsConfig(err):
		return err
	}
	prctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return connect.ExplainProtocol(prctx, connect.RedisServer, conn.Addrs(), conn.TLS.On(), err)
}

// pingRedisOnce pings until pctx ends, trying again past the resets of a
// refused client certificate (see pingRedis).
func pingRedisOnce(pctx context.Context, rc redis.UniversalClient, conn connect.Redis) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = connect.Explain(connect.RedisServer, conn.Addr, conn.Username, rc.Ping(pctx).Err())
		if err == nil || connect.IsConfig(err) || !conn.TLS.On() || !closedEarly(err) {
			return err
		}
		select {
		case <-pctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	return err
}

// closedEarly reports whether err is a connection the server closed under
// the client: a reset, a broken pipe or an end of file.
func closedEarly(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// esFlags are the Elasticsearch URL and security flags.
type esFlags struct {
	url string
	sec *connect.ElasticsearchFlags
}

// register adds the URL flag (name, default ELASTICSEARCH_URL else def)
// and the Elasticsearch security flags. A URL with credentials in the
// environment is shown redacted: it is refused anyway.
func (f *esFlags) register(fs *flag.FlagSet, e env, name, def, usage string) {
	fs.StringVar(&f.url, name, connect.RedactURLs(e.or("ELASTICSEARCH_URL", def)), usage)
	f.sec = connect.RegisterElasticsearch(fs, e.getenv)
}

// settings are the flags' connection settings for the URL flag.
func (f *esFlags) settings() (connect.Elasticsearch, error) { return f.sec.Load(f.url) }

// newElasticsearch returns a client for conn with esTransport's bounds.
func newElasticsearch(conn connect.Elasticsearch) (*elasticsearch.Client, error) {
	cfg, err := conn.Config(esTransport())
	if err != nil {
		return nil, err
	}
	client, err := elasticsearch.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client for %s: %w", conn.Describe(), err)
	}
	return client, nil
}

// esHealth asks for the cluster's health once: nil when it answers 200,
// an explained error for a refused certificate or credentials.
func esHealth(ctx context.Context, client *elasticsearch.Client, conn connect.Elasticsearch) error {
	res, err := client.Cluster.Health(client.Cluster.Health.WithContext(ctx))
	addr := strings.Join(conn.URLs, ",")
	if err != nil {
		return connect.Explain(connect.ElasticsearchServer, addr, conn.Username, err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return &connect.Error{Server: "elasticsearch", Addr: addr, What: "the credentials were refused",
			Fix: "check ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD (or _FILE), or ELASTICSEARCH_API_KEY (or _FILE): the base64 \"encoded\" key",
			Err: fmt.Errorf("cluster health: %s", res.Status())}
	}
	return fmt.Errorf("cluster health: %s", res.Status())
}

// preflight checks each server of st once, before anything starts: a
// setting to fix (a refused certificate or login, TLS against a plaintext
// port or the reverse, a Redis Cluster met with one server's client or the
// reverse) ends the command with a message naming the server and the
// setting; a server that is down only logs, since the roles wait for it
// (see serveStack). A plaintext server without a login is given a shorter
// bound (unsecuredCheck), so that one that is down delays the API little;
// a plaintext Elasticsearch has only its port probed for TLS.
func preflight(ctx context.Context, st stack, conn connections) error {
	// The three at once: the start waits for the slowest, not the sum.
	var wg sync.WaitGroup
	var kafkaErr, redisErr, esErr error
	if conn.kafka != nil {
		wg.Go(func() {
			var dials connect.DialErrors
			cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...), kgo.WithHooks(&dials))...)
			if err != nil {
				kafkaErr = err
				return
			}
			defer cl.Close()
			err = pingKafkaWithin(ctx, cl, *conn.kafka, &dials, checkBound(conn.kafka.Secured(), 10*time.Second))
			if err != nil && !connect.IsConfig(err) {
				st.logger.Warn("kafka does not answer yet", "brokers", strings.Join(st.brokers, ","), "err", err)
				return
			}
			kafkaErr = err
		})
	}
	if conn.redis != nil {
		wg.Go(func() {
			err := pingRedisWithin(ctx, st.redis, *conn.redis, checkBound(conn.redis.Secured(), 5*time.Second))
			if err != nil && !connect.IsConfig(err) {
				st.logger.Warn("redis does not answer yet", "addr", conn.redis.Addr, "err", err)
				return
			}
			redisErr = err
		})
	}
	if conn.es != nil {
		wg.Go(func() {
			// Before the health check, which sends the credentials.
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			err := conn.es.CheckPlainURLs(pctx)
			cancel()
			if err != nil || !conn.es.Secured() || st.searchReady == nil {
				esErr = err
				return
			}
			pctx, cancel = context.WithTimeout(ctx, 10*time.Second)
			err = st.searchReady(pctx)
			cancel()
			if err != nil && !connect.IsConfig(err) {
				st.logger.Warn("elasticsearch does not answer yet", "url", strings.Join(conn.es.URLs, ","), "err", err)
				return
			}
			esErr = err
		})
	}
	wg.Wait()
	for _, err := range []error{kafkaErr, redisErr, esErr} {
		if err != nil {
			return err
		}
	}
	return nil
}

// unsecuredCheck bounds preflight's check of a plaintext server without a
// login: enough for one that is up to answer, and its refusals come at
// once.
const unsecuredCheck = 3 * time.Second

func checkBound(secured bool, d time.Duration) time.Duration {
	if secured {
		return d
	}
	return unsecuredCheck
}

// connections are the real servers a stack was given (nil: embedded or
// not used), for preflight.
type connections struct {
	kafka *connect.Kafka
	redis *connect.Redis
	es    *connect.Elasticsearch
}

// kafkaOpts are the options of a client of st's cluster: seed brokers,
// TLS and SASL, then extra.
func (st stack) kafkaOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...)
	return append(opts, extra...)
}
