#!/usr/bin/env bash
# Full-path ACD benchmark with SIPp: SIPp callers dial a bench tenant, wait in its queue,
# are rung through to SIPp agent phones (one SIPp UAS answers for every agent: each agent
# registers with digest authentication, Contact pointing at that UAS), talk briefly and
# hang up; the daemon tears down both legs. Rising call rates until the first failure.
#
# Usage: loadtest/acd-sipp-bench.sh          (needs target/release/veertien and sipp)
# Environment (defaults in brackets):
#   AGENTS   agents registered [100]
#   RATES    caller rates to try, calls/s ["10 20 50 100 150 200 300"]
#   STEP_S   seconds of calls per rate [10]
#   TALK_MS  how long each caller stays connected before its BYE [500]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

AGENTS="${AGENTS:-100}"
RATES="${RATES:-10 20 50 100 150 200 300}"
STEP_S="${STEP_S:-10}"
TALK_MS="${TALK_MS:-500}"
export VEERTIEN_LOG__FILTER="${VEERTIEN_LOG__FILTER:-warn}"
readonly REALM="bench.veertien" PASSWORD="bench-pw" NUMBER="14011"

command -v sipp >/dev/null || { echo "sipp not found: run tests/run, which installs it" >&2; exit 1; }
[[ -x target/release/veertien ]] || { echo "build first: cargo build --release" >&2; exit 1; }

out_dir="loadtest/out/acd-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out_dir/dialplans"
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT

# A 24/7 bench tenant with AGENTS MD5-only agents (SIPp answers only MD5 challenges).
{
    printf '[tenant]\nid = "bench"\nname = "Bench"\nrealm = "%s"\nnumbers = ["%s"]\n' "$REALM" "$NUMBER"
    printf '[hours]\n'
    for day in mon tue wed thu fri sat sun; do printf '%s = ["00:00-24:00"]\n' "$day"; done
    printf 'close_on_public_holidays = false\nclosed_prompt = "closed"\n'
    printf '[[queue]]\nid = "q"\nname = "Q"\nmax_length = 10000\nmax_wait_s = 600\nring_timeout_s = 10\nwrap_up_s = 0\nannounce_interval_s = 600\n'
    for i in $(seq 1 "$AGENTS"); do
        ha1=$(printf '%s' "bench$i:$REALM:$PASSWORD" | md5sum | cut -d' ' -f1)
        printf '[[agent]]\nid = "bench%s"\nname = "Bench %s"\nha1_md5 = "%s"\nqueues = ["q"]\n' "$i" "$i" "$ha1"
    done
} >"$out_dir/dialplans/bench.toml"

VEERTIEN_SIP__LISTEN=127.0.0.1:0 VEERTIEN_HTTP__LISTEN=127.0.0.1:0 \
    VEERTIEN_RTP__PORT_MIN=20000 VEERTIEN_RTP__PORT_MAX=59999 \
    VEERTIEN_LIMITS__MAX_CALLS=20000 VEERTIEN_DIALPLAN__DIRECTORY="$out_dir/dialplans" \
    target/release/veertien run >"$out_dir/daemon.stdout" 2>"$out_dir/daemon.stderr" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^veertien ready' "$out_dir/daemon.stdout" && break; sleep 0.1; done
daemon=$(sed -n 's/.* sip=\([^ ]*\).*/\1/p' "$out_dir/daemon.stdout")
[[ -n "$daemon" ]] || { echo "daemon did not start"; tail "$out_dir/daemon.stderr"; exit 1; }

agent_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sipp "$daemon" -sf tests/sipp/agent_answer.xml -i 127.0.0.1 -p "$agent_port" -nostdin \
    -timeout 600s >"$out_dir/agents-screen.log" 2>&1 &
pids+=($!)
for i in $(seq 1 "$AGENTS"); do
    sipp "$daemon" -sf tests/sipp/agent_register.xml -i 127.0.0.1 -s "bench$i" -au "bench$i" -ap "$PASSWORD" \
        -set contact_port "$agent_port" -m 1 -timeout 10s -timeout_error -nostdin >/dev/null 2>&1 \
        || { echo "agent bench$i did not register" >&2; exit 1; }
done
echo "registered $AGENTS agents; caller talk time $TALK_MS ms" >&2

printf '| target calls/s | achieved | successful | failed | verdict |\n|---:|---:|---:|---:|---|\n'
best=0
for rate in $RATES; do
    calls=$((rate * STEP_S))
    stats="$out_dir/callers-$rate.csv"
    code=0
    timeout --kill-after=5 "$((STEP_S + 60))" sipp "$daemon" -sn uac -s "$NUMBER" -i 127.0.0.1 \
        -r "$rate" -m "$calls" -d "$TALK_MS" -timeout "$((STEP_S + 50))s" -timeout_error \
        -recv_timeout 10000 -nostdin -trace_stat -stf "$stats" >/dev/null 2>&1 || code=$?
    col() { awk -F';' -v c="$1" 'NR==1{for(i=1;i<=NF;i++)if($i==c)k=i;next} NF>1{v=$k} END{print v+0}' "$stats"; }
    achieved=$(col 'CallRate(C)'); ok=$(col 'SuccessfulCall(C)'); failed=$(col 'FailedCall(C)')
    verdict=ok
    [[ $code -eq 0 && $failed -eq 0 && $ok -eq $calls ]] || verdict=failed
    printf '| %s | %.0f | %s | %s | %s |\n' "$rate" "$achieved" "$ok" "$failed" "$verdict"
    [[ $verdict == ok ]] || break
    best=$rate
done
answered=$(curl -s "http://$(sed -n 's/.* http=\([^ ]*\).*/\1/p' "$out_dir/daemon.stdout")/metrics" \
    | awk '/^veertien_calls_answered_total/ {s += $2} END {print s+0}')
echo
echo "- highest clean full-path rate: $best calls/s with $AGENTS agents, talk $TALK_MS ms"
echo "- calls answered by agents (daemon's /metrics): $answered"
