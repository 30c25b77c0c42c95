#!/usr/bin/env bash
# Compares Lifeboat with pgBackRest on this machine and writes the medians into docs/benchmarks.md (between the
# markers <!-- compare-pgbackrest:begin --> and <!-- compare-pgbackrest:end -->; the rest of the file is kept).
#
# A throwaway PostgreSQL 15 cluster gets a pgbench database; then, in alternation and for ROUNDS rounds, both tools
# take a full backup, an incremental after a pgbench run that changes about 1 % of the pages, and a full restore into
# an empty directory, each at comparable settings (same compression algorithm and level, 2 processes, encryption on,
# a local-disk repository of their own that is new every round); and both archive a spool of real WAL segments one
# command per segment, as archive_command would, synchronously and asynchronously. Every run is measured for wall
# time, CPU time (user+sys of the whole process tree, background helpers included), peak RSS of the largest process
# and bytes stored (repository growth).
#
# Usage: bench/compare-pgbackrest.sh [--scale N] [--rounds N] [--segments N] [--compress "zstd lz4"] [--doc FILE]
#   --scale N      pgbench scale (env SCALE, default 100: about 1.5 GB)
#   --rounds N     rounds of every measurement (env ROUNDS, default 3)
#   --segments N   WAL segments pushed per archive_command measurement (env SEGMENTS, default 32)
#   --compress L   compression algorithms to compare, from zstd (zstd-1) and lz4 (env COMPRESS, default "zstd lz4")
#   --doc FILE     Markdown file to write the results into (env DOC, default docs/benchmarks.md)
# Run as root (installs pgbackrest if missing and runs PostgreSQL and both tools as postgres) or as postgres.
# Progress goes to stderr. Everything lives in one temporary directory that is removed at the end, also on failure
# or Ctrl-C.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
scale="${SCALE:-100}"; rounds="${ROUNDS:-3}"; segments="${SEGMENTS:-32}"; compressions="${COMPRESS:-zstd lz4}"
doc="${DOC:-$here/docs/benchmarks.md}"
usage() { sed -n '13,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --segments) segments="${2:?}"; shift 2 ;;
    --compress) compressions="${2:?}"; shift 2 ;;
    --doc) doc="${2:?}"; shift 2 ;;
    --scale=*) scale="${1#*=}"; shift ;;
    --rounds=*) rounds="${1#*=}"; shift ;;
    --segments=*) segments="${1#*=}"; shift ;;
    --compress=*) compressions="${1#*=}"; shift ;;
    --doc=*) doc="${1#*=}"; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for v in "$scale" "$rounds" "$segments"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "--scale, --rounds and --segments take positive integers" >&2; exit 2; }
done
for c in $compressions; do
  case "$c" in zstd|lz4) ;; *) echo "--compress takes zstd and/or lz4, not '$c'" >&2; exit 2 ;; esac
done
case "$doc" in /*) ;; *) doc="$PWD/$doc" ;; esac

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$rounds" -ge 3 ] || log "note: $rounds round(s); use at least 3 for numbers worth publishing"

pgbin=/usr/lib/postgresql/15/bin
root=""; [ "$(id -u)" = 0 ] && root=1
asu=(); [ -n "$root" ] && asu=(runuser -u postgres --)
as_pg() { "${asu[@]}" "$@"; }

# ---- prerequisites ---------------------------------------------------------------------------------------------
if [ ! -x "$pgbin/postgres" ] || [ ! -x "$pgbin/pgbench" ]; then
  log "PostgreSQL 15 is missing: running bin/setup"
  "$here/bin/setup"
fi
if ! command -v pgbackrest >/dev/null 2>&1; then
  [ -n "$root" ] || die "pgbackrest is not installed: run 'apt-get install -y pgbackrest' as root"
  log "installing pgbackrest from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq pgbackrest >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq pgbackrest >/dev/null; }
fi
[ -x /usr/bin/time ] || { [ -n "$root" ] && apt-get install -y -qq time >/dev/null; } || die "/usr/bin/time is missing (apt-get install time)"
command -v perl >/dev/null || die "perl is missing"
if [ ! -r "$here/cli/target/lifeboat.jar" ]; then
  log "building Lifeboat (bin/build)"
  "$here/bin/build"
fi
java="$("$here/bin/find-java")"

# ---- work directory and cleanup --------------------------------------------------------------------------------
work="$(mktemp -d /tmp/lifeboat-vs-pgbackrest-XXXXXX)"
chmod 755 "$work"; [ -n "$root" ] && chown postgres: "$work"
data="$work/data"; port=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -f "$data/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  # background helpers the tools started (Lifeboat's pusher, pgBackRest's async process) carry $work in their
  # command line: stop exactly those, by process id
  local pid
  for pid in $(pgrep -f -- "$work/" 2>/dev/null || true); do
    [ "$pid" != $$ ] && kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.2
  for pid in $(pgrep -f -- "$work/" 2>/dev/null || true); do
    [ "$pid" != $$ ] && kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
  [ $rc = 0 ] || log "failed (exit $rc); temporary files removed"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Lifeboat runs from a snapshot of the launcher and jar, so a rebuild in the checkout during the run cannot change it
lb_home="$work/lifeboat"
mkdir -p "$lb_home/bin" "$lb_home/cli/target" "$work/cache"
cp -p "$here/bin/lifeboat" "$here/bin/find-java" "$lb_home/bin/"
cp -p "$here/cli/target/lifeboat.jar" "$lb_home/cli/target/"
lb="$lb_home/bin/lifeboat"
export XDG_CACHE_HOME="$work/cache"   # Lifeboat's class-data-sharing archive, made on first use, lives in $work too
export PGUSER=postgres
[ -n "$root" ] && chown -R postgres: "$work/cache"

# The measurement wrapper: /usr/bin/time gives CPU (user+sys) and peak RSS of the largest process over every process
# it reaps. This reaper sits under it as a child subreaper, so background helpers that a command leaves behind
# (async WAL pushers) are reaped here and counted too; the wall time is the command's own (to its exit), after which
# helpers get 2 s to finish on their own before they are stopped (an idle pusher would otherwise linger).
reaper='
use strict; use warnings; use POSIX ":sys_wait_h"; use Time::HiRes qw(time sleep);
my $wallfile = shift @ARGV;
my %prctl = (x86_64 => 157, aarch64 => 167);
my $arch = (POSIX::uname())[4];
syscall($prctl{$arch}, 36, 1, 0, 0, 0) == 0 or warn "cannot become a child subreaper: $!\n" if $prctl{$arch};
my $t0 = time;
my $pid = fork() // die "fork: $!\n";
if ($pid == 0) { exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"; }
waitpid($pid, 0); my $st = $?;
my $wall = time - $t0;
sub children { my @c; opendir(my $d, "/proc") or return (); for my $p (readdir $d) { next unless $p =~ /^\d+$/;
  open(my $s, "<", "/proc/$p/stat") or next; my $l = <$s> // next; $l =~ s/^.*\) //; my @f = split / /, $l;
  push @c, $p if $f[1] == $$; } return @c; }
my $deadline = time + 2; my $sig = "TERM";
while (1) {
  my $w = waitpid(-1, WNOHANG);
  last if $w < 0;
  next if $w > 0;
  if (time > $deadline) { kill $sig, children(); $sig = "KILL" if time > $deadline + 10; }
  sleep 0.02;
}
open(my $f, ">", $wallfile) or die; printf $f "%.3f\n", $wall; close $f;
exit($st & 127 ? 128 + ($st & 127) : $st >> 8);
'
results="$work/results.tsv"; : > "$results"
round=0
# timed OP TOOL SIZE_DIR CMD...: runs CMD, records wall/CPU/RSS and the growth of SIZE_DIR (empty: none)
timed() {
  local op="$1" tool="$2" sizedir="$3"; shift 3
  local before=0 after=0
  [ -n "$sizedir" ] && before=$(du -sb "$sizedir" | cut -f1)
  if ! /usr/bin/time -f '%e %U %S %M' -o "$work/time.out" perl -e "$reaper" "$work/wall.out" "$@" >"$work/cmd.log" 2>&1; then
    cat "$work/cmd.log" >&2
    die "$tool $op failed: $*"
  fi
  [ -n "$sizedir" ] && after=$(du -sb "$sizedir" | cut -f1)
  local wall u s m
  wall=$(cat "$work/wall.out")
  if [ -s "$work/wall.steady" ]; then wall=$(cat "$work/wall.steady"); fi
  rm -f "$work/wall.steady"
  read -r _ u s m < <(tail -n 1 "$work/time.out")
  local cpu; cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$op" "$tool" "$wall" "$cpu" "$m" "$((after - before))" >> "$results"
  log "  $(printf '%-10s %-15s %8.2f s wall %8.2f s CPU %6d MiB RSS %8.1f MiB stored' "$tool" "$op" "$wall" \
    "$cpu" "$((m / 1024))" "$(echo "($after - $before) / 1048576" | bc -l)")"
}

psql_() { as_pg "$pgbin/psql" -h "$work" -p "$port" -X -Atq -v ON_ERROR_STOP=1 postgres "$@"; }
settle() {
  # untimed, before every measurement: the server has archived everything ready and written its dirty pages, and
  # the page cache has no dirty data left from the previous run
  local i
  for i in $(seq 1 1200); do
    compgen -G "$data/pg_wal/archive_status/*.ready" >/dev/null || break
    sleep 0.1
  done
  compgen -G "$data/pg_wal/archive_status/*.ready" >/dev/null && die "WAL archiving is stuck (see $work/postgres.log)"
  psql_ -c checkpoint
  sync -f "$work"
}
mkdir_pg() { mkdir -p "$@"; [ -n "$root" ] && chown postgres: "$@"; chmod 700 "$@"; }
du_b() { du -sb "$1" | cut -f1; }

# ---- the cluster and the WAL spool -----------------------------------------------------------------------------
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log "work directory $work; scale $scale, $rounds round(s), $segments WAL segments, compression: $compressions"
as_pg "$pgbin/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
mkdir_pg "$work/walsrc"
for _ in $(seq 1 50); do
  port=$((20000 + RANDOM % 20000))
  ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && [ ! -e "$work/.s.PGSQL.$port" ] && break
done
cat >> "$data/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$work'
listen_addresses = ''
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $work/walsrc/%f && cp %p $work/walsrc/%f'
max_wal_size = 4GB
checkpoint_timeout = 30min
# archive_command feeds pgBackRest's archives only: pg_wal keeps the WAL between a round's backups, where Lifeboat's
# incremental reads which blocks changed (with Lifeboat archiving, as in production, it reads them from its archive)
wal_keep_size = 4GB
CONF
as_pg "$pgbin/pg_ctl" -D "$data" -l "$work/postgres.log" -w start >/dev/null
log "PostgreSQL 15 on socket $work port $port; pgbench -i -s $scale"
as_pg "$pgbin/pgbench" -h "$work" -p "$port" -i -s "$scale" -q postgres >"$work/pgbench-init.log" 2>&1 \
  || { cat "$work/pgbench-init.log" >&2; die "pgbench -i failed"; }
# the archive_command measurement pushes real segments of OLTP WAL: pgbench transactions (with a checkpoint after
# every batch, so pages are logged in full again as in production), copied aside by archive_command as they complete
spooled() { ls "$work/walsrc" | grep -cE '^[0-9A-F]{24}$' || true; }
settle
find "$work/walsrc" -type f -delete
# one segment more than measured: the first push of every measurement is untimed (see the archiver below)
log "pgbench transactions until $((segments + 1)) WAL segments are spooled"
while [ "$(spooled)" -lt "$((segments + 1))" ]; do
  as_pg "$pgbin/pgbench" -h "$work" -p "$port" -n -c 2 -j 2 -t 5000 postgres >/dev/null 2>&1 || die "pgbench failed"
  settle
done
find "$work/walsrc" -type f | sort | head -n "-$((segments + 1))" | xargs -r rm -f
wal_bytes=$(du_b "$work/walsrc")
db_bytes=$(psql_ -c "select pg_database_size('postgres')")
data_bytes=$(du -sb --exclude=pg_wal "$data" | cut -f1)
log "database $((db_bytes / 1048576)) MiB, data directory $((data_bytes / 1048576)) MiB; $segments WAL segments spooled"

# ---- repositories ----------------------------------------------------------------------------------------------
head -c 32 /dev/urandom | base64 > "$work/lifeboat.key"; chmod 644 "$work/lifeboat.key"
cipher_pass="$(head -c 48 /dev/urandom | base64 -w0)"
key="$work/lifeboat.key"
pgbr_conf() { # pgbr_conf FILE REPO_PATH COMPRESS_TYPE [ASYNC_SPOOL]
  local f="$1" repo="$2" ct="$3" spool="${4:-}" dir; dir="$(dirname "$1")"
  mkdir_pg "$dir" "$dir/lock" "$dir/log" "$dir/spool"
  cat > "$f.tmp" <<CONF
[global]
repo1-path=$repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$cipher_pass
repo1-retention-full=9999999
compress-type=$ct
compress-level=1
process-max=2
start-fast=y
archive-copy=y
archive-async=$([ -n "$spool" ] && echo y || echo n)
spool-path=${spool:-$dir/spool}
lock-path=$dir/lock
log-path=$dir/log
log-level-console=warn

[bench]
pg1-path=$data
pg1-socket-path=$work
pg1-port=$port
pg1-user=postgres
CONF
  [ -n "$root" ] && chown postgres: "$f.tmp"
  chmod 600 "$f.tmp"; mv "$f.tmp" "$f"
}
pgbr_type() { [ "$1" = zstd ] && echo zst || echo lz4; }
lb_level() { [ "$1" = zstd ] && echo low || echo lz4; }
lb_init() { as_pg "$lb" repo-init --repo "file://$1" --key-file "$key" >/dev/null; }
pgbr() { as_pg pgbackrest --config="$1" --stanza=bench "${@:2}"; }

# archive_command pushes to the pgBackRest repositories of the round (one per compression): pgBackRest's backups
# wait until their WAL is archived (archive-check) and copy it into the backup (archive-copy), so they restore on
# their own like Lifeboat's, which keep the WAL written during the copy in the backup itself (replication slot)
ac=""
for c in $compressions; do
  ac="${ac:+$ac && }pgbackrest --config=$work/pgbr-$c/pgbackrest.conf --stanza=bench archive-push %p"
done

# Every round gets new, empty repositories. archive_command must never find the pgBackRest repository missing (the
# archiver would stall for a minute), so the new one is created with its stanza first, then the configuration file
# that archive_command reads is switched over, and only then the previous round's repositories are removed.
repos=""
new_repos() {
  local c old="$repos"
  repos="$work/repos-$round"; mkdir_pg "$repos"
  for c in $compressions; do
    lb_init "$repos/lifeboat-$c"
    pgbr_conf "$work/pgbr-$c/next.conf" "$repos/pgbackrest-$c" "$(pgbr_type "$c")"
    pgbr "$work/pgbr-$c/next.conf" stanza-create >/dev/null
    mv "$work/pgbr-$c/next.conf" "$work/pgbr-$c/pgbackrest.conf"
  done
  [ -z "$old" ] || rm -rf "$old"
}
settle
new_repos
psql_ -c "alter system set archive_command = '$ac'" -c "select pg_reload_conf()" >/dev/null
for c in $compressions; do pgbr "$work/pgbr-$c/pgbackrest.conf" check >/dev/null; done
# first use of each Lifeboat JVM mode writes its class-data-sharing archive: do that before any measurement
as_pg "$lb" list --repo "file://$repos/lifeboat-${compressions%% *}" --key-file "$key" >/dev/null
as_pg "$lb" list --repo "file://$repos/lifeboat-${compressions%% *}" --key-file "$key" >/dev/null

# a queue of the spooled segments as PostgreSQL leaves them: pg_wal/ with archive_status/*.ready
wal_queue() {
  local q="$1" f
  mkdir_pg "$q" "$q/archive_status"
  for f in "$work"/walsrc/*; do
    ln "$f" "$q/"
    : > "$q/archive_status/$(basename "$f").ready"
  done
  [ -n "$root" ] && chown -R postgres: "$q"
  return 0
}
# what PostgreSQL's archiver does with the backlog: archive_command per ready segment, oldest first, .ready -> .done.
# The wall time counts from the end of the first push: a server's archiver has its helpers running (Lifeboat's
# resident pusher, which the agent keeps running or the first call starts; pgBackRest's async process), so the
# throughput is the steady state; CPU time still counts every call, the first one's JVM start included.
archiver='q="$1"; wallfile="$2"; shift 2; t0=""
for r in "$q"/archive_status/*.ready; do
  f="$(basename "$r" .ready)"
  "$@" "$q/$f" || exit 1
  mv "$r" "$q/archive_status/$f.done"
  [ -n "$t0" ] || t0=$(date +%s.%N)
done
echo "$(date +%s.%N) - $t0" | bc > "$wallfile"'

# ---- the rounds ------------------------------------------------------------------------------------------------
incr_tx=$((scale * 7))
t_start=$(date +%s)
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order="lifeboat pgbackrest"; else order="pgbackrest lifeboat"; fi
  log "round $round/$rounds ($order)"
  if [ "$round" -gt 1 ]; then settle; new_repos; for c in $compressions; do pgbr "$work/pgbr-$c/pgbackrest.conf" check >/dev/null; done; fi
  for kind in full incr; do
    if [ $kind = incr ]; then
      log "  pgbench -n -t $incr_tx -c 1 (changes for the incremental)"
      as_pg "$pgbin/pgbench" -h "$work" -p "$port" -n -t "$incr_tx" -c 1 postgres >/dev/null 2>&1
    fi
    for c in $compressions; do
      for t in $order; do
        settle
        if [ $t = lifeboat ]; then
          timed "$kind-$c" lifeboat "$repos/lifeboat-$c" "${asu[@]}" "$lb" backup --repo "file://$repos/lifeboat-$c" \
            --key-file "$key" --pgdata "$data" --type "$kind" --compress "$(lb_level "$c")" --parallel 2 -q
        else
          timed "$kind-$c" pgbackrest "$repos/pgbackrest-$c/backup" \
            "${asu[@]}" pgbackrest --config="$work/pgbr-$c/pgbackrest.conf" --stanza=bench --type="$kind" backup
        fi
      done
    done
  done
  # untimed: write and remove as much as a restore writes, so the first restore of a round finds free memory as
  # the later ones do (whoever restored first paid 1.5-2 s more CPU, the kernel reclaiming page cache for it)
  dd if=/dev/zero of="$work/prime" bs=1M count=$((data_bytes / 1048576)) status=none && rm -f "$work/prime"
  for c in $compressions; do
    for t in $order; do
      target="$work/restore"; rm -rf "$target"; mkdir_pg "$target"
      settle
      if [ $t = lifeboat ]; then
        timed "restore-$c" lifeboat "$target" "${asu[@]}" "$lb" restore --repo "file://$repos/lifeboat-$c" --key-file "$key" \
          --target "$target" --parallel 2 -q
      else
        timed "restore-$c" pgbackrest "$target" \
          "${asu[@]}" pgbackrest --config="$work/pgbr-$c/pgbackrest.conf" --stanza=bench --pg1-path="$target" restore
      fi
      [ -f "$target/global/pg_control" ] || die "$t restore left no global/pg_control"
      rm -rf "$target"
    done
  done
  # archive_command throughput: a fresh repository per tool and mode, the same segments
  for mode in sync async; do
    for t in $order; do
      # the queue sits in a stand-in data directory (pgBackRest wants %p under pg1-path, and reads its pg_control)
      d="$work/wal-$t-$mode"; rm -rf "$d"; mkdir_pg "$d" "$d/pgdata" "$d/pgdata/global"
      cp "$data/global/pg_control" "$d/pgdata/global/"; [ -n "$root" ] && chown postgres: "$d/pgdata/global/pg_control"
      wal_queue "$d/pgdata/pg_wal"
      if [ $t = lifeboat ]; then
        lb_init "$d/repo"
        # both modes name a spool: the first call's JVM leaves a pusher that answers the later calls through the
        # launcher (synchronous: only what is asked; --async: also the ready segments ahead)
        mkdir_pg "$d/spool"
        args=(wal-push --repo "file://$d/repo" --key-file "$key" --spool-dir "$d/spool" --process-max 2)
        [ $mode = async ] && args+=(--async)
        sizedir="$d/repo"; cmd=("$lb" "${args[@]}")
      else
        pgbr_conf "$d/conf/pgbackrest.conf" "$d/repo" zst "$([ $mode = async ] && echo "$d/spool")"
        [ $mode = async ] && mkdir_pg "$d/spool"
        sed -i "s|^pg1-path=.*|pg1-path=$d/pgdata|" "$d/conf/pgbackrest.conf"
        pgbr "$d/conf/pgbackrest.conf" --pg1-path="$data" stanza-create >/dev/null
        sizedir="$d/repo/archive"; cmd=(pgbackrest --config="$d/conf/pgbackrest.conf" --stanza=bench archive-push)
      fi
      settle
      timed "wal-$mode" "$t" "$sizedir" "${asu[@]}" bash -c "$archiver" archiver "$d/pgdata/pg_wal" "$work/wall.steady" "${cmd[@]}"
      n_done=$(find "$d/pgdata/pg_wal/archive_status" -name '*.done' | wc -l)
      [ "$n_done" = "$((segments + 1))" ] || die "$t wal-push $mode archived $n_done of $((segments + 1)) segments"
      if [ $mode = async ] || [ $t = lifeboat ]; then   # the pusher really ran
        [ -e "$d/spool/push.alive" ] || [ -d "$d/spool/archive/bench/out" ] || die "$t: no trace of its pusher in $d/spool"
      fi
      rm -rf "$d"
    done
  done
  log "round $round done ($(( $(date +%s) - t_start )) s so far)"
done
elapsed=$(( $(date +%s) - t_start ))

# ---- the report ------------------------------------------------------------------------------------------------
median() { sort -g | awk 'BEGIN { OFMT = "%.6f" } {a[NR]=$1} END { if (NR == 0) exit; print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v op="$1" -v t="$2" -v c="$3" '$2 == op && $3 == t { print $c }' "$results" | median; }
fmt() { LC_ALL=C printf "%.${2}f" "$1"; }
ratio() { if [ "$(echo "$2 > 0" | bc)" = 1 ]; then fmt "$(echo "$1 / $2" | bc -l)" 2; else echo "—"; fi; }
mib() { fmt "$(echo "$1 / 1048576" | bc -l)" 1; }
label() {
  local c; c="$(echo "$1" | sed 's/.*-//')"; local alg; alg=$([ "$c" = zstd ] && echo "zstd-1" || echo "lz4")
  case "$1" in
    full-*) echo "full backup, $alg" ;;
    incr-*) echo "incremental backup, $alg" ;;
    restore-*) echo "restore, $alg repository" ;;
    wal-sync) echo "archive_command, $segments segments, synchronous" ;;
    wal-async) echo "archive_command, $segments segments, asynchronous" ;;
  esac
}
ops=""
for kind in full incr restore; do for c in $compressions; do ops="$ops $kind-$c"; done; done
ops="$ops wal-sync wal-async"

table="$work/table.md"
{
  echo "Medians per tool and operation:"
  echo
  echo "| operation | tool | wall s | CPU s | peak RSS MiB | stored MiB |"
  echo "|---|---|--:|--:|--:|--:|"
  for op in $ops; do
    for t in lifeboat pgbackrest; do
      w=$(col "$op" $t 4); c=$(col "$op" $t 5); m=$(col "$op" $t 6); b=$(col "$op" $t 7)
      case "$op" in restore-*) st="($(mib "$b") restored)" ;; *) st=$(mib "$b") ;; esac
      echo "| $(label "$op") | $([ $t = lifeboat ] && echo Lifeboat || echo pgBackRest) | $(fmt "$w" 2) | $(fmt "$c" 2) | $(fmt "$(echo "$m / 1024" | bc -l)" 0) | $st |"
    done
  done
  echo
  echo "Ratios of the medians (speed, CPU and peak RSS: pgBackRest / Lifeboat, above 1 means Lifeboat is faster or uses less;"
  echo "bytes: Lifeboat / pgBackRest, below 1 means Lifeboat stores less):"
  echo
  echo "| operation | speed ratio | CPU ratio | RSS ratio | bytes ratio |"
  echo "|---|--:|--:|--:|--:|"
  for op in $ops; do
    lw=$(col "$op" lifeboat 4); pw=$(col "$op" pgbackrest 4)
    lc=$(col "$op" lifeboat 5); pc=$(col "$op" pgbackrest 5)
    lb_=$(col "$op" lifeboat 7); pb=$(col "$op" pgbackrest 7)
    lm=$(col "$op" lifeboat 6); pm=$(col "$op" pgbackrest 6)
    case "$op" in restore-*) br="—" ;; *) br=$(ratio "$lb_" "$pb") ;; esac
    echo "| $(label "$op") | **$(ratio "$pw" "$lw")** | $(ratio "$pc" "$lc") | $(ratio "$pm" "$lm") | $br |"
  done
  echo
  echo "The incremental after the pgbench run as a share of the same tool's full backup (median wall and CPU times):"
  echo
  echo "| compression | Lifeboat wall | Lifeboat CPU | pgBackRest wall | pgBackRest CPU |"
  echo "|---|--:|--:|--:|--:|"
  for c in $compressions; do
    share() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f %%", a / b * 100; else print "—" }'; }
    echo "| $([ "$c" = zstd ] && echo "zstd-1" || echo "lz4") |" \
      "$(share "$(col "incr-$c" lifeboat 4)" "$(col "full-$c" lifeboat 4)") |" \
      "$(share "$(col "incr-$c" lifeboat 5)" "$(col "full-$c" lifeboat 5)") |" \
      "$(share "$(col "incr-$c" pgbackrest 4)" "$(col "full-$c" pgbackrest 4)") |" \
      "$(share "$(col "incr-$c" pgbackrest 5)" "$(col "full-$c" pgbackrest 5)") |"
  done
  echo
  echo "archive_command throughput (median segments per second, one command per segment as PostgreSQL runs it):"
  echo
  echo "| mode | Lifeboat segments/s | pgBackRest segments/s | ratio Lifeboat/pgBackRest |"
  echo "|---|--:|--:|--:|"
  for mode in sync async; do
    ls_=$(awk -F'\t' -v op="wal-$mode" -v s="$segments" 'BEGIN { OFMT = "%.6f" } $2 == op && $3 == "lifeboat" { print s / $4 }' "$results" | median)
    ps_=$(awk -F'\t' -v op="wal-$mode" -v s="$segments" 'BEGIN { OFMT = "%.6f" } $2 == op && $3 == "pgbackrest" { print s / $4 }' "$results" | median)
    echo "| $([ $mode = sync ] && echo "synchronous (\`wal-push\` / \`archive-push\`)" || echo "asynchronous (\`--async\` spool / \`archive-async=y\`)") | $(fmt "$ls_" 1) | $(fmt "$ps_" 1) | **$(ratio "$ls_" "$ps_")** |"
  done
} > "$table"

# what moved since the figures the document holds now: every bold ratio of the previous section, by its row label,
# against this run's; a ratio that changed by 15 % or more either way is called out (stderr and the section)
moved="$work/moved.md"; : > "$moved"
if [ -f "$doc" ]; then
  # the speed ratios: the bold third column of the ratio table (the throughput table repeats archive_command's)
  bold_ratios() { awk -F'|' 'NF > 4 && $3 ~ /^ *\*\*[0-9.]+\*\* *$/ {
      l = $2; gsub(/^ +| +$/, "", l); r = $3; gsub(/[ *]/, "", r); print l "\t" r }' "$@"; }
  prev_when="$(awk '/<!-- compare-pgbackrest:begin -->/,/<!-- compare-pgbackrest:end -->/' "$doc" \
    | sed -n 's/^on \([0-9-]* [0-9:]* UTC\).*/\1/p' | head -n 1)"
  awk '/<!-- compare-pgbackrest:begin -->/,/<!-- compare-pgbackrest:end -->/' "$doc" | bold_ratios > "$work/prev.tsv"
  bold_ratios "$table" > "$work/now.tsv"
  awk -F'\t' -v when="${prev_when:-the previous run}" '
    NR == FNR { prev[$1] = $2; next }
    ($1 in prev) && prev[$1] > 0 {
      ch = ($2 - prev[$1]) / prev[$1] * 100
      flag = (ch >= 15 || ch <= -15) ? (ch > 0 ? " **better**" : " **worse**") : ""
      rows = rows sprintf("| %s | %s | %s | %+.0f %%%s |\n", $1, prev[$1], $2, ch, flag)
      if (flag != "") n++
    }
    END {
      if (rows == "") exit
      print "Compared with the figures this section held before (" when "): " (n ? n " ratio(s) moved by 15 % or more." : "no ratio moved by 15 % or more.")
      print ""; print "| operation | ratio before | ratio now | change |"; print "|---|--:|--:|--:|"; printf "%s", rows
    }' "$work/prev.tsv" "$work/now.tsv" > "$moved"
  if [ -s "$moved" ]; then
    log "compared with the document's previous figures:"; sed 's/^/  /' "$moved" >&2
  fi
fi

# machine, versions, settings
cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
mem_total="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
read -r fs_src fs_type < <(findmnt -no SOURCE,FSTYPE -T "$work" | head -n 1)
disk_dev="$(lsblk -no PKNAME "$fs_src" 2>/dev/null | head -n 1 || true)"; disk_dev="${disk_dev:-$(basename "$fs_src")}"
disk_info="$(lsblk -dno NAME,SIZE,ROTA,MODEL "/dev/$disk_dev" 2>/dev/null | awk '{ printf "%s, %s, %s%s", $1, $2, ($3 == 1 ? "reported rotational" : "reported non-rotational"), (NF > 3 ? ", " substr($0, index($0, $4)) : "") }' || true)"
commit="$(cd "$here" && GIT_OPTIONAL_LOCKS=0 git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(cd "$here" && GIT_OPTIONAL_LOCKS=0 git diff-index --quiet HEAD -- 2>/dev/null && echo "" || echo " (working tree had uncommitted changes)")"
jar_date="$(date -u -r "$lb_home/cli/target/lifeboat.jar" '+%Y-%m-%d %H:%M UTC')"
pgbr_version="$(pgbackrest version)"
pg_version="$("$pgbin/postgres" --version)"
java_version="$("$java" -version 2>&1 | head -n 1)"
load="$(cut -d' ' -f1-3 /proc/loadavg)"

section="$work/section.md"
{
  echo "<!-- compare-pgbackrest:begin -->"
  echo "## Lifeboat vs pgBackRest"
  echo
  echo "Written by \`bench/compare-pgbackrest.sh --scale $scale --rounds $rounds --segments $segments --compress \"$compressions\"\`"
  echo "on $(date -u '+%Y-%m-%d %H:%M UTC') ($((elapsed / 60)) min $((elapsed % 60)) s of measurements). Medians of $rounds round(s); the tools ran in"
  echo "alternation (odd rounds Lifeboat first, even rounds pgBackRest first)."
  echo
  echo "- **Speed ratio** = pgBackRest time / Lifeboat time (above 1: Lifeboat is faster); CPU ratio likewise."
  echo "- **Bytes ratio** = Lifeboat bytes / pgBackRest bytes (below 1: Lifeboat stores less)."
  echo "- CPU = user + sys of the whole process tree (background pushers included); peak RSS = the largest single process."
  echo "- Stored = growth of the repository: Lifeboat's whole repository; pgBackRest's \`backup/\` directory for backups"
  echo "  (its \`archive/\` directory grows with the server's continuous archiving, which Lifeboat's backups do not need) and"
  echo "  its \`archive/\` directory for archive_command. For restores the column shows the size of the restored directory."
  echo "- Every command's fixed costs count: Lifeboat starts a JVM per command; pgBackRest's backup waits for the next"
  echo "  second to start and for its WAL to reach the archive. The smaller the database, the more they weigh."
  echo
  cat "$table"
  echo
  if [ -s "$moved" ]; then
    echo "### What moved"
    echo
    cat "$moved"
    echo
  fi
  echo "### Data"
  echo
  echo "- pgbench scale $scale: database $(mib "$db_bytes") MiB, data directory without \`pg_wal\` $(mib "$data_bytes") MiB."
  echo "- Incremental: after \`pgbench -n -t $incr_tx -c 1\` (scale × 7 transactions) on top of the round's full backup."
  echo "- archive_command: $segments segments ($(mib "$wal_bytes") MiB) of WAL written by pgbench transactions (\`-c 2 -t 5000\` batches,"
  echo "  a checkpoint after each, so pages are logged in full again as in production; \`wal_compression\` off), pushed from a"
  echo "  copy of \`pg_wal/\` with \`archive_status/*.ready\` files by a loop that does what PostgreSQL's archiver does:"
  echo "  one command per segment, oldest first, \`.ready\` renamed to \`.done\` on success. The loop pushes one segment more"
  echo "  than it times: the wall time starts after the first push, which starts each tool's helper (Lifeboat's resident pusher,"
  echo "  which the agent keeps running; pgBackRest's async process), so segments/s is the steady state. CPU counts every call,"
  echo "  the first one's JVM start included."
  echo
  echo "### Settings"
  echo
  echo "Both tools run as \`postgres\`, each into its own local-disk repository under \`/tmp\` that is new every round (so every"
  echo "full backup is a first one: no deduplication against earlier backups), with 2 processes, encryption on, and the"
  echo "same compression algorithm and level. Before every measurement the server has archived all ready WAL and run a"
  echo "\`CHECKPOINT\`, and the file system has been synced; the page cache is not dropped (the cluster fits in memory)."
  echo "Before the restores of a round a file of the data directory's size is written and removed, untimed, so the first"
  echo "restore finds free memory as the later ones do (without it, whichever tool restored first paid 1.5–2 s more CPU)."
  echo
  echo "| | Lifeboat | pgBackRest |"
  echo "|---|---|---|"
  echo "| full / incremental | \`lifeboat backup --repo file://… --key-file … --pgdata … --type full\\|incr --compress low\\|lz4 --parallel 2 -q\` | \`pgbackrest --config=… --stanza=bench --type=full\\|incr backup\` |"
  echo "| restore (latest backup, i.e. the round's incremental) | \`lifeboat restore --target EMPTY --parallel 2 -q\` (no \`--validate\`) | \`pgbackrest --config=… --stanza=bench --pg1-path=EMPTY restore\` |"
  echo "| archive_command | \`lifeboat wal-push --repo … --key-file … --spool-dir … --process-max 2 %p\` (the first call's JVM leaves a pusher that answers the rest through the launcher, without a JVM); async: the same with \`--async\` (the pusher also archives ahead) | \`pgbackrest --config=… --stanza=bench archive-push %p\`; async: \`archive-async=y\`, \`spool-path=…\` |"
  echo "| compression | zstd level 1 (\`--compress low\`) or lz4 (\`--compress lz4\`); WAL always zstd-1 | \`compress-type=zst compress-level=1\` or \`compress-type=lz4\`; WAL with zst level 1 |"
  echo "| processes | \`--parallel 2\`; async WAL \`--process-max 2\` | \`process-max=2\` |"
  echo "| encryption | AES-256-GCM, key file | \`repo1-cipher-type=aes-256-cbc\`, passphrase |"
  echo "| WAL for consistency | kept in the backup (temporary replication slot); no archiving needed | \`archive-check=y\` (default) with \`archive_command\` pushing to pgBackRest, \`archive-copy=y\` copies the WAL into the backup |"
  echo "| other | fast checkpoint (always) | \`start-fast=y\`; \`repo1-retention-full=9999999\`; otherwise defaults (no bundling, no block incremental in 2.45, page checksums not verified as the cluster has none) |"
  echo
  echo "PostgreSQL: \`initdb -A trust\` defaults (no data checksums, \`shared_buffers\` 128 MB), \`wal_level=replica\`,"
  echo "\`archive_mode=on\`, \`archive_command\` = pgBackRest's \`archive-push\` into each of the round's pgBackRest repositories"
  echo "(also while Lifeboat runs), \`max_wal_size=4GB\`, \`checkpoint_timeout=30min\`."
  echo
  echo "### Machine and versions"
  echo
  echo "- $(nproc) CPUs ($cpu_model), $mem_total memory, kernel $(uname -r), $fs_type on ${disk_info:-$fs_src}; load average $load_start at the start, $load at the end."
  echo "  The machine was shared with other work, so expect some noise."
  echo "- Lifeboat $commit$dirty, jar built $jar_date; $java_version."
  echo "- $pgbr_version (Debian package $(dpkg-query -W -f '${Version}' pgbackrest 2>/dev/null || echo '?'))."
  echo "- $pg_version."
  echo
  echo "<details><summary>Every run (round, operation, tool, wall s, CPU s, peak RSS KiB, bytes)</summary>"
  echo
  echo "| round | operation | tool | wall s | CPU s | peak RSS KiB | bytes |"
  echo "|--:|---|---|--:|--:|--:|--:|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$results"
  echo
  echo "</details>"
  echo "<!-- compare-pgbackrest:end -->"
} > "$section"

# write the section into the document: replace what is between the markers, keep everything else
mkdir -p "$(dirname "$doc")"
if [ ! -f "$doc" ]; then
  cat > "$doc" <<'DOC'
# Benchmarks

Measurements of Lifeboat on real PostgreSQL clusters. Every section is written by a script under `bench/`, which
replaces only its own section (between its markers), so sections from different scripts live side by side.

`bench/compare-pgbackrest.sh` compares Lifeboat with pgBackRest (the Debian package) at comparable settings: full
backup, incremental backup, full restore and archive_command throughput, each measured for wall time, CPU time,
peak memory and bytes stored, in alternation over several rounds.

## How to run

```sh
bench/compare-pgbackrest.sh                         # pgbench scale 100 (~1.5 GB), 3 rounds; as root
bench/compare-pgbackrest.sh --scale 50 --rounds 3   # scale 50 (~750 MB): under 15 minutes on 2 cores
```

It installs `pgbackrest` (Debian) if missing, builds Lifeboat if `cli/target/lifeboat.jar` is missing,
starts a throwaway PostgreSQL 15 cluster in a temporary directory, measures, writes the section below and removes
everything it made, also on failure or Ctrl-C. Options: `--scale N`, `--rounds N`, `--segments N` (WAL segments per
archive_command measurement, default 32), `--compress "zstd lz4"`, `--doc FILE`; or the environment variables
`SCALE`, `ROUNDS`, `SEGMENTS`, `COMPRESS`, `DOC`. Progress goes to stderr.

DOC
fi
if grep -q '<!-- compare-pgbackrest:begin -->' "$doc" && grep -q '<!-- compare-pgbackrest:end -->' "$doc"; then
  awk -v sec="$section" '
    /<!-- compare-pgbackrest:begin -->/ { while ((getline l < sec) > 0) print l; skip = 1; next }
    /<!-- compare-pgbackrest:end -->/ { skip = 0; next }
    !skip { print }' "$doc" > "$doc.tmp.$$"
else
  { cat "$doc"; echo; cat "$section"; } > "$doc.tmp.$$"
fi
mv "$doc.tmp.$$" "$doc"
[ -n "$root" ] && [ -n "${SUDO_UID:-}" ] && chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$doc" || true
log "wrote $doc"
cat "$table"
