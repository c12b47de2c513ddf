#!/usr/bin/env bash
# make bench: release build, throw-away servers (Debian durability defaults), every benchmark. Not part
# of the tests. With arguments, runs that breakout-bench subcommand instead (make soak: faults).
# BENCH_LARGE=1 adds N = 2,000,000 to the end-to-end breakout (about an hour more on two cores).
# The breakout's lines are also written to .build/bench/breakout.json (scripts/plot-bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --servers
export BREAKOUT_TEST_DIR=${BREAKOUT_TEST_DIR:-/tmp/breakout-bench-servers}
export BREAKOUT_TEST_PG_PORT=${BREAKOUT_TEST_PG_PORT:-55442}
export BREAKOUT_TEST_MYSQL_PORT=${BREAKOUT_TEST_MYSQL_PORT:-53316}
export BREAKOUT_SERVER_PROFILE=${BREAKOUT_SERVER_PROFILE:-debian}
trap 'scripts/test-servers.sh stop' EXIT
scripts/test-servers.sh start
# shellcheck disable=SC1091
. "$BREAKOUT_TEST_DIR/env.sh"
swift build -c release --product breakout-bench
swift build -c release --product breakout
bin="$(swift build -c release --show-bin-path)"
if [[ $# -gt 0 ]]; then "$bin/breakout-bench" "$@"; exit; fi
"$bin/breakout-bench" bulk
"$bin/breakout-bench" decode
sizes=20000,200000
if [[ "${BENCH_LARGE:-0}" == 1 ]]; then sizes=20000,200000,2000000; fi
mkdir -p .build/bench
"$bin/breakout-bench" breakout --cases "$sizes" --json .build/bench/breakout.json
"$bin/breakout-bench" export --cases 200000
