package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/schemas"
)

// newCodec returns the Avro codec. With a schema registry it registers
// every current schema (an unchanged one keeps its ID) and writes Confluent
// framing; without one it writes single-object encoding. It reads both
// either way, so a topic can move from one to the other.
func newCodec(ctx context.Context, reg connect.SchemaRegistry) (*schemas.Codec, error) {
	return registryCodec(ctx, reg, true)
}

// newDecoder returns the codec of a command that only reads events (dlq
// show and redrive, replay, rebuild, projections): with a schema registry
// it looks writers' schemas up by ID and registers nothing, so a dry run
// writes nothing to the registry and read-only registry credentials do. It
// checks at start that the registry answers and takes the credentials.
func newDecoder(ctx context.Context, reg connect.SchemaRegistry) (*schemas.Codec, error) {
	return registryCodec(ctx, reg, false)
}

// registryCodec is newCodec, registering the schemas when register, else
// only listing the registry's subjects to check it answers.
func registryCodec(ctx context.Context, reg connect.SchemaRegistry, register bool) (*schemas.Codec, error) {
	if !reg.On() {
		return schemas.NewCodec()
	}
	opts, err := reg.Opts()
	if err != nil {
		return nil, err
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client for %s: %w", reg.Describe(), err)
	}
	codec, err := schemas.NewCodec(schemas.WithRegistry(cl))
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if register {
		err = codec.Register(rctx)
	} else {
		_, err = cl.Subjects(rctx)
	}
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden) {
			return nil, &connect.Error{Server: "schema registry", Addr: reg.URL, What: "the credentials were refused",
				Fix: "check SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD (or SCHEMA_REGISTRY_PASSWORD_FILE)", Err: err}
		}
		if err := connect.Explain(connect.SchemaRegistryServer, reg.URL, reg.Username, err); connect.IsConfig(err) {
			return nil, err
		}
		return nil, fmt.Errorf("schema registry at %s: %w", reg.URL, err)
	}
	return codec, nil
}
