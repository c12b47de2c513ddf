#!/usr/bin/env bash
# The test command: installs what is missing, starts throw-away PostgreSQL and MariaDB servers on
# loopback, runs every test against SQLite, PostgreSQL and MariaDB, and stops the servers at the end
# (also when tests fail). Under CI=true an unreachable server is a test failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --servers
if [[ $# -eq 0 ]]; then scripts/lint.sh; fi
export BREAKOUT_TEST_DIR=${BREAKOUT_TEST_DIR:-/tmp/breakout-test-servers}
trap 'scripts/test-servers.sh stop' EXIT
scripts/test-servers.sh start
# shellcheck disable=SC1091
. "$BREAKOUT_TEST_DIR/env.sh"

swift build --build-tests
swift test --skip-build "$@"
# The fault-injection suite at a small N (kill -9, SIGTERM, server restarts, corrupt and hostile
# input) against the real binary and servers; `make soak` runs it at a larger N.
if [[ $# -eq 0 ]]; then
  "$(swift build --show-bin-path)/breakout-bench" faults --cases "${BREAKOUT_FAULT_CASES:-1500}" --kills "${BREAKOUT_FAULT_KILLS:-20}"
  # The isolation suite: every attack of an organization file, a hand-made row or a tenant's
  # server (docs/security.md), each ending in a refusal; no secret in any output or file.
  "$(swift build --show-bin-path)/breakout-bench" isolation
fi
