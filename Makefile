# streamview: `make run` for the all-in-one pipeline, `make test` for the
# whole test suite against real Kafka, Redis and Elasticsearch.
SHELL := /bin/bash
GO ?= go

# KAFKA_NODES=3: services-up starts a three-node KRaft cluster
# (scripts/services/kafka-cluster.sh) instead of the single broker.
KAFKA_NODES ?= 1
ifneq ($(KAFKA_NODES),1)
export KAFKA_BROKERS ?= $(shell KAFKA_NODES=$(KAFKA_NODES) bash scripts/services/kafka-cluster.sh brokers)
endif
export KAFKA_BROKERS ?= 127.0.0.1:9092
export REDIS_ADDR ?= 127.0.0.1:6379
export ELASTICSEARCH_URL ?= http://127.0.0.1:9200
# The three-master Redis Cluster of scripts/services/redis-cluster.sh, for the
# tests of the Redis stores on a cluster (REDIS_CLUSTER_PORT, 7001..7003).
export REDIS_CLUSTER_PORT ?= 7001
export REDIS_CLUSTER_ADDRS ?= $(shell bash scripts/services/redis-cluster.sh addrs)
# The secured listeners beside them (scripts/services/lib.sh): Kafka SASL_SSL,
# Redis TLS with an ACL user, Elasticsearch behind a TLS proxy checking
# credentials; the test CA, client certificate and secrets in STREAMVIEW_SECURE_DIR.
export KAFKA_SASL_BROKERS ?= 127.0.0.1:9094
export REDIS_TLS_ADDR ?= 127.0.0.1:6380
export ELASTICSEARCH_PROXY_URL ?= https://127.0.0.1:9243
export STREAMVIEW_SECURE_DIR ?= $(or $(STREAMVIEW_SERVICES_DIR),$(CURDIR)/.services)/secure
# Where scripts/services/tools.sh puts kafka-consumer-groups.sh, kcat and
# promtool; the tests that drive them look there.
export STREAMVIEW_TOOLS ?= $(or $(STREAMVIEW_CACHE),$(HOME)/.cache/streamview)/tools/bin

.PHONY: browser all build run test test-short test-integration services-up services-down services-status tools topics bench vet

all: build

build:
	$(GO) build -buildvcs=auto -o bin/streamview ./cmd/streamview

## run: the whole pipeline in one process on embedded Kafka, Redis and search.
run: build
	./bin/streamview dev --seed-demo $(RUN_FLAGS)

## test: start the real servers, then every test (unit and integration) with -race.
test: services-up tools browser
	bash scripts/services/test_port_taken.sh
	bash scripts/services/test_cluster_id.sh
	bash scripts/services/test_es_nice.sh
	bash scripts/services/test_kafka_started.sh
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 40m $$($(GO) list ./... | grep -v '/cmd/streamview/outage$$')
	# The outage tests stop and start servers of their own under a steady load:
	# run alone, so that no other package's tests share the two cores with them.
	$(GO) test -race -count=1 -timeout 20m ./cmd/streamview/outage
	# A Redis Cluster and a Redis of their own for the tests that empty them
	# (FLUSHALL on one master): about 30 seconds.
	GO=$(GO) bash scripts/services/test_redis_loss.sh -race
	# A Kafka cluster of three brokers of its own, its busiest leader killed
	# under load, stopped after (about 2 minutes).
	GO=$(GO) bash scripts/services/test_kafka_failover.sh -race

## test-short: the fast tier; no servers needed.
test-short:
	$(GO) test -short -count=1 ./...

services-up:
ifeq ($(KAFKA_NODES),1)
	bash scripts/services/up.sh
else
	bash scripts/services/up.sh elasticsearch redis
	KAFKA_NODES=$(KAFKA_NODES) bash scripts/services/kafka-cluster.sh up
endif
	bash scripts/services/redis-cluster.sh up

## tools: Kafka's kafka-consumer-groups.sh, kcat and promtool (see README, "Standard tools").
tools:
	bash scripts/services/tools.sh
## browser: Debian's chromium for the console's browser test.
browser:
	bash scripts/browser.sh

services-down:
	bash scripts/services/redis-cluster.sh down
ifeq ($(KAFKA_NODES),1)
	bash scripts/services/down.sh
else
	bash scripts/services/down.sh elasticsearch redis
	KAFKA_NODES=$(KAFKA_NODES) bash scripts/services/kafka-cluster.sh down
endif

services-status:
	bash scripts/services/status.sh
	bash scripts/services/redis-cluster.sh status
ifneq ($(KAFKA_NODES),1)
	KAFKA_NODES=$(KAFKA_NODES) bash scripts/services/kafka-cluster.sh status
endif

## topics: create the topics of topics.yaml on $(KAFKA_BROKERS).
topics: build
	./bin/streamview topics apply

bench: services-up
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

vet:
	$(GO) vet ./...
