#!/usr/bin/env bash
# Measures a region agent's footprint: time from launch to /healthz answering, and RSS when idle with one WAL stream
# running against a throwaway PostgreSQL 15 cluster. Run as root (PostgreSQL runs as postgres).
#   bench/agent-footprint.sh [--idle SECONDS] -- COMMAND...   # COMMAND starts the agent; "--config FILE" is appended
#   bench/agent-footprint.sh -- bin/lifeboat agent                           # the single jar
#   bench/agent-footprint.sh -- /usr/share/lifeboat/bin/lifeboat-agent       # the light classpath (package installed)
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
idle=30
while [ $# -gt 0 ]; do
  case "$1" in
    --idle) idle="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--idle SECONDS] -- COMMAND..." >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--idle SECONDS] -- COMMAND..." >&2; exit 2; }
pgbin=/usr/lib/postgresql/15/bin
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work="$(mktemp -d /tmp/lifeboat-footprint.XXXXXX)"; chmod 755 "$work"
agent_pid=""
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

pgport=$(free_port); mport=$(free_port); jport=$(free_port)
install -d -o postgres "$work/pg" "$work/sock" "$work/pglog"
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$work/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$work/sock'
wal_level = replica
EOF
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pglog/pg.log" -w -t 60 start >/dev/null
"$here/bin/lifeboat" repo-init --repo "file://$work/repo" --key-file "$work/repo.key" >/dev/null
# mutual TLS as in production (it loads BouncyCastle for the PEM files)
"$here/bin/lifeboat" pki init --dir "$work/pki" >/dev/null
"$here/bin/lifeboat" pki issue --dir "$work/pki" --role agent footprint >/dev/null
cat > "$work/agent.yaml" <<EOF
id: footprint
region: local
listen: 127.0.0.1:$jport
metrics-listen: 127.0.0.1:$mport
tls:
  ca: $work/pki/ca.crt
  cert: $work/pki/footprint.crt
  key: $work/pki/footprint.key
state-dir: $work/state
databases:
  - name: main
    pgdata: $work/pg
    repo: file://$work/repo
    key-file: $work/repo.key
    wal-stream: true
EOF

start=$(date +%s%N)
"$@" --config "$work/agent.yaml" > "$work/agent.log" 2>&1 &
agent_pid=$!
until curl -sf "http://127.0.0.1:$mport/healthz" >/dev/null; do
  kill -0 "$agent_pid" 2>/dev/null || { echo "agent exited:" >&2; cat "$work/agent.log" >&2; exit 1; }
  sleep 0.02
done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
# the WAL stream is up once the server lists it as a replication client
for _ in $(seq 1 300); do
  n=$(runuser -u postgres -- "$pgbin/psql" -h "$work/sock" -p "$pgport" -Atc "select count(*) from pg_stat_replication" postgres)
  [ "$n" -ge 1 ] && break
  sleep 0.1
done
[ "$n" -ge 1 ] || { echo "no WAL stream after 30 s:" >&2; cat "$work/agent.log" >&2; exit 1; }
sleep "$idle"
java_pid=$(pgrep -P "$agent_pid" java || echo "$agent_pid")   # a launcher may exec java or run it as a child
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$java_pid/status")
echo "ready_ms=$ready_ms idle_rss_mib=$(( rss_kb / 1024 )) (after ${idle}s idle with one WAL stream)"
