#!/usr/bin/env bash
# Throw-away PostgreSQL and MariaDB servers on loopback for the integration tests.
#   scripts/test-servers.sh start   initialise fresh data directories, start both, create users and databases,
#                                   write the connection URLs to $BREAKOUT_TEST_DIR/env.sh
#   scripts/test-servers.sh stop    stop both and remove the data directories
#   scripts/test-servers.sh restart postgres|mariadb   stop one server hard (immediate / SIGKILL) and start it
#                                   again on the same data (the fault-injection suite's "server restarted")
# BREAKOUT_SERVER_PROFILE=debian keeps each server's durability defaults (fsync, flush at commit,
# 128M buffer pool), as `make bench` does; the default profile turns durability off for fast tests.
# Ports: $BREAKOUT_TEST_PG_PORT (55432) and $BREAKOUT_TEST_MYSQL_PORT (53306).
set -euo pipefail

dir=${BREAKOUT_TEST_DIR:-/tmp/breakout-test-servers}
pg_port=${BREAKOUT_TEST_PG_PORT:-55432}
my_port=${BREAKOUT_TEST_MYSQL_PORT:-53306}
password='Br3ak:out@test%pw'   # has URL-special characters on purpose
password_url='Br3ak%3Aout%40test%25pw'
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

profile=${BREAKOUT_SERVER_PROFILE:-fast}
pg_options() {
  local o="-p $pg_port -k $dir/pgsock -c listen_addresses=127.0.0.1"
  if [[ $profile != debian ]]; then o="$o -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
  echo "$o"
}
run_postgres() {
  as_postgres "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 -o "$(pg_options)" start >/dev/null
}
run_mariadb() {
  local tuning=(--innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=256M)
  if [[ $profile == debian ]]; then tuning=(); fi
  mariadbd --no-defaults --datadir="$dir/mariadb" --socket="$dir/mariadb.sock" --port="$my_port" --bind-address=127.0.0.1 \
    --user="$(id -un)" --pid-file="$dir/mariadb.pid" --log-error="$dir/mariadb.log" --local-infile=1 \
    "${tuning[@]}" --skip-log-bin --character-set-server=utf8mb4 \
    >/dev/null 2>&1 &
  for _ in $(seq 1 60); do
    mariadb-admin --no-defaults -S "$dir/mariadb.sock" -uroot ping >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "test-servers: MariaDB did not start; see $dir/mariadb.log" >&2
  return 1
}

start_postgres() {
  local data="$dir/pg"
  mkdir -p "$data" "$dir/pgsock"; : > "$dir/pg.log"
  printf '%s\n' "$password" > "$dir/pgpass"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres:postgres "$data" "$dir/pgsock" "$dir/pgpass" "$dir/pg.log"; fi
  as_postgres "$pg_bin/initdb" -D "$data" -U postgres -A scram-sha-256 --pwfile="$dir/pgpass" -E UTF8 --locale=C.UTF-8 >"$dir/pg-init.log" 2>&1
  run_postgres
  PGPASSWORD="$password" "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE breakout LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE breakout_test OWNER breakout ENCODING 'UTF8';
SQL
}

start_mariadb() {
  local data="$dir/mariadb"
  mkdir -p "$data"
  mariadb-install-db --no-defaults --datadir="$data" --user="$(id -un)" --skip-test-db >"$dir/mariadb-init.log" 2>&1
  run_mariadb
  mariadb --no-defaults -S "$dir/mariadb.sock" -uroot <<SQL
CREATE USER 'breakout'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER 'breakout'@'localhost' IDENTIFIED BY '$password';
CREATE DATABASE breakout_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
GRANT ALL PRIVILEGES ON *.* TO 'breakout'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'breakout'@'localhost';
SQL
}

stop() {
  if [[ -f "$dir/pg/postmaster.pid" ]]; then as_postgres "$pg_bin/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  if [[ -f "$dir/mariadb.pid" ]]; then
    kill "$(cat "$dir/mariadb.pid")" 2>/dev/null || true
    for _ in $(seq 1 40); do [[ -f "$dir/mariadb.pid" ]] || break; sleep 0.25; done
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start)
    stop
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then chmod 755 "$dir"; fi
    start_postgres
    start_mariadb
    cat > "$dir/env.sh" <<ENV
export BREAKOUT_TEST_POSTGRES_URL='postgresql://breakout:$password_url@127.0.0.1:$pg_port/breakout_test'
export BREAKOUT_TEST_MYSQL_URL='mysql://breakout:$password_url@127.0.0.1:$my_port/breakout_test'
export BREAKOUT_TEST_PG_BIN='$pg_bin'
export BREAKOUT_TEST_PASSWORD='$password'
export BREAKOUT_TEST_RESTART='BREAKOUT_TEST_DIR=$dir BREAKOUT_TEST_PG_PORT=$pg_port BREAKOUT_TEST_MYSQL_PORT=$my_port BREAKOUT_SERVER_PROFILE=$profile $(cd "$(dirname "$0")" && pwd)/test-servers.sh restart'
ENV
    echo "test-servers: PostgreSQL on 127.0.0.1:$pg_port, MariaDB on 127.0.0.1:$my_port (env: $dir/env.sh)" >&2
    ;;
  stop) stop ;;
  restart)
    case "${2:-}" in
      postgres)
        as_postgres "$pg_bin/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null
        run_postgres ;;
      mariadb)
        pid=$(cat "$dir/mariadb.pid")
        kill -9 "$pid"
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        rm -f "$dir/mariadb.pid" "$dir/mariadb.sock"
        run_mariadb ;;
      *) echo "usage: $0 restart postgres|mariadb" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: $0 start|stop|restart postgres|mariadb" >&2; exit 2 ;;
esac
