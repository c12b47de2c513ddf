# breakout: the two commands a new user needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: all deps build demo demo-source test bench servers-start servers-stop clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	$(SWIFT) build

## Runs the main job on the embedded default (SQLite, no servers).
## Applies examples/quickstart into its SQLite state store (examples/quickstart/.breakout/state.db), then
## breaks out the bundled CSWeb source (400 generated cases of a two-level dictionary,
## examples/quickstart/data/csweb-sample.db) into examples/quickstart/.breakout/demo-output.db.
demo: build
	$(SWIFT) run --skip-build breakout validate -c examples/quickstart
	$(SWIFT) run --skip-build breakout apply -c examples/quickstart --auto-approve
	$(SWIFT) run --skip-build breakout process-cases -c examples/quickstart --org demo
	@echo
	@echo "The tables are in examples/quickstart/.breakout/demo-output.db; for example:"
	@echo "  sqlite3 examples/quickstart/.breakout/demo-output.db 'SELECT p02_sex, COUNT(*) FROM \"census_person\" GROUP BY 1'"
	@echo "Run 'make demo' again: nothing is pending, nothing is loaded twice."

## Regenerates the bundled demo source (deterministic; the committed file is its output).
demo-source: build
	$(SWIFT) run --skip-build breakout-bench source --cases 400 --out examples/quickstart/data/csweb-sample.db

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
