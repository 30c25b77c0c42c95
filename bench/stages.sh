#!/usr/bin/env bash
# JMH micro-benchmarks of each backup data-path stage (chunking, compression at each level, AES-256-GCM, SHA-256 and
# the keyed chunk id, pack writing) and of the whole pipeline, on PostgreSQL heap pages: builds benchmarks/ and runs
# it, then writes MB/s per core next to each stage's single-core ceiling into docs/benchmarks-stages.md.
#
# Usage: bench/stages.sh [--quick] [--bytes SIZE] [--pgdata DIR] [--doc FILE] [--fresh-data] [--no-build] [-- JMH ARGS]
#   --quick        64 MiB per data set and short iterations (about 3 minutes on 2 cores; a check, not numbers);
#                  the report goes to benchmarks/target/benchmarks-stages-quick.md unless --doc says otherwise
#   --bytes SIZE   heap pages per data set (default 1g; e.g. 256m). Also LIFEBOAT_BENCH_BYTES
#   --pgdata DIR   read relation files from DIR (e.g. a pgbench cluster's base/) instead of generating both data sets
#   --fresh-data   regenerate the data sets (they are cached in $TMPDIR/lifeboat-bench-data between runs)
#   -- ARGS        passed to JMH, e.g. -- 'Compression' -p dataset=realistic   (one benchmark class, one data set);
#                  such a partial run reports to benchmarks/target/benchmarks-stages-partial.md unless --doc says otherwise
# Without --pgdata the data comes from a throwaway PostgreSQL 15 cluster (pgbench -i plus an `orders` table); run as
# root or as a user that can run PostgreSQL. Takes about 15 minutes on 2 cores with the default 1 GiB.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
quick=0; bytes="${LIFEBOAT_BENCH_BYTES:-}"; pgdata=""; doc=""; fresh=0; build=1; jmh_extra=()
args_given="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --bytes) bytes="$2"; shift ;;
    --pgdata) pgdata="$(readlink -f "$2")"; shift ;;
    --doc) doc="$2"; shift ;;
    --fresh-data) fresh=1 ;;
    --no-build) build=0 ;;
    --) shift; jmh_extra=("$@"); break ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/stages.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  bytes="${bytes:-64m}"
  doc="${doc:-$here/benchmarks/target/benchmarks-stages-quick.md}"
  iters=(-f 1 -wi 1 -w 1s -i 3 -r 1s)
else
  bytes="${bytes:-1g}"
  if [ ${#jmh_extra[@]} -gt 0 ]; then doc="${doc:-$here/benchmarks/target/benchmarks-stages-partial.md}"; fi
  doc="${doc:-$here/docs/benchmarks-stages.md}"
  iters=(-f 1 -wi 2 -w 2s -i 10 -r 1s)
fi

java="$("$here/bin/find-java")"
export JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$java")")")"
if [ "$build" = 1 ]; then
  echo "building benchmarks/target/benchmarks.jar …" >&2
  (cd "$here" && ./mvnw -B -q -pl benchmarks -am package -Dmaven.test.skip=true)
fi
jar="$here/benchmarks/target/benchmarks.jar"
out="$here/benchmarks/target"
json="$out/stages.json"
log="$out/stages.log"
cache="${TMPDIR:-/tmp}/lifeboat-bench-data"
if [ "$fresh" = 1 ]; then rm -f "$cache"/*.heap; fi

# scratch directories of forks that die are removed here (the forks remove their own otherwise)
marker="$(mktemp)"
cleanup() {
  find /dev/shm "${TMPDIR:-/tmp}" -maxdepth 1 -name 'lifeboat-bench-stages-*' -newer "$marker" -exec rm -rf {} + 2>/dev/null || true
  rm -f "$marker"
}
trap cleanup EXIT

# JMH forks inherit these JVM options; each benchmark adds -Xmx4g, --enable-native-access and Unsafe access for JMH
jvm=("-Dlifeboat.bench.bytes=$bytes" "-Dlifeboat.bench.cache=$cache")
source_text="generated: a throwaway PostgreSQL 15 cluster filled by \`pgbench -i\` and an \`orders\` table, deleted afterwards"
if [ -n "$pgdata" ]; then
  jvm+=("-Dlifeboat.bench.pgdata=$pgdata")
  source_text="relation files under $pgdata, largest relation first (both data sets)"
fi
cmd=("$java" "${jvm[@]}" -jar "$jar" "${iters[@]}" -rf json -rff "$json" ${jmh_extra[@]+"${jmh_extra[@]}"})

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s)
echo "running: ${cmd[*]}" >&2
"${cmd[@]}" 2>&1 | grep -v '^WARNING: ' | tee "$log"
t1=$(date +%s)
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q '<failure>' "$log"; then
  echo "bench/stages.sh: some benchmarks failed (see $log); the report leaves them out" >&2
fi

# the command line as a reader would type it, paths relative to the checkout
shown_cmd=("${cmd[@]}")
for i in "${!shown_cmd[@]}"; do
  shown_cmd[$i]="${shown_cmd[$i]/#$here\//}"
done
mkdir -p "$(dirname "$doc")"
python3 "$here/bench/stages_report.py" --json "$json" --doc "$doc" \
  --command "bench/stages.sh${args_given:+ $args_given}" --jmh-command "${shown_cmd[*]}" \
  --bytes "$(python3 -c "import sys; v=sys.argv[1].lower().rstrip('b').rstrip('i'); m={'k':1<<10,'m':1<<20,'g':1<<30}.get(v[-1:],1); n=float(v[:-1] if v[-1:] in 'kmg' else v)*m; print(f'{n/(1<<30):g} GiB' if n>=1<<30 else f'{n/(1<<20):g} MiB')" "$bytes")" \
  --cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" --nproc "$(nproc)" \
  --memory "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" \
  --java "$("$java" -version 2>&1 | head -1 | tr -d '"')" \
  --os "$( (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME") || uname -s), kernel $(uname -r)" \
  --date "$(date -u +%Y-%m-%dT%H:%MZ)" --load-before "$load_before" --load-after "$load_after" --seconds "$((t1 - t0))" \
  --source "$source_text" --log "$log" $([ "$quick" = 1 ] && echo --quick)
echo "wrote $doc" >&2
