#!/usr/bin/env bash
# File-tailing throughput of `firn-agent --once`, next to `wc -l` and `zstd -1 -T1` over the
# same bytes.
#
# About SIZE_MIB MiB of realistic log lines (mixed lengths: short access-log lines, long ones,
# JSON records, stack-trace lines) is generated once and kept in $BENCH_DIR (reused when
# present). Two layouts of the same bytes are read: one file, and 100 files (`split -n l/100`).
# For each: firn --once (default settings: zstd:1, 16 KiB lines, auto format) to a temp
# folder, then `wc -l` and `zstd -1 -T1 -c >/dev/null`, all with the input in the page cache.
# Prints wall time, MiB/s, lines/s, CPU seconds per GiB and peak RSS for each, and firn's
# time over zstd's, and firn with line recognition off (`--parse none`) for recognition's cost
# (issue 11: at most 10% slower). The aim (issue 3): firn within 1.5x of zstd -1 on one core, peak RSS under
# 64 MiB.
#
# Usage: bench/tail.sh [SIZE_MIB]        (default 1024)
#   FIRN=path/to/firn-agent to pick a binary (default: the release build)
#   BENCH_DIR=dir where the input is kept (default /tmp/firn-bench-tail)
set -euo pipefail

SIZE_MIB=${1:-1024}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIRN=${FIRN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/firn-agent}
BENCH_DIR=${BENCH_DIR:-/tmp/firn-bench-tail}
[[ -x $FIRN ]] || { echo "no binary at $FIRN: cargo build --release -p firn-agent" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (GNU time): apt-get install -y time" >&2; exit 1; }
command -v zstd >/dev/null || { echo "needs zstd" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

DATA=$BENCH_DIR/$SIZE_MIB
if [[ ! -s $DATA/one/app.log || ! -d $DATA/many ]]; then
    echo "generating $SIZE_MIB MiB of log lines in $DATA (once)..." >&2
    rm -rf "$DATA"
    mkdir -p "$DATA/one" "$DATA/many"
    python3 - "$SIZE_MIB" "$DATA/one/app.log" <<'PY'
import json, random, sys
size, path = int(sys.argv[1]) << 20, sys.argv[2]
rnd = random.Random(42)
paths = ["/api/v1/items", "/api/v1/users", "/healthz", "/api/v2/orders/search", "/static/app.js"]
words = ("cache miss hit retry timeout upstream connection pool worker queue batch flush "
         "commit rollback shard replica leader follower token session request response").split()
out, written, i = [], 0, 0
with open(path, "w") as f:
    while written < size:
        i += 1
        ts = f"2024-05-01T12:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z"
        r = rnd.random()
        if r < 0.55:  # access log, ~120 bytes
            line = (f"{ts} INFO http request id={rnd.getrandbits(64):016x} method=GET "
                    f"path={rnd.choice(paths)}/{rnd.randrange(100000)} status={rnd.choice((200, 200, 200, 404, 500))} "
                    f"took_ms={rnd.randrange(2000)}")
        elif r < 0.80:  # JSON record, ~200 bytes
            line = json.dumps({"body": " ".join(rnd.choices(words, k=rnd.randrange(3, 12))),
                               "severity_text": rnd.choice(("INFO", "WARN", "ERROR", "DEBUG")),
                               "timestamp": ts,
                               "attributes": {"user": f"u{rnd.randrange(10000)}", "shard": rnd.randrange(64),
                                              "trace_id": f"{rnd.getrandbits(128):032x}"}})
        elif r < 0.95:  # stack trace line, ~60 bytes
            line = f"    at com.example.{rnd.choice(words)}.{rnd.choice(words).title()}Service.handle({rnd.choice(words).title()}.java:{rnd.randrange(900)})"
        else:  # long line, 0.5-4 KiB
            line = f"{ts} DEBUG dump " + " ".join(f"{rnd.choice(words)}={rnd.getrandbits(32):08x}" for _ in range(rnd.randrange(30, 250)))
        out.append(line)
        written += len(line) + 1
        if len(out) >= 10000:
            f.write("\n".join(out) + "\n")
            out.clear()
    if out:
        f.write("\n".join(out) + "\n")
PY
    (cd "$DATA/many" && split -n l/100 -d -a 3 --additional-suffix=.log "$DATA/one/app.log" part-)
fi

# Runs "$@" under GNU time; writes "wall user sys maxrss_kib" to $WORK/m.txt.
measure() {
    /usr/bin/time -v -o "$WORK/time.txt" "$@"
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = (n == 3) ? p[1] * 3600 + p[2] * 60 + p[3] : p[1] * 60 + p[2] }
        /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
        END { printf "%.3f %.3f %.3f %d\n", w, u, s, r }' "$WORK/time.txt" >"$WORK/m.txt"
}

row() { # label wall user sys rss bytes lines extra
    local label=$1 wall=$2 user=$3 sys=$4 rss=$5 bytes=$6 lines=$7 extra=${8:-}
    awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v b="$bytes" -v n="$lines" -v e="$extra" 'BEGIN {
        printf "  %-22s %8.2f s %9.1f %12.0f %9.2f %10.2f %8.1f  %s\n", l, w, b / w / 1048576, n / w, u + s, (u + s) / (b / 1073741824), r / 1024, e }'
}

bench_layout() { # name glob
    local name=$1 glob=$2
    local files bytes
    # shellcheck disable=SC2206
    files=($glob)
    bytes=$(cat "${files[@]}" | wc -c)
    cat "${files[@]}" >/dev/null # into the page cache
    echo
    echo "== $name: ${#files[@]} file(s), $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b / 1048576}') MiB"
    printf '  %-22s %10s %9s %12s %9s %10s %8s\n' "run" "wall" "MiB/s" "lines/s" "cpu s" "cpu s/GiB" "RSS MiB"

    measure wc -l "${files[@]}" >"$WORK/wc.txt"
    local lines
    lines=$(tail -n 1 "$WORK/wc.txt" | awk '{print $1}')
    read -r w_wall w_user w_sys w_rss <"$WORK/m.txt"
    row "wc -l" "$w_wall" "$w_user" "$w_sys" "$w_rss" "$bytes" "$lines"

    measure zstd -1 -T1 -q -c "${files[@]}" >"$WORK/z.zst"
    read -r z_wall z_user z_sys z_rss <"$WORK/m.txt"
    local z_size
    z_size=$(stat -c %s "$WORK/z.zst")
    rm -f "$WORK/z.zst"
    row "zstd -1 -T1" "$z_wall" "$z_user" "$z_sys" "$z_rss" "$bytes" "$lines" \
        "$(awk -v b="$bytes" -v z="$z_size" 'BEGIN{printf "ratio %.1fx", b / z}')"

    rm -rf "$WORK/out"
    measure "$FIRN" --once --input "$glob" --output "$WORK/out" >"$WORK/firn.out" 2>"$WORK/firn.log"
    read -r f_wall f_user f_sys f_rss <"$WORK/m.txt"
    local p_size rows
    p_size=$(find "$WORK/out" -name '*.parquet' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    rows=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/firn.out" "$WORK/firn.log" | grep -oE 'wrote [0-9]+ row' | grep -oE '[0-9]+' || true)
    row "firn-agent --once" "$f_wall" "$f_user" "$f_sys" "$f_rss" "$bytes" "$lines" \
        "$(awk -v b="$bytes" -v z="$p_size" 'BEGIN{printf "ratio %.1fx", b / z}') rows=${rows:-?}"
    # The same input with line recognition off (--parse none), for its cost (issue 11).
    rm -rf "$WORK/out"
    measure "$FIRN" --once --parse none --input "$glob" --output "$WORK/out" >/dev/null 2>&1
    read -r n_wall n_user n_sys n_rss <"$WORK/m.txt"
    row "firn --parse none" "$n_wall" "$n_user" "$n_sys" "$n_rss" "$bytes" "$lines"
    awk -v fw="$f_wall" -v nw="$n_wall" -v fu="$f_user" -v fs="$f_sys" -v nu="$n_user" -v ns="$n_sys" 'BEGIN {
        c = (fu + fs) / (nu + ns)
        printf "  recognition on / off: wall %.2fx, cpu %.2fx   aim: cpu <= 1.10x %s\n",
            fw / nw, c, (c <= 1.10 ? "MET" : "NOT MET") }'
    awk -v fw="$f_wall" -v zw="$z_wall" -v fu="$f_user" -v fs="$f_sys" -v zu="$z_user" -v zs="$z_sys" -v r="$f_rss" 'BEGIN {
        t = fw / zw
        printf "  firn / zstd -1: wall %.2fx, cpu %.2fx   aim: wall <= 1.5x %s, peak RSS < 64 MiB %s\n",
            t, (fu + fs) / (zu + zs), (t <= 1.5 ? "MET" : "NOT MET"), (r < 65536 ? "MET" : "NOT MET") }'
    rm -rf "$WORK/out"
}

echo "firn-agent tail benchmark: $SIZE_MIB MiB of log lines, $(nproc) cores"
echo "binary: $FIRN"
echo "input:  $DATA"
bench_layout "one file" "$DATA/one/*.log"
bench_layout "100 files" "$DATA/many/*.log"
