#!/usr/bin/env bash
# Measures archive_command throughput (WAL segments/second) of `lifeboat wal-push`: without a spool (a JVM per
# segment), synchronous with a spool (a pusher answers through the launcher) and --async (it also archives ahead):
# a cluster first writes SEGMENTS segments of real WAL (pgbench data) with archiving held back, then archive_command
# is switched to lifeboat and the time to drain the backlog is measured.
# Usage: bench/wal-push-throughput.sh [SEGMENTS] (default 64). Run as root or as postgres.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
segments="${1:-64}"
bin=/usr/lib/postgresql/15/bin
work="$(mktemp -d /tmp/lifeboat-walbench-XXXXXX)"; chmod 755 "$work"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
trap 'for d in "$work"/*/data; do as_pg $bin/pg_ctl -D "$d" -m immediate stop >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
head -c 32 /dev/urandom | base64 > "$work/key"; chmod 644 "$work/key"
run() {
  local mode="$1" extra="$2" d="$work/$1"
  mkdir -p "$d"; [ "$(id -u)" = 0 ] && chown postgres "$d"
  as_pg mkdir -p "$d/spool"
  "$here/bin/lifeboat" repo-init --repo "file://$d/repo" --key-file "$work/key" >/dev/null
  [ "$(id -u)" = 0 ] && chown -R postgres "$d/repo"
  as_pg $bin/initdb -D "$d/data" -A trust --no-sync >/dev/null
  local port=$((20000 + RANDOM % 20000))
  cat >> "$d/data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$d'
listen_addresses = ''
wal_level = replica
archive_mode = on
archive_command = 'false'
max_wal_size = 8GB
CONF
  as_pg $bin/pg_ctl -D "$d/data" -l "$d/log" -w start >/dev/null
  local psql="$bin/psql -h $d -p $port -Atq postgres"
  as_pg $bin/pgbench -h "$d" -p $port -i -s 10 -q postgres >/dev/null 2>&1
  as_pg $psql -c "select pg_switch_wal()" >/dev/null
  # real WAL: pgbench transactions until the backlog holds the wanted number of segments
  while [ "$(ls "$d/data/pg_wal/archive_status/" | grep -c ready || true)" -lt "$segments" ]; do
    as_pg $bin/pgbench -h "$d" -p $port -c 4 -j 2 -t 2000 -n postgres >/dev/null 2>&1
  done
  local n; n=$(ls "$d/data/pg_wal/archive_status/" | grep -c ready)
  local t0; t0=$(date +%s.%N)
  as_pg $psql -c "alter system set archive_command = '$here/bin/lifeboat wal-push --repo file://$d/repo --key-file $work/key $extra %p'" >/dev/null
  as_pg $psql -c "select pg_reload_conf()" >/dev/null
  while [ "$(ls "$d/data/pg_wal/archive_status/" | grep -c ready || true)" != 0 ]; do sleep 0.05; done
  local t1; t1=$(date +%s.%N)
  printf "| %s | %d | %.1f | %.1f |\n" "$mode" "$n" "$(echo "$t1 - $t0" | bc)" "$(echo "$n / ($t1 - $t0)" | bc -l)"
  as_pg $bin/pg_ctl -D "$d/data" -m fast stop >/dev/null
}
echo "| wal-push mode | segments archived | seconds to drain | segments/s |"
echo "|---|---|---|---|"
run jvm-per-segment ""
run sync "--spool-dir $work/sync/spool"
run async "--async --spool-dir $work/async/spool"
