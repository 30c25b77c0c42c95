#!/usr/bin/env bash
# archive_command with a warm pusher: a stopped cluster's backlog of SEGMENTS ready segments of pgbench WAL is pushed
# one `lifeboat wal-push --spool-dir` call at a time, as PostgreSQL's archiver would; the first call (a JVM) starts
# the pusher and is not timed, the rest are. Then one more call for a segment already archived times the launcher's
# round trip alone. Usage: bench/wal-push-warm.sh [SEGMENTS] (default 40). Run as root (PostgreSQL runs as postgres).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
n="${1:-40}"; B=/usr/lib/postgresql/15/bin; LB="$here/bin/lifeboat"
W="$(mktemp -d /tmp/lifeboat-walwarm-XXXXXX)"; chown postgres "$W"
as_pg() { runuser -u postgres -- "$@"; }
trap 'as_pg $B/pg_ctl -D "$W/data" -m immediate stop >/dev/null 2>&1 || true; pkill -f -- "--spool-dir=$W/spool" || true; rm -rf "$W"' EXIT
port=$((20000 + RANDOM % 20000))
as_pg $B/initdb -D "$W/data" -A trust --no-sync >/dev/null
printf "port=%s\nunix_socket_directories='%s'\nlisten_addresses=''\nwal_level=replica\narchive_mode=on\narchive_command='false'\nmax_wal_size=8GB\n" \
  "$port" "$W" >> "$W/data/postgresql.conf"
as_pg $B/pg_ctl -D "$W/data" -l "$W/log" -w start >/dev/null
as_pg $B/pgbench -h "$W" -p "$port" -i -s 10 -q postgres >/dev/null 2>&1
while [ "$(ls "$W/data/pg_wal/archive_status/" | grep -c ready || true)" -lt "$n" ]; do
  as_pg $B/pgbench -h "$W" -p "$port" -c 4 -j 2 -t 2000 -n postgres >/dev/null 2>&1
done
as_pg $B/pg_ctl -D "$W/data" -m fast stop >/dev/null
sync -f "$W"   # the WAL just written is on disk: its writeback does not slow the timed fsyncs
head -c 32 /dev/urandom | base64 > "$W/key"; chmod 644 "$W/key"
as_pg "$LB" repo-init --repo "file://$W/repo" --key-file "$W/key" >/dev/null
as_pg mkdir "$W/spool"
push() { (cd "$W/data" && as_pg "$LB" wal-push --repo "file://$W/repo" --key-file "$W/key" --spool-dir "$W/spool" "pg_wal/$1") \
  && mv "$W/data/pg_wal/archive_status/$1.ready" "$W/data/pg_wal/archive_status/$1.done"; }
segs=($(ls "$W/data/pg_wal/archive_status/" | grep ready | sed 's/\.ready$//' | sort | head -n "$n"))
push "${segs[0]}"
for _ in $(seq 1 200); do [ -f "$W/spool/push.port" ] && break; sleep 0.05; done; sleep 2
t0=$(date +%s.%N)
for s in "${segs[@]:1}"; do push "$s"; done
t1=$(date +%s.%N)
last="${segs[-1]}"; cp "$W/data/pg_wal/archive_status/$last.done" "$W/data/pg_wal/archive_status/$last.ready"
r0=$(date +%s.%N); push "$last"; r1=$(date +%s.%N)
echo "warm pusher: $(( ${#segs[@]} - 1 )) segments in $(printf %.2f "$(echo "$t1 - $t0" | bc)") s = $(printf %.1f "$(echo "(${#segs[@]} - 1) / ($t1 - $t0)" | bc -l)") segments/s; launcher round trip for an archived segment: $(printf %.0f "$(echo "($r1 - $r0) * 1000" | bc -l)") ms"
