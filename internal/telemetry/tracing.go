package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// TracingEnabled reports whether the standard OpenTelemetry environment
// asks for traces: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) with
// OTEL_TRACES_EXPORTER unset. OTEL_TRACES_EXPORTER=none, or
// OTEL_SDK_DISABLED=true, keeps them off. getenv is os.Getenv in
// production.
func TracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "otlp":
		return true
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default:
		return false
	}
}

// Tracing returns a tracer provider that exports spans over OTLP as the
// standard environment says (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS,
// _TIMEOUT, _PROTOCOL http/protobuf (the default) or grpc, and their
// _TRACES_ variants; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES;
// OTEL_TRACES_SAMPLER and its _ARG), and a shutdown that flushes it. With
// tracing off (TracingEnabled false) it returns nil and a no-op shutdown.
func Tracing(ctx context.Context, getenv func(string) string) (*sdktrace.TracerProvider, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if !TracingEnabled(getenv) {
		if exp := getenv("OTEL_TRACES_EXPORTER"); exp != "" && exp != "none" && exp != "otlp" {
			return nil, noop, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: streamview exports traces with otlp only (or none)", exp)
		}
		return nil, noop, nil
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var (
		exp *otlptrace.Exporter
		err error
	)
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, noop, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: want http/protobuf or grpc", protocol)
	}
	if err != nil {
		return nil, noop, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(serviceName(getenv))))
	if err != nil {
		return nil, noop, fmt.Errorf("telemetry: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// serviceName is OTEL_SERVICE_NAME, or streamview. (resource.Default reads
// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from the process
// environment; this keeps streamview's own name as the fallback.)
func serviceName(getenv func(string) string) string {
	if n := getenv("OTEL_SERVICE_NAME"); n != "" {
		return n
	}
	return "streamview"
}
