# breakout: the two commands a new user needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: all deps build demo test bench servers-start servers-stop clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	$(SWIFT) build

## Runs the main job on the embedded default (SQLite, no servers).
demo: build
	@mkdir -p .breakout
	$(SWIFT) run --skip-build breakout db test --type sqlite --database .breakout/demo.db

## Runs every test; starts and stops PostgreSQL and MariaDB on loopback.
test:
	scripts/run-tests.sh

## Bulk-load micro-benchmark: each driver's bulk path against psql \copy and mariadb LOAD DATA (release build).
bench:
	scripts/bench.sh

servers-start:
	scripts/install-deps.sh --servers
	scripts/test-servers.sh start

servers-stop:
	scripts/test-servers.sh stop

clean:
	rm -rf .build .breakout
