#!/usr/bin/env bash
# Query benchmark: a month of hourly firn partitions (720 folders, one file each, written by
# the real agent from generated log lines), then the same SQL through `firn-collector query`
# and DuckDB (schemas/duckdb/views.sql) on the same files, in the same run:
#   1. one hour out of the month by its folder (date/hour): files and bytes read vs all
#   2. the same hour by ts (Parquet statistics)
#   3. a filtered log search over the month
#   4. a per-minute aggregate over the month
#
#   FIRN_AGENT=target/release/firn-agent FIRN_COLLECTOR=target/release/firn-collector \
#     bench/query.sh [LINES_PER_HOUR] [DAYS]
#
# Defaults: 2000 lines an hour, 30 days (1.44 M rows). Wall times are whole processes for
# firn (start, listing, planning, reading) and the query alone for DuckDB (connection and
# views made before the clock starts, in a Python process): DuckDB is favoured. Each is
# the best of 3 runs (the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
AGENT=${FIRN_AGENT:-target/release/firn-agent}
COLLECTOR=${FIRN_COLLECTOR:-target/release/firn-collector}
LINES=${1:-2000}
DAYS=${2:-30}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "--- generating $DAYS days x 24 hours x $LINES lines with the agent"
python3 - "$WORK" "$LINES" "$DAYS" <<'EOF'
import datetime as dt, os, random, sys
work, lines, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
levels = ["INFO"] * 90 + ["WARN"] * 6 + ["ERROR"] * 3 + ["DEBUG"]
start = dt.datetime(2026, 11, 1)
os.makedirs(os.path.join(work, "in"))
for h in range(days * 24):
    t0 = start + dt.timedelta(hours=h)
    with open(os.path.join(work, "in", f"{t0:%Y%m%d%H}.log"), "w") as f:
        for i in range(lines):
            t = t0 + dt.timedelta(seconds=i * 3600 / lines)
            lvl = rng.choice(levels)
            what = rng.choice(["GET /cart 200", "GET /health 200", "db query took 12ms",
                               "upstream timeout after 30s", "user signed in", "cache miss"])
            f.write(f"{t:%Y-%m-%dT%H:%M:%S.%f}Z {lvl} req={rng.randrange(1 << 30)} {what}\n")
EOF
mkdir -p "$WORK/month"
for f in "$WORK"/in/*.log; do
    b=$(basename "$f" .log)
    part="$WORK/month/date=${b:0:4}-${b:4:2}-${b:6:2}/hour=${b:8:2}"
    "$AGENT" --once --input "$f" --output "$WORK/one" >/dev/null 2>&1
    mkdir -p "$part"
    find "$WORK/one" -name '*.parquet' -exec mv {} "$part/" \;
done
files=$(find "$WORK/month" -name '*.parquet' | wc -l)
bytes=$(du -sb "$WORK/month" | cut -f1)
echo "files: $files, bytes: $bytes"

Q1="SELECT count(*) AS n FROM logs WHERE date = DATE '2026-11-15' AND hour = 7"
Q2="SELECT count(*) AS n FROM logs WHERE ts >= TIMESTAMP '2026-11-15 07:00:00' AND ts < TIMESTAMP '2026-11-15 08:00:00'"
Q3="SELECT ts, message FROM logs WHERE severity = 'ERROR' AND strpos(message, 'timeout') > 0 ORDER BY ts DESC LIMIT 20"
Q4="SELECT date_trunc('minute', ts) AS m, count(*) AS n FROM logs GROUP BY date_trunc('minute', ts) ORDER BY m"

best_firn() {
    local best=999999 out
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s.%N)
        out=$("$COLLECTOR" query --data "$WORK/month" --stats --format csv "$1" 2>&1 >/dev/null)
        t1=$(date +%s.%N)
        best=$(python3 -c "print(min($best, $t1 - $t0))")
    done
    echo "$best|$(echo "$out" | grep '^read ')"
}

echo "--- queries (best of 3 wall seconds)"
python3 - "$WORK/month" <<EOF > "$WORK/duck.txt"
import duckdb, os, sys, time
con = duckdb.connect()
con.execute("SET VARIABLE firn_files = ?", [os.path.join(sys.argv[1], "**", "*.parquet")])
con.execute(open("schemas/duckdb/views.sql").read())
for name, q in [("Q1", """$Q1"""), ("Q2", """$Q2"""), ("Q3", """$Q3"""), ("Q4", """$Q4""")]:
    best = 1e9
    for _ in range(3):
        t = time.perf_counter(); con.execute(q).fetchall(); best = min(best, time.perf_counter() - t)
    print(f"{name} {best:.3f}")
EOF
for n in 1 2 3 4; do
    q="Q$n"
    r=$(best_firn "${!q}")
    firn_s=${r%%|*}
    stats=${r#*|}
    duck_s=$(grep "^$q " "$WORK/duck.txt" | cut -d' ' -f2)
    ratio=$(python3 -c "print(f'{$firn_s / $duck_s:.2f}')")
    printf '%s firn %.3f s  duckdb %.3f s  ratio %sx\n   %s\n   firn: %s\n' "$q" "$firn_s" "$duck_s" "$ratio" "${!q}" "$stats"
done
