#!/usr/bin/env bash
# CPU cost of sampling every platform metric group.
#
# Runs firn-agent for SECONDS with no input to speak of (stdin that stays open, no lines),
# once with --metric-groups none (the idle agent) and once with --metric-groups all at
# --metrics-interval 1s, with one volume, one --metric-port and the HTTP endpoint scraped
# once a second. Prints each run's CPU seconds (user + sys, from GNU time) and the cost of
# sampling as a percentage of one core: (all - none) / SECONDS.
#
# Usage: bench/metrics.sh [SECONDS]        (default 60)
#   FIRN=path/to/firn-agent to pick a binary (default: the release build).
set -euo pipefail

SECS=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIRN=${FIRN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/firn-agent}
[[ -x $FIRN ]] || { echo "no binary at $FIRN: cargo build --release -p firn-agent" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PORT=$((20000 + RANDOM % 20000))

# Runs the agent for SECS with the given groups; prints its CPU seconds.
run() {
    local groups=$1
    (sleep "$SECS") | /usr/bin/time -f '%U %S' -o "$WORK/time.txt" \
        "$FIRN" --stdin --quiet --output "$WORK/out-$groups" \
        --metric-groups "$groups" --metrics-interval 1s \
        --volume "work=$WORK" --metric-port "web=$PORT" \
        --http-listen "127.0.0.1:$PORT" &
    local pid=$!
    if [[ $groups != none ]]; then
        # A scrape a second, as a Prometheus would at a short interval.
        for _ in $(seq 1 "$SECS"); do
            sleep 1
            python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/metrics').read()" 2>/dev/null || true
        done
    fi
    wait "$pid"
    awk '{printf "%.3f\n", $1 + $2}' "$WORK/time.txt"
}

NONE=$(run none)
ALL=$(run all)
python3 - "$SECS" "$NONE" "$ALL" <<'PY'
import sys
secs, none, all_ = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"idle agent (--metric-groups none): {none:.3f} s CPU in {secs:.0f} s")
print(f"every group at 1 s, /metrics scraped each second: {all_:.3f} s CPU")
print(f"cost of sampling: {(all_ - none) / secs * 100:.3f}% of one core (aim: under 0.5%)")
PY
