#!/usr/bin/env bash
# Capture throughput of firn-agent's wrap mode.
#
# A child writes LINES log lines (~110 bytes each) to stdout and as many to stderr, as fast
# as the pipes take them (`cat` of a prepared file). The same child runs once with both
# streams to /dev/null (the baseline) and once wrapped by firn (--no-passthrough, Parquet
# to a temp dir), and optionally wrapped with passthrough to /dev/null. Prints lines/s,
# MiB/s, CPU seconds and peak RSS, and the ratios to the baseline.
#
# Usage: bench/capture.sh [LINES]        (default 1000000 per stream)
#   FIRN=path/to/firn-agent to pick a binary (default: the release build).
set -euo pipefail

LINES=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIRN=${FIRN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/firn-agent}
[[ -x $FIRN ]] || { echo "no binary at $FIRN: cargo build --release -p firn-agent" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Realistic-ish lines: a timestamp, a level, a varying message.
python3 - "$LINES" "$WORK/lines.txt" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        f.write(f"2024-05-01T12:00:{i % 60:02d}.{i % 1000:03d}Z INFO request id={i:08d} "
                f"path=/api/v1/items/{i * 7919 % 100000} status=200 took_ms={i % 250}\n")
PY
BYTES=$(($(stat -c %s "$WORK/lines.txt") * 2))
TOTAL_LINES=$((LINES * 2))
CHILD=(sh -c 'cat "$0" & cat "$0" >&2; wait' "$WORK/lines.txt")

# Runs "$@" under GNU time (its output already redirected by the caller); writes
# "wall user sys maxrss_kib" to $WORK/m.txt.
measure() {
    /usr/bin/time -v -o "$WORK/time.txt" "$@" || true
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = (n == 3) ? p[1] * 3600 + p[2] * 60 + p[3] : p[1] * 60 + p[2] }
        /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
        END { printf "%.3f %.3f %.3f %d\n", w, u, s, r }' "$WORK/time.txt" >"$WORK/m.txt"
}

measure "${CHILD[@]}" >/dev/null 2>&1
read -r b_wall b_user b_sys b_rss <"$WORK/m.txt"

run_firn() { # $1 = label, rest = extra firn flags
    local label=$1; shift
    rm -rf "$WORK/out"
    measure "$FIRN" --output "$WORK/out" "$@" -- "${CHILD[@]}" 2>"$WORK/firn.log" >/dev/null
    read -r wall user sys rss <"$WORK/m.txt"
    local rows
    rows=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/firn.log" | grep -o 'Stopped files=[0-9]* rows=[0-9]*' | grep -o 'rows=[0-9]*' | cut -d= -f2 || echo "?")
    local parquet_mib
    parquet_mib=$(du -sk "$WORK/out" | awk '{printf "%.1f", $1 / 1024}')
    # GNU time counts firn and its children; the child's own CPU is the baseline's.
    local firn_cpu
    firn_cpu=$(awk -v u="$user" -v s="$sys" -v bu="$b_user" -v bs="$b_sys" 'BEGIN { printf "%.2f", (u + s) - (bu + bs) }')
    printf '%-40s %8.2f s %12.0f %9.1f %9.2f %9.2f %8.1f   rows=%s parquet=%s MiB\n' \
        "$label" "$wall" "$(awk -v n=$TOTAL_LINES -v w="$wall" 'BEGIN{print n / w}')" \
        "$(awk -v b=$BYTES -v w="$wall" 'BEGIN{print b / w / 1048576}')" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}')" "$firn_cpu" \
        "$(awk -v r="$rss" 'BEGIN{print r / 1024}')" "$rows" "$parquet_mib"
    echo "$wall $firn_cpu $rss" >"$WORK/last.txt"
}

echo "firn-agent capture benchmark: $TOTAL_LINES lines, $(awk -v b=$BYTES 'BEGIN{printf "%.1f", b / 1048576}') MiB (stdout + stderr), $(nproc) cores"
echo "binary: $FIRN"
printf '%-40s %10s %12s %9s %9s %9s %8s\n' "run" "wall" "lines/s" "MiB/s" "cpu s" "firn cpu" "RSS MiB"
printf '%-40s %8.2f s %12.0f %9.1f %9.2f %9s %8.1f\n' "child -> /dev/null (baseline)" "$b_wall" \
    "$(awk -v n=$TOTAL_LINES -v w="$b_wall" 'BEGIN{print n / w}')" \
    "$(awk -v b=$BYTES -v w="$b_wall" 'BEGIN{print b / w / 1048576}')" \
    "$(awk -v u="$b_user" -v s="$b_sys" 'BEGIN{print u + s}')" "-" "$(awk -v r="$b_rss" 'BEGIN{print r / 1024}')"

run_firn "firn --no-passthrough (INFO)" --no-passthrough
read -r f_wall f_cpu f_rss <"$WORK/last.txt"
run_firn "firn passthrough->/dev/null (INFO)"
run_firn "firn --no-passthrough --log-level NONE" --no-passthrough --log-level NONE

echo
awk -v fw="$f_wall" -v bw="$b_wall" -v fc="$f_cpu" -v n=$TOTAL_LINES 'BEGIN {
    printf "ratio wall (firn INFO / baseline): %.1fx\n", fw / bw
    printf "firn CPU per million lines: %.2f s\n", fc / n * 1e6
}'
