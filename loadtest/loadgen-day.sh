#!/usr/bin/env bash
# The Almere day over real SIP/RTP on loopback (issue 6): starts the daemon on an
# always-open copy of the Almere dial plan with extra load-test agents, plays a trace
# against it with `veertien loadgen`, prints the loadgen report and stops the daemon.
#
# Usage: loadtest/loadgen-day.sh     (needs target/release/veertien: cargo build --release)
# Environment (defaults in brackets):
#   TRACE          the trace to play [loadtest/traces/almere-2010-01-11.jsonl]
#   SPEED          speed-up of trace time [10]
#   EXTRA_AGENTS   load-test agents added to the demo plan's 5, serving every queue [10]
#   MAX_CALLS      calls to place [all calls in the trace]
#   MAX_S          bound on real time in seconds [4200]
#   RING_MS        the agent phones' ring time before answering [300]
#   RTP_INTERVAL_MS  the phones' RTP packet interval; 20 is a real phone, more is like
#                  silence suppression and lowers the load [20]
#
# Why the copy: the shipped Almere tenant is closed outside Mon-Fri 08-18 local time and
# has 5 demo agents, too few for a whole day of Almere traffic (about 8 Erlang). The copy
# is open 00:00-24:00 every day and adds EXTRA_AGENTS agents (password "demo-<id>", as the
# load generator expects); nothing else changes.
#
# The RTP range sits above the kernel's ephemeral ports (ip_local_port_range): the load
# generator's own sockets take ephemeral ports, and a media port the daemon cannot bind
# costs that call.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TRACE="${TRACE:-loadtest/traces/almere-2010-01-11.jsonl}"
SPEED="${SPEED:-10}"
EXTRA_AGENTS="${EXTRA_AGENTS:-10}"
MAX_CALLS="${MAX_CALLS:-$(($(wc -l <"$TRACE") - 1))}"
MAX_S="${MAX_S:-4200}"
RING_MS="${RING_MS:-300}"
RTP_INTERVAL_MS="${RTP_INTERVAL_MS:-20}"
readonly REALM="almere.veertien"

[[ -x target/release/veertien ]] || { echo "build first: cargo build --release" >&2; exit 1; }

out_dir="loadtest/out/loadgen-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out_dir/dialplans"
daemon_pid=""
trap '[[ -n "$daemon_pid" ]] && kill -TERM "$daemon_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT

queues=$(sed -n 's/^id = "\(.*\)"/\1/p' dialplans/almere.toml | sed -n '/^burgerzaken$/,/^algemeen$/p' \
    | sed 's/.*/"&"/' | paste -sd, -)
{
    sed -e 's/^\(mon\|tue\|wed\|thu\|fri\) = \["08:00-18:00"\]/\1 = ["00:00-24:00"]/' \
        -e 's/^close_on_public_holidays = true/close_on_public_holidays = false\nsat = ["00:00-24:00"]\nsun = ["00:00-24:00"]/' \
        -e 's/^closed_days = .*/closed_days = []/' dialplans/almere.toml
    for i in $(seq 1 "$EXTRA_AGENTS"); do
        id="load$i"
        printf '\n[[agent]]\nid = "%s"\nname = "Load test %s"\n' "$id" "$i"
        printf 'ha1_sha256 = "%s"\n' "$(printf '%s' "$id:$REALM:demo-$id" | sha256sum | cut -d' ' -f1)"
        printf 'queues = [%s]\n' "$queues"
    done
} >"$out_dir/dialplans/almere.toml"
VEERTIEN_DIALPLAN__DIRECTORY="$out_dir/dialplans" target/release/veertien check >"$out_dir/check.txt" \
    || { cat "$out_dir/check.txt" >&2; exit 1; }

VEERTIEN_SIP__LISTEN=127.0.0.1:0 VEERTIEN_HTTP__LISTEN=127.0.0.1:0 VEERTIEN_LOG__FILTER=warn VEERTIEN_SHUTDOWN__DRAIN_S=2 \
    VEERTIEN_DIALPLAN__DIRECTORY="$out_dir/dialplans" \
    VEERTIEN_RTP__PORT_MIN=61000 VEERTIEN_RTP__PORT_MAX=61998 \
    target/release/veertien run >"$out_dir/daemon.stdout" 2>"$out_dir/daemon.stderr" &
daemon_pid=$!
for _ in $(seq 1 100); do grep -q '^veertien ready' "$out_dir/daemon.stdout" && break; sleep 0.1; done
target=$(sed -n 's/.* sip=\([^ ]*\).*/\1/p' "$out_dir/daemon.stdout")
[[ -n "$target" ]] || { echo "daemon did not start" >&2; tail "$out_dir/daemon.stderr" >&2; exit 1; }

echo "trace $TRACE at ${SPEED}x, $((5 + EXTRA_AGENTS)) agents, $MAX_CALLS calls, daemon $target; output in $out_dir"
status=0
target/release/veertien loadgen --trace "$TRACE" --target "$target" --speed "$SPEED" \
    --max-calls "$MAX_CALLS" --max-duration-s "$MAX_S" --agent-ring-ms "$RING_MS" \
    --rtp-interval-ms "$RTP_INTERVAL_MS" \
    --dialplans "$out_dir/dialplans" | tee "$out_dir/report.txt" || status=$?
echo "daemon warnings: $(grep -c WARN "$out_dir/daemon.stderr" || true)"
exit "$status"
