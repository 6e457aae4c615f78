// Package outage holds the outage tests of `streamview serve`: the whole
// service, run as its own process, under a steady command load through the
// HTTP API while its Kafka broker, Redis or Elasticsearch is stopped,
// restarted or blackholed, with exact counts at the end (every accepted
// command decided once, every view and search document equal to a fold of
// the events log).
//
// The tests stop servers, so they start servers of their own through
// scripts/services (Kafka on 19192/19193, Redis on 16379, Elasticsearch on
// 19200/19300, data under .services/outage), never the shared ones, and
// stop them at the end. They run in the integration tier (`make test`) and
// skip under -short. The package has no code besides its tests.
package outage
