#!/usr/bin/env bash
# Cost of the write-ahead spool (issue 9): the daemon (follow mode, default settings) reading
# one pre-written file of LINES log lines, with the spool (the default) and with
# `--spool none`, same input, same run, alternating, REPEAT times each. Each run: start, wait
# until /metrics says every line was read, SIGTERM, wait for the exit (which writes
# everything). Prints wall time to the exit, lines/s, CPU seconds per million lines, peak RSS
# and, with the spool, commits and fsyncs per second of the run.
#
# Usage: bench/spool.sh [LINES]        (default 2000000)
#   FIRN=path/to/firn-agent to pick a binary (default: the release build); REPEAT=2
set -euo pipefail

LINES=${1:-2000000}
REPEAT=${REPEAT:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIRN=${FIRN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/firn-agent}
[[ -x $FIRN ]] || { echo "no binary at $FIRN: cargo build --release -p firn-agent" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/logs"
python3 - "$LINES" "$WORK/logs/app.log" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(42)
with open(path, "w") as f:
    for i in range(n):
        f.write(f"2024-05-01T12:00:00.{i % 10**9:09d}Z INFO request id={rnd.getrandbits(64):016x} "
                f"path=/api/v1/items/{rnd.randrange(100000)} status={rnd.choice((200, 404, 500))} took_ms={rnd.randrange(2000)}\n")
PY
cat "$WORK/logs/app.log" >/dev/null

metric() { # port, name: the counter's value, or empty
    curl -s "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v n="$2" '$1 ~ "^"n"({|$)" {print $2}' | head -1
}

run() { # name, extra args...
    local name=$1; shift
    rm -rf "$WORK/out"
    local port=$((20000 + RANDOM % 20000))
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$FIRN" --input "$WORK/logs/*.log" --output "$WORK/out" \
        --http-listen "127.0.0.1:$port" "$@" 2>"$WORK/log" &
    local pid=$!
    local got=0
    until [[ ${got:-0} -ge $LINES ]]; do
        sleep 0.05
        kill -0 $pid 2>/dev/null || { echo "agent exited early:"; tail "$WORK/log"; exit 1; }
        got=$(metric $port firn_lines_read_total)
    done
    # The time process's child is the agent.
    pkill -TERM -P $pid firn-agent 2>/dev/null || kill -TERM $pid
    wait $pid || true
    read -r wall user sys rss <"$WORK/time"
    local counters
    counters=$(grep "Telemetry" "$WORK/log" | tail -1)
    python3 - "$name" "$LINES" "$wall" "$user" "$sys" "$rss" "$counters" <<'PY'
import re, sys
name, n, wall, user, sys_, rss, counters = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:7]), sys.argv[7]
c = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", counters))
rows = c.get("output_rows_written_total", 0)
extra = ""
if c.get("spool_commits_total"):
    extra = (f"  {c['spool_commits_total'] / wall:5.1f} commits/s  {c.get('spool_fsyncs_total', 0) / wall:5.1f} fsyncs/s"
             f"  mean commit {c.get('spool_commit_micros_total', 0) / c['spool_commits_total'] / 1000:.1f} ms")
print(f"{name:<12} {wall:7.2f} s  {n / wall:>10,.0f} lines/s  {(user + sys_) / (n / 1e6):6.2f} CPU s per M lines"
      f"  peak RSS {rss / 1024:.0f} MiB  rows written {rows}{extra}")
PY
}
echo "$LINES lines, $(du -h "$WORK/logs/app.log" | cut -f1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$REPEAT"); do
    run "spool"
    run "no spool" --spool none
done
