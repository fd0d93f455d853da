#!/usr/bin/env bash
# RTP relay benchmark (issue 3): N bridged calls, two fake phones each at 50 packets/s
# each way, relayed by the media plane in-process. Prints a Markdown table with packets/s,
# loss, CPU and the latency the relay adds.
#
# Usage: loadtest/relay-bench.sh
# Environment (defaults in brackets):
#   RELAY_BENCH_CALLS     bridged calls per step ["500 1000 2000"]
#   RELAY_BENCH_SECONDS   seconds of traffic per step [10]
#   RELAY_BENCH_PORT_MIN  first local RTP port; 4 ports per call are used [33000]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Two sockets per leg plus the phones': 2,000 calls need some 8,100 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec cargo test --release --test relay_bench -- --ignored --nocapture
