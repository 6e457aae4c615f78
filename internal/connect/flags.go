package connect

import (
	"flag"
	"strconv"
	"strings"
)

// The flags below take their defaults from the environment variable of the
// same name (--kafka-tls-ca-file from KAFKA_TLS_CA_FILE, …); a flag given
// wins. Secrets have no value flag, only a file flag: a command line is
// visible to every user of the machine. Their variables (KAFKA_SASL_PASSWORD,
// REDIS_PASSWORD, ELASTICSEARCH_PASSWORD, ELASTICSEARCH_API_KEY) are read
// only by Load, after parsing, so that --help never shows them.

// KafkaFlags are Kafka's TLS and SASL flags.
type KafkaFlags struct {
	getenv       func(string) string
	k            Kafka
	passwordFile string
}

// RegisterKafka adds Kafka's TLS and SASL flags to fs, their defaults from
// getenv.
func RegisterKafka(fs *flag.FlagSet, getenv func(string) string) *KafkaFlags {
	f := &KafkaFlags{getenv: getenv}
	fs.StringVar(&f.k.Mechanism, "kafka-sasl-mechanism", getenv("KAFKA_SASL_MECHANISM"), "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty is no SASL (env KAFKA_SASL_MECHANISM)")
	fs.StringVar(&f.k.Username, "kafka-sasl-username", getenv("KAFKA_SASL_USERNAME"), "Kafka SASL user (env KAFKA_SASL_USERNAME)")
	fs.StringVar(&f.passwordFile, "kafka-sasl-password-file", getenv("KAFKA_SASL_PASSWORD_FILE"), "file holding the Kafka SASL password (env KAFKA_SASL_PASSWORD_FILE; or the password itself in env KAFKA_SASL_PASSWORD)")
	registerTLS(fs, getenv, &f.k.TLS, "kafka", "KAFKA", "Kafka")
	return f
}

// Load returns the settings for brokers, reading the password.
func (f *KafkaFlags) Load(brokers []string) (Kafka, error) {
	k := f.k
	k.Brokers = brokers
	var err error
	if k.Password, err = (secretSource{"KAFKA_SASL_PASSWORD", f.passwordFile}).load(f.getenv); err != nil {
		return Kafka{}, err
	}
	return k, k.Validate()
}

// RedisFlags are Redis's ACL and TLS flags.
type RedisFlags struct {
	getenv       func(string) string
	r            Redis
	passwordFile string
}

// RegisterRedis adds Redis's ACL and TLS flags to fs.
func RegisterRedis(fs *flag.FlagSet, getenv func(string) string) *RedisFlags {
	f := &RedisFlags{getenv: getenv}
	cluster, _ := strconv.ParseBool(getenv("REDIS_CLUSTER"))
	fs.BoolVar(&f.r.Cluster, "redis-cluster", cluster, "the Redis address is a Redis Cluster: a comma-separated list of one or more of its nodes (host:port,...); views and every other key are hash-tagged so that each script and multi-key command stays in one slot (env REDIS_CLUSTER=true)")
	fs.StringVar(&f.r.Username, "redis-username", getenv("REDIS_USERNAME"), "Redis ACL user; empty is the default user (env REDIS_USERNAME)")
	fs.StringVar(&f.passwordFile, "redis-password-file", getenv("REDIS_PASSWORD_FILE"), "file holding the Redis password (env REDIS_PASSWORD_FILE; or the password itself in env REDIS_PASSWORD)")
	registerTLS(fs, getenv, &f.r.TLS, "redis", "REDIS", "Redis")
	return f
}

// Load returns the settings for addr, reading the password.
func (f *RedisFlags) Load(addr string) (Redis, error) {
	r := f.r
	r.Addr = addr
	var err error
	if r.Password, err = (secretSource{"REDIS_PASSWORD", f.passwordFile}).load(f.getenv); err != nil {
		return Redis{}, err
	}
	return r, r.Validate()
}

// ElasticsearchFlags are Elasticsearch's authentication and TLS flags.
type ElasticsearchFlags struct {
	getenv                   func(string) string
	c                        Elasticsearch
	passwordFile, apiKeyFile string
}

// RegisterElasticsearch adds Elasticsearch's authentication and TLS flags
// to fs.
func RegisterElasticsearch(fs *flag.FlagSet, getenv func(string) string) *ElasticsearchFlags {
	f := &ElasticsearchFlags{getenv: getenv}
	fs.StringVar(&f.c.Username, "elasticsearch-username", getenv("ELASTICSEARCH_USERNAME"), "Elasticsearch basic-auth user (env ELASTICSEARCH_USERNAME)")
	fs.StringVar(&f.passwordFile, "elasticsearch-password-file", getenv("ELASTICSEARCH_PASSWORD_FILE"), "file holding the Elasticsearch password (env ELASTICSEARCH_PASSWORD_FILE; or the password itself in env ELASTICSEARCH_PASSWORD)")
	fs.StringVar(&f.apiKeyFile, "elasticsearch-api-key-file", getenv("ELASTICSEARCH_API_KEY_FILE"), "file holding an Elasticsearch API key, the base64 \"encoded\" form, instead of a user (env ELASTICSEARCH_API_KEY_FILE; or the key itself in env ELASTICSEARCH_API_KEY)")
	fs.StringVar(&f.c.CAFile, "elasticsearch-ca-file", getenv("ELASTICSEARCH_CA_FILE"), "PEM file of the CA that signs Elasticsearch's certificate; empty trusts the system's CAs (env ELASTICSEARCH_CA_FILE)")
	fs.StringVar(&f.c.CAFingerprint, "elasticsearch-ca-fingerprint", getenv("ELASTICSEARCH_CA_FINGERPRINT"), "hex SHA-256 of a certificate of Elasticsearch's chain, instead of a CA file (env ELASTICSEARCH_CA_FINGERPRINT)")
	return f
}

// Load returns the settings for the comma-separated urls, reading the
// password or API key.
func (f *ElasticsearchFlags) Load(urls string) (Elasticsearch, error) {
	c := f.c
	for _, u := range strings.Split(urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.URLs = append(c.URLs, u)
		}
	}
	var err error
	if c.Password, err = (secretSource{"ELASTICSEARCH_PASSWORD", f.passwordFile}).load(f.getenv); err != nil {
		return Elasticsearch{}, err
	}
	if c.APIKey, err = (secretSource{"ELASTICSEARCH_API_KEY", f.apiKeyFile}).load(f.getenv); err != nil {
		return Elasticsearch{}, err
	}
	return c, c.Validate()
}

func registerTLS(fs *flag.FlagSet, getenv func(string) string, t *TLS, flagPrefix, envPrefix, server string) {
	on, _ := strconv.ParseBool(getenv(envPrefix + "_TLS"))
	fs.BoolVar(&t.Enabled, flagPrefix+"-tls", on, "connect to "+server+" over TLS, trusting the system's CAs unless a CA file is given; any "+flagPrefix+"-tls-* flag implies it (env "+envPrefix+"_TLS=true)")
	fs.StringVar(&t.CAFile, flagPrefix+"-tls-ca-file", getenv(envPrefix+"_TLS_CA_FILE"), "PEM file of the CA that signs "+server+"'s certificate (env "+envPrefix+"_TLS_CA_FILE)")
	fs.StringVar(&t.CertFile, flagPrefix+"-tls-cert-file", getenv(envPrefix+"_TLS_CERT_FILE"), "PEM client certificate, for a "+server+" that requires one (env "+envPrefix+"_TLS_CERT_FILE)")
	fs.StringVar(&t.KeyFile, flagPrefix+"-tls-key-file", getenv(envPrefix+"_TLS_KEY_FILE"), "PEM key of the client certificate (env "+envPrefix+"_TLS_KEY_FILE)")
	fs.StringVar(&t.ServerName, flagPrefix+"-tls-server-name", getenv(envPrefix+"_TLS_SERVER_NAME"), "name "+server+"'s certificate must carry, when not the host dialled (env "+envPrefix+"_TLS_SERVER_NAME)")
}
