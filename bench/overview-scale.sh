#!/usr/bin/env bash
# How the dashboard's overview and /api/v1/status scale with the inventory: a real controller per size, simulated
# agents over the real agent link (controller/src/test/java/dev/lifeboat/controller/OverviewScaleBench.java).
#   bench/overview-scale.sh                       # 125, 250, 500 and 1,000 databases, 30 requests each
#   bench/overview-scale.sh --sizes 100,1000 --requests 50
# Prints a Markdown table and replaces its section of docs/benchmarks.md (between the overview-scale markers).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
sizes=125,250,500,1000
requests=30
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    *) echo "usage: bench/overview-scale.sh [--sizes N,N,...] [--requests N]" >&2; exit 2 ;;
  esac
done
java_bin="$("$here/bin/find-java")"
export JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$java_bin")")")}"
cd "$here"
mkdir -p target
./mvnw -B -q -o install -DskipTests -Djacoco.skip -pl common,proto,security,controller -am >/dev/null
./mvnw -B -q -o -pl controller test -Djacoco.skip -Dsurefire.failIfNoSpecifiedTests=false \
  -Dtest=OverviewScaleBench -Dlifeboat.bench=true -Dlifeboat.bench.sizes="$sizes" \
  -Dlifeboat.bench.requests="$requests" -Dlifeboat.bench.out="$here/target/overview-scale.md" \
  -DtrimStackTrace=false -Dsurefire.useFile=false | grep '^\[overview-scale\]' || true
cat target/overview-scale.md
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
python3 - "$here/docs/benchmarks.md" "$here/target/overview-scale.md" "$cpu" "$sizes" "$requests" <<'PY'
import sys, datetime
doc, table, cpu, sizes, requests = sys.argv[1:]
begin, end = "<!-- overview-scale:begin -->", "<!-- overview-scale:end -->"
body = (f"{begin}\nMeasured {datetime.date.today()} on {cpu} by `bench/overview-scale.sh --sizes {sizes} --requests {requests}`"
        f" (medians of {requests} requests after 20 warm-up requests).\n\n" + open(table).read() + end)
text = open(doc).read()
if begin in text:
    text = text[:text.index(begin)] + body + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## Controller: the dashboard's overview with many databases\n\n" + body + "\n"
open(doc, "w").write(text)
PY
