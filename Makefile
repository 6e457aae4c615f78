# streamview: `make run` for the all-in-one pipeline, `make test` for the
# whole test suite against real Kafka, Redis and Elasticsearch.
SHELL := /bin/bash
GO ?= go

export KAFKA_BROKERS ?= 127.0.0.1:9092
export REDIS_ADDR ?= 127.0.0.1:6379
export ELASTICSEARCH_URL ?= http://127.0.0.1:9200

.PHONY: browser all build run test test-short test-integration services-up services-down services-status topics bench vet

all: build

build:
	$(GO) build -o bin/streamview ./cmd/streamview

## run: the whole pipeline in one process on embedded Kafka, Redis and search.
run: build
	./bin/streamview dev --seed-demo $(RUN_FLAGS)

## test: start the real servers, then every test (unit and integration) with -race.
test: services-up browser
	bash scripts/services/test_port_taken.sh
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 40m ./...

## test-short: the fast tier; no servers needed.
test-short:
	$(GO) test -short -count=1 ./...

services-up:
	bash scripts/services/up.sh

## browser: Debian's chromium for the console's browser test.
browser:
	bash scripts/browser.sh

services-down:
	bash scripts/services/down.sh

services-status:
	bash scripts/services/status.sh

## topics: create the topics of topics.yaml on $(KAFKA_BROKERS).
topics: build
	./bin/streamview topics apply

bench: services-up
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

vet:
	$(GO) vet ./...
