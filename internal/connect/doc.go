// Package connect turns the connection settings of Kafka, Redis and
// Elasticsearch (addresses, TLS files, SASL/ACL users, passwords, API keys)
// into each client library's options: Kafka.Opts for franz-go,
// Redis.Apply for go-redis, Elasticsearch.Config for go-elasticsearch,
// SchemaRegistry.Opts for franz-go's sr.
// It owns the one set of flags and environment variables for them
// (Register) that every command of cmd/streamview uses, the Secret type that
// keeps passwords out of logs, errors and --help, and Explain, which turns a
// failed TLS handshake or login into a message naming the server and the
// setting to fix. ExplainProtocol and Elasticsearch.CheckPlainURLs probe a
// server once, with a bounded handshake, for TLS where the settings say
// plaintext or the reverse, so that a wrong port or scheme is a setting to
// fix rather than a server that looks down.
//
// Apart from those probes it does not dial anything itself; it does not
// retry, or decide what a command does with an unreachable server;
// cmd/streamview and bench do.
package connect
