#!/usr/bin/env bash
# The crash matrix (docs/testing.md, "Crash matrix"): backup (full, incr, diff), restore, wal-push (sync and async),
# wal-stream, expire and gc, each killed (Runtime.halt, as kill -9) at 10 or more points; every point then checks what
# a user would see. Usage: bench/crash-matrix.sh [full|ci] [TEST_CLASSES] (default: full, every class). Run as root
# (the tests start PostgreSQL 15 clusters as the postgres user). Prints one line per point; exits non-zero if any failed.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
size="${1:-full}"
classes="${2:-dev.lifeboat.crash.*Test}"
java="$("$here/bin/find-java")"
export JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$java")")")"
export LIFEBOAT_CRASH_MATRIX="$size"
cd "$here"
report="$here/system-tests/target/crash-matrix.txt"
mkdir -p "$here/system-tests/target"; rm -f "$report"
start=$(date +%s)
status=0
# one reactor build (-am) instead of installing the upstream modules into the shared ~/.m2
./mvnw -B -pl system-tests -am -Dtest="$classes" -Dsurefire.failIfNoSpecifiedTests=false -Dlifeboat.crash.matrix="$size" verify \
  > "$here/system-tests/target/crash-matrix-maven.log" 2>&1 || status=$?
echo "crash matrix ($size) in $(( $(date +%s) - start )) s; one line per crash point ($report):"
[ -f "$report" ] && cut -d' ' -f2- "$report"
grep -E "Tests run:.*Fail|BUILD|ERROR\]" "$here/system-tests/target/crash-matrix-maven.log" | tail -15 || true
echo "failure details: system-tests/target/surefire-reports/dev.lifeboat.crash.*.txt"
exit $status
