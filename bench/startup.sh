#!/usr/bin/env bash
# Start-up with many files (issue 16 item 4): time from start to the first row and to the
# last row written, and peak RSS, for 1,000, 10,000 and 20,000 files of 10 lines each.
#
# The agent follows `logs/*.log` with default settings, except `--max-file-age 500ms` so that
# rows reach the output soon after they are read (with the default 60 s a row is out only
# when its Parquet file closes). Rows are counted in the Parquet files as they appear
# (pyarrow); "first row" is the first output file holding a LOG row, "last row" the moment all
# N*10 rows are out. The aim: linear in the number of files, 20,000 files in under 10 s,
# peak RSS under 64 MiB.
#
# Usage: bench/startup.sh [COUNTS...]     (default: 1000 10000 20000)
#   FIRN=path/to/firn-agent to pick a binary (default: the release build)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIRN=${FIRN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/firn-agent}
[[ -x $FIRN ]] || { echo "no binary at $FIRN: cargo build --release -p firn-agent" >&2; exit 1; }
python3 -c 'import pyarrow' 2>/dev/null || { echo "needs pyarrow: pip install -r requirements-test.txt" >&2; exit 1; }
COUNTS=("$@")
[[ ${#COUNTS[@]} -gt 0 ]] || COUNTS=(1000 10000 20000)

python3 - "$FIRN" "${COUNTS[@]}" <<'PY'
import os, signal, subprocess, sys, tempfile, time
import pyarrow.parquet as pq
import pyarrow.compute as pc

firn, counts = sys.argv[1], [int(c) for c in sys.argv[2:]]

def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def log_rows(path):
    t = pq.read_table(path, columns=["RECORD_TYPE"])
    return pc.sum(pc.equal(t["RECORD_TYPE"], "LOG")).as_py() or 0

print(f"{'files':>7} {'lines':>8} {'first row s':>12} {'last row s':>11} {'files/s':>9} {'peak RSS MiB':>13}")
for n in counts:
    with tempfile.TemporaryDirectory() as d:
        logs = os.path.join(d, "logs")
        os.mkdir(logs)
        for i in range(n):
            with open(os.path.join(logs, f"f{i:05d}.log"), "w") as f:
                f.writelines(f"file {i} line {j} some text to make it a log line\n" for j in range(10))
        out = os.path.join(d, "out")
        want = n * 10
        with open(os.path.join(d, "agent.log"), "w") as err:
            t0 = time.monotonic()
            p = subprocess.Popen([firn, "-i", "logs/*.log", "-o", "out", "--max-file-age", "500ms"],
                                 cwd=d, stdout=subprocess.DEVNULL, stderr=err)
            seen, rows, first, last, peak = {}, 0, None, None, 0
            while time.monotonic() - t0 < 300:
                peak = max(peak, rss_kib(p.pid))
                for root, _, files in os.walk(out):
                    for name in files:
                        path = os.path.join(root, name)
                        if name.endswith(".parquet") and not name.startswith(".") and path not in seen:
                            try:
                                seen[path] = log_rows(path)
                            except Exception:
                                continue
                            rows += seen[path]
                            if first is None and seen[path] > 0:
                                first = time.monotonic() - t0
                if rows >= want:
                    last = time.monotonic() - t0
                    break
                time.sleep(0.05)
            peak = max(peak, rss_kib(p.pid))
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
        if last is None:
            print(f"{n:>7} {want:>8}  only {rows} rows after 300 s", flush=True)
            continue
        print(f"{n:>7} {want:>8} {first:>12.2f} {last:>11.2f} {n / last:>9,.0f} {peak / 1024:>13.1f}", flush=True)
PY
