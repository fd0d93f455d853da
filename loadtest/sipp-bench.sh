#!/usr/bin/env bash
# SIP call-rate and memory benchmark for veertien, with SIPp.
#
# 1. Ceiling: SIPp's built-in UAC calls a SIPp UAS directly at rising rates. This is what
#    SIPp itself manages on this machine, the yardstick for step 2.
# 2. Daemon: the same UAC calls 14010 (the always-open test tenant in tests/data/dialplans,
#    so the figures do not depend on the hour) on the release daemon (INVITE, 100/180, 200, ACK,
#    BYE, 200) at the same rates, until the first failed call.
# 3. Memory: MEMORY_CALLS calls are held up at once; the daemon's resident memory (VmRSS)
#    before and during, divided by the number of established calls.
# Prints a Markdown table; raw SIPp statistics are kept in loadtest/out/<time>/.
#
# Usage: loadtest/sipp-bench.sh [--ceiling-only] [--no-build]
# Environment (defaults in brackets):
#   RATES         call rates to try, calls/s ["50 100 200 400 800 1200 1600 2400 3200 4800"]
#   STEP_S        seconds of calls per rate step [10]
#   MEMORY_CALLS  calls held up at once for the memory figure [1000]
#   MEMORY_RATE   call rate while building them up, calls/s [200]
#   UAS_PORT      UDP port of the SIPp UAS in the ceiling run [15060]
#   VEERTIEN_LOG__FILTER  the daemon's log filter [warn] (per-call info lines cost disk I/O)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RATES="${RATES:-50 100 200 400 800 1200 1600 2400 3200 4800}"
STEP_S="${STEP_S:-10}"
MEMORY_CALLS="${MEMORY_CALLS:-1000}"
MEMORY_RATE="${MEMORY_RATE:-200}"
UAS_PORT="${UAS_PORT:-15060}"
export VEERTIEN_LOG__FILTER="${VEERTIEN_LOG__FILTER:-warn}"

# A step passes when no call failed and SIPp placed calls at >= this % of the target rate.
readonly MIN_ACHIEVED_PERCENT=95
# How long SIPp waits for a response before it counts the call failed.
readonly RECV_TIMEOUT_MS=5000

ceiling_only=false
build=true
for arg in "$@"; do
    case "$arg" in
        --ceiling-only) ceiling_only=true ;;
        --no-build) build=false ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

command -v sipp >/dev/null || { echo "sipp not found: run tests/run, which installs it" >&2; exit 1; }

out_dir="loadtest/out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out_dir"
readonly out_dir

# Many held calls need many sockets (RTP) in the daemon.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# PIDs of the processes this script started, stopped on exit.
started_pids=()
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${started_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# Value of the named column in the last row of a SIPp -trace_stat CSV file.
stat_column() {
    local file=$1 column=$2
    awk -F';' -v column="$column" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) index_of = i; next }
        NF > 1  { last = $index_of }
        END     { print (index_of && last != "" ? last : "0") }' "$file"
}

# Runs one rate step of the built-in UAC against $1 (host:port); prints
# "achieved_cps successful failed retransmissions verdict".
run_step() {
    local target=$1 rate=$2 name=$3
    local calls=$((rate * STEP_S))
    local stats="$out_dir/$name-$rate.csv"
    local exit_code=0
    timeout --kill-after=5 "$((STEP_S + 30))" \
        sipp "$target" -sn uac -s 14010 -i 127.0.0.1 -t u1 \
        -r "$rate" -m "$calls" -timeout "$((STEP_S + 25))s" -timeout_error \
        -recv_timeout "$RECV_TIMEOUT_MS" -nostdin \
        -trace_stat -stf "$stats" -trace_err -error_file "$out_dir/$name-$rate-errors.log" \
        >"$out_dir/$name-$rate-screen.log" 2>&1 || exit_code=$?
    local achieved successful failed retransmissions verdict
    achieved=$(stat_column "$stats" 'CallRate(C)')
    successful=$(stat_column "$stats" 'SuccessfulCall(C)')
    failed=$(stat_column "$stats" 'FailedCall(C)')
    retransmissions=$(stat_column "$stats" 'Retransmissions(C)')
    verdict=ok
    if [[ $exit_code -ne 0 || $failed -ne 0 || $successful -ne $calls ]]; then
        verdict=failed
    elif awk -v a="$achieved" -v r="$rate" -v p="$MIN_ACHIEVED_PERCENT" \
        'BEGIN { exit !(a * 100 < r * p) }'; then
        verdict=too-slow
    fi
    printf '%.0f %s %s %s %s\n' "$achieved" "$successful" "$failed" "$retransmissions" "$verdict"
}

# Runs the rate steps against $1 until the first step that does not pass; fills the
# associative array named $3 with "rate -> step result" and prints progress to stderr.
run_rates() {
    local target=$1 name=$2
    local -n results=$3
    local rate result
    for rate in $RATES; do
        result=$(run_step "$target" "$rate" "$name")
        results[$rate]=$result
        echo "  $name $rate calls/s: $result" >&2
        [[ "${result##* }" == ok ]] || break
    done
}

# The highest rate whose step passed, or 0.
best_rate() {
    local -n results=$1
    local rate best=0
    for rate in $RATES; do
        [[ -n "${results[$rate]:-}" && "${results[$rate]##* }" == ok ]] && best=$rate
    done
    echo "$best"
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Starts the release daemon on free ports; sets daemon_pid and daemon_sip.
start_daemon() {
    local log_name=$1
    local stdout="$out_dir/$log_name.stdout" stderr="$out_dir/$log_name.stderr"
    VEERTIEN_SIP__LISTEN=127.0.0.1:0 VEERTIEN_HTTP__LISTEN=127.0.0.1:0 \
        VEERTIEN_RTP__PORT_MIN=20000 VEERTIEN_RTP__PORT_MAX=39999 \
        VEERTIEN_DIALPLAN__DIRECTORY=tests/data/dialplans \
        target/release/veertien run >"$stdout" 2>"$stderr" &
    daemon_pid=$!
    started_pids+=("$daemon_pid")
    local waited_ds=0 ready=""
    while [[ $waited_ds -lt 200 ]]; do
        ready=$(grep -m1 '^veertien ready ' "$stdout" || true)
        [[ -n "$ready" ]] && break
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
        waited_ds=$((waited_ds + 1))
    done
    if [[ -z "$ready" ]]; then
        echo "veertien did not become ready; its stderr:" >&2
        tail -n 40 "$stderr" >&2
        exit 1
    fi
    daemon_sip=$(sed -n 's/.* sip=\([^ ]*\).*/\1/p' <<<"$ready")
}

stop_daemon() {
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
}

# Holds MEMORY_CALLS calls up at once; sets rss_before_kib, rss_during_kib, established.
measure_memory() {
    local hold_ms=$(((MEMORY_CALLS / MEMORY_RATE + 15) * 1000))
    local stats="$out_dir/memory.csv"
    sleep 1
    rss_before_kib=$(rss_kib "$daemon_pid")
    sipp "$daemon_sip" -sn uac -s 14010 -i 127.0.0.1 -t u1 -r "$MEMORY_RATE" \
        -m "$MEMORY_CALLS" -l "$MEMORY_CALLS" -d "$hold_ms" \
        -timeout "$((hold_ms / 1000 + 30))s" -recv_timeout "$RECV_TIMEOUT_MS" -nostdin \
        -trace_stat -fd 1 -stf "$stats" \
        >"$out_dir/memory-screen.log" 2>&1 &
    local sipp_pid=$!
    started_pids+=("$sipp_pid")
    # Wait (bounded) until every call is up: created, none failed, none finished yet.
    local waited_s=0 current=0
    while [[ $waited_s -lt $((MEMORY_CALLS / MEMORY_RATE + 10)) ]]; do
        sleep 1
        waited_s=$((waited_s + 1))
        [[ -s "$stats" ]] || continue
        current=$(stat_column "$stats" 'CurrentCall')
        [[ $current -ge $MEMORY_CALLS ]] && break
    done
    sleep 2
    rss_during_kib=$(rss_kib "$daemon_pid")
    established=$(stat_column "$stats" 'CurrentCall')
    wait "$sipp_pid" 2>/dev/null || true
}

if $build && ! $ceiling_only; then
    echo "building the release binary" >&2
    cargo build --release --locked >&2
fi

declare -A ceiling_results=() daemon_results=()

echo "ceiling: SIPp UAC -> SIPp UAS on 127.0.0.1:$UAS_PORT" >&2
sipp -sn uas -i 127.0.0.1 -p "$UAS_PORT" -t u1 -nostdin >"$out_dir/uas-screen.log" 2>&1 &
uas_pid=$!
started_pids+=("$uas_pid")
sleep 0.5
run_rates "127.0.0.1:$UAS_PORT" ceiling ceiling_results
kill -TERM "$uas_pid" 2>/dev/null || true
wait "$uas_pid" 2>/dev/null || true

memory_line=""
if ! $ceiling_only; then
    start_daemon rates
    echo "daemon: SIPp UAC -> veertien at $daemon_sip" >&2
    run_rates "$daemon_sip" daemon daemon_results
    stop_daemon

    start_daemon memory
    echo "memory: $MEMORY_CALLS calls held up at once" >&2
    measure_memory
    stop_daemon
    memory_line=$(awk -v b="$rss_before_kib" -v d="$rss_during_kib" -v n="$established" 'BEGIN {
        per = n > 0 ? (d - b) / n : 0
        printf "VmRSS %d KiB idle, %d KiB with %d established calls: %.1f KiB per call", b, d, n, per }')
fi

cell() {
    local -n results=$1
    local rate=$2
    if [[ -z "${results[$rate]:-}" ]]; then
        echo "not run"
        return
    fi
    local achieved successful failed retransmissions verdict
    read -r achieved successful failed retransmissions verdict <<<"${results[$rate]}"
    echo "$achieved cps, $failed failed, $retransmissions retrans ($verdict)"
}

ceiling_best=$(best_rate ceiling_results)
echo
echo "### SIPp call rate, $(date -u +%Y-%m-%d), $(nproc) CPUs, ${STEP_S} s per step"
echo
if $ceiling_only; then
    echo "| target calls/s | SIPp → SIPp UAS (ceiling) |"
    echo "|---:|---|"
else
    echo "| target calls/s | SIPp → SIPp UAS (ceiling) | SIPp → veertien |"
    echo "|---:|---|---|"
fi
for rate in $RATES; do
    [[ -z "${ceiling_results[$rate]:-}" && -z "${daemon_results[$rate]:-}" ]] && continue
    if $ceiling_only; then
        echo "| $rate | $(cell ceiling_results "$rate") |"
    else
        echo "| $rate | $(cell ceiling_results "$rate") | $(cell daemon_results "$rate") |"
    fi
done
echo
echo "- highest clean rate, SIPp → SIPp UAS: $ceiling_best calls/s"
if ! $ceiling_only; then
    daemon_best=$(best_rate daemon_results)
    echo "- highest clean rate, SIPp → veertien: $daemon_best calls/s"
    awk -v d="$daemon_best" -v c="$ceiling_best" \
        'BEGIN { if (c > 0) printf "- ratio veertien / ceiling: %.2f\n", d / c }'
    echo "- memory: $memory_line"
fi
echo "- raw SIPp statistics: $out_dir/"
