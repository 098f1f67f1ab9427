#!/usr/bin/env bash
# OTLP export throughput (issue 13): `firn-agent --once` reading one file of log lines,
# Parquet only, next to Parquet + OTLP/HTTP (gzip, default batch) to a loopback receiver
# (agent/tests/data/otlp_receiver.py in its accept-only mode), in the same run.
# Prints wall time, lines/s, and the agent's CPU seconds per million lines for each.
#
# Usage: bench/otlp.sh [LINES]        (default 1000000)
#   FIRN=path/to/firn-agent to pick a binary (default: the release build)
set -euo pipefail

LINES=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIRN=${FIRN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/firn-agent}
[[ -x $FIRN ]] || { echo "no binary at $FIRN: cargo build --release -p firn-agent" >&2; exit 1; }
WORK=$(mktemp -d)
RX=
trap '[[ -n $RX ]] && kill $RX 2>/dev/null; rm -rf "$WORK"' EXIT

mkdir -p "$WORK/logs"
python3 - "$LINES" "$WORK/logs/app.log" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(42)
with open(path, "w") as f:
    for i in range(n):
        stream = "stdout" if i % 3 else "stderr"
        f.write(f"2024-05-01T12:00:00.{i % 10**9:09d}Z {stream} F request id={rnd.getrandbits(64):016x} "
                f"path=/api/v1/items/{rnd.randrange(100000)} status={rnd.choice((200, 404, 500))} took_ms={rnd.randrange(2000)}\n")
PY
cat "$WORK/logs/app.log" >/dev/null

python3 "$ROOT/agent/tests/data/otlp_receiver.py" --record - >"$WORK/port" &
RX=$!
for _ in $(seq 50); do [[ -s $WORK/port ]] && break; sleep 0.1; done
PORT=$(head -1 "$WORK/port")

run() { # name, extra args...
    local name=$1; shift
    rm -rf "$WORK/out"
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$FIRN" --once --quiet --input "$WORK/logs/*.log" --output "$WORK/out" "$@" >/dev/null
    read -r wall user sys rss <"$WORK/time"
    python3 - "$name" "$LINES" "$wall" "$user" "$sys" "$rss" <<'PY'
import sys
name, n, wall, user, sys_, rss = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"{name:<22} {wall:7.2f} s  {n / wall:>10,.0f} lines/s  {(user + sys_) / (n / 1e6):6.2f} CPU s per M lines  peak RSS {rss / 1024:.0f} MiB")
PY
}
echo "$LINES lines, $(du -h "$WORK/logs/app.log" | cut -f1), $(nproc) cores"
run "parquet only"
run "parquet + otlp" --otlp-endpoint "http://127.0.0.1:$PORT"
