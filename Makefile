# devarch-controller developer targets. The real work lives in scripts/;
# see docs/development.md.

GO      ?= go
BIN     := bin/devarch-controller
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test vet fmt env-up env-down images bench clean

## build: compile bin/devarch-controller from ./cmd/controller
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/controller

## test: THE test command: environment up, gofmt, vet, go test -race (scripts/test.sh)
test:
	scripts/test.sh

## vet: go vet every package
vet:
	$(GO) vet ./...

## fmt: gofmt every package's Go files in place (testdata untouched)
fmt:
	$(GO) fmt ./...

## env-up: start PostgreSQL, Docker and the test Podman, build and tag the test image (loaded into Podman too)
env-up:
	scripts/postgres.sh start
	scripts/docker.sh ensure
	scripts/images.sh tag-corpus
	scripts/podman.sh ensure
	scripts/podman.sh load-test-images

## env-down: stop this checkout's PostgreSQL cluster, the dockerd docker.sh started (if any) and the test Podman
env-down:
	scripts/postgres.sh stop
	scripts/docker.sh stop
	scripts/podman.sh stop

## images: build the test image and tag it under every corpus image name
images:
	scripts/images.sh tag-corpus

## bench: run benchmarks (no tests)
bench:
	scripts/bench.sh

## clean: remove build output
clean:
	rm -rf bin
