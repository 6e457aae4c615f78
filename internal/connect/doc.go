// Package connect turns the connection settings of Kafka, Redis and
// Elasticsearch (addresses, TLS files, SASL/ACL users, passwords, API keys)
// into each client library's options: Kafka.Opts for franz-go,
// Redis.Apply for go-redis, Elasticsearch.Config for go-elasticsearch,
// SchemaRegistry.Opts for franz-go's sr.
// It owns the one set of flags and environment variables for them
// (Register) that every command of cmd/streamview uses, the Secret type that
// keeps passwords out of logs, errors and --help, and Explain, which turns a
// failed TLS handshake or login into a message naming the server and the
// setting to fix.
//
// It does not dial anything itself, retry, or decide what a command does
// with an unreachable server; cmd/streamview and bench do.
package connect
