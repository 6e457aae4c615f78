// Package testenv tells integration tests where the real servers are.
//
// `make test` starts a real Kafka broker, Redis and Elasticsearch and exports
// KAFKA_BROKERS, REDIS_ADDR and ELASTICSEARCH_URL. A test that needs one calls
// the matching function: it skips when the variable is unset or with
// `go test -short` (the fast tier), and fails when the variable is set but the
// server does not answer, because then the environment is broken, not absent.
//
// It also owns what every package's integration tests share: topics of their
// own on the real broker (Topic, TopicNamed, Admin), unique names (Name), an
// in-process kfake cluster for the fast tier (KafkaOrFake) and waiting for a
// condition instead of sleeping (Eventually).
package testenv
