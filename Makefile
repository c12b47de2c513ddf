# breakout: the two commands a new user needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: all deps build demo demo-source test lint bench soak package package-test servers-start servers-stop clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	$(SWIFT) build

## Runs the main job on the embedded default (SQLite, no servers).
## Applies examples/quickstart into its SQLite state store (examples/quickstart/.breakout/state.db), then
## breaks out the bundled CSWeb source (400 generated cases of a two-level dictionary,
## examples/quickstart/data/csweb-sample.db) into examples/quickstart/.breakout/demo/demo-output.db.
demo: build
	$(SWIFT) run --skip-build breakout validate -c examples/quickstart
	$(SWIFT) run --skip-build breakout apply -c examples/quickstart --auto-approve
	$(SWIFT) run --skip-build breakout process-cases -c examples/quickstart --org demo
	$(SWIFT) run --skip-build breakout export -c examples/quickstart --org demo --format csv --format stata --format spss --format parquet
	@echo
	@echo "The tables are in examples/quickstart/.breakout/demo/demo-output.db; a view per record has"
	@echo "plain names, the households' ids and the labels (docs/breakout.md, Views for analysts):"
	@echo "  sqlite3 examples/quickstart/.breakout/demo/demo-output.db 'select p02_sex_label, count(*) from census_person_view group by 1'"
	@if command -v sqlite3 >/dev/null; then \
		sqlite3 -header -column examples/quickstart/.breakout/demo/demo-output.db 'select p02_sex_label, count(*) from census_person_view group by 1'; \
	fi
	@echo "Run 'make demo' again: nothing is pending, nothing is loaded twice."

## Regenerates the bundled demo source (deterministic; the committed file is its output).
demo-source: build
	$(SWIFT) run --skip-build breakout-bench generate --cases 400 --out examples/quickstart/data/csweb-sample.db --manifest /dev/null

## Runs every test; starts and stops PostgreSQL and MariaDB on loopback. Starts with `make lint`.
test:
	scripts/run-tests.sh

## Module boundaries (scripts/check-architecture.py) and formatting (swift format lint).
lint:
	scripts/lint.sh

## Benchmarks (release build, servers with Debian's durability defaults; not part of the tests):
## bulk-load paths, blob decoding, and the end-to-end breakout of 20,000 and 200,000 generated
## census cases (BENCH_LARGE=1 adds 2,000,000) against the raw load of the same rows. See docs/performance.md.
bench:
	scripts/bench.sh

## The fault-injection suite at a larger N than the tests run it (release build, throw-away servers).
soak:
	scripts/bench.sh faults --cases 20000 --kills 50

## The Debian package: a release build with the Swift runtime linked statically, man pages,
## completions, systemd units (.build-package/breakout_<version>_<arch>.deb). See README.md.
package: deps
	scripts/install-deps.sh --package
	scripts/package.sh

## Installs that package on a fresh Debian 12 root (debootstrap, needs root and the Debian
## archive) and checks it as an operator would: one line per check.
package-test: package
	scripts/package-test.sh

servers-start:
	scripts/install-deps.sh --servers
	scripts/test-servers.sh start

servers-stop:
	scripts/test-servers.sh stop

clean:
	rm -rf .build .breakout .build-package
