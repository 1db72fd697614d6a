# feedloom: `make up` serves the mesh on the default world; `make test` runs the suite.
# Every target installs what it needs first (make setup), and setup is quick once done.
SHELL := /bin/bash
STAMP := .cache
NPX := npx --no-install
PROTOS := $(shell find proto -name '*.proto')

.PHONY: setup test typecheck format format-check up up-processes demo eval bench new-generator clean

setup: $(STAMP)/system node_modules/.package-lock.json generated/descriptor.pb $(STAMP)/faiss-node

$(STAMP)/system: scripts/setup-system.sh
	@mkdir -p $(STAMP)
	./scripts/setup-system.sh
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

generated/descriptor.pb: $(PROTOS) scripts/gen-proto.sh node_modules/.package-lock.json $(STAMP)/system
	./scripts/gen-proto.sh

$(STAMP)/faiss-node: scripts/build-faiss-node.sh scripts/patches/faiss-node+0.5.1.patch node_modules/.package-lock.json $(STAMP)/system
	./scripts/build-faiss-node.sh
	@touch $@

typecheck: setup
	$(NPX) tsc -p tsconfig.json --noEmit

# Formatting is prettier's (.prettierrc.json): `make format` rewrites, `make format-check` refuses drift.
FORMATTED := 'libs/**/*.ts' 'services/**/*.ts' 'test/**/*.ts' 'bench/**/*.ts' 'bin/**/*.js' vitest.config.ts

format: setup
	$(NPX) prettier --log-level warn --write $(FORMATTED)

format-check: setup
	$(NPX) prettier --log-level warn --check $(FORMATTED)

test: setup typecheck format-check
	$(NPX) vitest run $(VITEST_ARGS)

# WORLD=DIR serves (or evaluates) the existing world in DIR, e.g. one made by `feedloom import`.
WORLD_ARG = $(if $(WORLD),--world $(WORLD))

up: setup
	./bin/feedloom.js up $(WORLD_ARG) $(ARGS)

# One process per service, as on Kubernetes (`make up` runs all-in-one: better on one machine).
up-processes: setup
	./bin/feedloom.js up --processes $(WORLD_ARG) $(ARGS)

demo: setup
	./bin/feedloom.js demo $(WORLD_ARG) $(ARGS)

eval: setup
	./bin/feedloom.js eval $(WORLD_ARG) $(ARGS)

# Benchmarks write their own sections of docs/BENCHMARKS.md (command, machine, date, medians).
bench: setup
	./scripts/bench.sh

new-generator: setup
	@test -n "$(NAME)" || { echo "usage: make new-generator NAME=foo KIND=heuristic|graph|learned"; exit 2; }
	./bin/feedloom.js new-generator $(NAME) --kind $(or $(KIND),heuristic)

clean:
	rm -rf $(STAMP) generated
