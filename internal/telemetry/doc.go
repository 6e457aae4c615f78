// Package telemetry is streamview's one home of metrics and traces: a
// Prometheus registry (client_golang) with every streamview_* metric,
// franz-go's kprom and kotel hooks for the Kafka clients, kslog for their
// logs, and the OpenTelemetry tracer provider configured from the standard
// OTEL_* environment.
//
// The parts it watches do not know it: the projection runtime and the
// decider expose Hooks (processors.Hooks, decider.Hooks), the command bus a
// Decided callback, the API a Gatherer and a TracerProvider; this package
// fills them in and cmd/streamview wires them. It owns no business logic
// and no store: it only counts, times and traces.
package telemetry
