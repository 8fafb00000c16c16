#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for tests and benchmarks on 127.0.0.1 (trust auth, data in
# a temp dir) and prints its URL. Usage: scripts/postgres.sh start [PORT] | stop [PORT]
# Test settings (fsync off) unless PG_DURABLE=1, which the benchmarks use.
set -euo pipefail
action="${1:-start}"
port="${2:-55432}"
dir="${PG_DIR:-/tmp/alipay-shop-pg-$port}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -n "$bin" ] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

case "$action" in
  start)
    if ! [ -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
      as_postgres "'$bin/initdb' -D '$dir' -A trust -U postgres -E UTF8 --locale=C.UTF-8" >/dev/null
    fi
    opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=/tmp -c max_connections=300"
    if [ "${PG_DURABLE:-0}" != "1" ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    if ! as_postgres "'$bin/pg_ctl' -D '$dir' status" >/dev/null 2>&1; then
      as_postgres "'$bin/pg_ctl' -D '$dir' -o \"$opts\" -l '$dir/server.log' -w start" >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_postgres "'$bin/pg_ctl' -D '$dir' -m fast stop" >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop [PORT]" >&2
    exit 2
    ;;
esac
