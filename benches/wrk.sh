#!/usr/bin/env bash
# The wrk pair (issue 10's wall-clock target): one keep-alive HTTP/1.1
# responder (examples/http_bench_server.rs) on the crate's Socket and on
# tokio::net, loaded by wrk in turn, on loopback.
#
#   benches/wrk.sh                 # 5 rounds of 5 s per variant, unpinned then pinned
#   ROUNDS=3 DURATION=3s benches/wrk.sh
#   CONNECTIONS=64 benches/wrk.sh
#
# Variants: `blade` (the crate's Socket through tokio's AsyncRead/AsyncWrite:
# the very code `tokio` runs), `blade-methods` (the crate's receive_into and
# send), `tokio` (tokio::net::TcpStream). Each round runs every variant once,
# in an order that alternates from round to round, so drift in the machine's
# load spreads over all of them. Pinned: each server on CPU 0 (its runtime
# then has one worker), wrk on CPU 1.
#
# Prints one `run` line per wrk run, then per mode the median requests/s of
# each variant, and ours / tokio (higher is better) as the median over the
# rounds of each round's ratio:
#   requests_per_sec MODE VARIANT MEDIAN
#   ratio wrk_http_vs_tokio[_pinned] VALUE           (blade / tokio)
#   ratio wrk_http_methods_vs_tokio[_pinned] VALUE   (blade-methods / tokio)
# and the server's CPU time (user + system, from /proc) per request, which
# other load on the machine disturbs far less than requests/s:
#   cpu_us_per_request MODE VARIANT MEDIAN
#   cpu_ratio wrk_http[_methods]_vs_tokio[_pinned] VALUE   (ours / tokio, lower is better)
# A run with socket errors or non-2xx answers fails the script.
# Installs wrk with apt-get if it is missing. Takes about
# 2 modes x 3 variants x ROUNDS x DURATION (2.5 minutes by default).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-16}"
VARIANTS=(tokio blade blade-methods)

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk not found: apt-get install -y wrk" >&2
    apt-get update && apt-get install -y wrk
fi
cargo build --release --quiet --example http_bench_server
server_bin=target/release/examples/http_bench_server

server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT
# run_once runs in a subshell, which has no EXIT trap: stop its server first.
fail() {
    echo "error: $*" >&2
    stop_server
    exit 1
}

# The server's CPU time so far (user + system), in clock ticks.
server_ticks() {
    # Fields 14 and 15 of /proc/PID/stat; the name field is parenthesised.
    sed 's/^.*) //' "/proc/$server_pid/stat" | awk '{ print $12 + $13 }'
}
ticks_per_sec=$(getconf CLK_TCK)

# run_once MODE VARIANT: starts the server, loads it, stops it; prints the
# requests/s and the server's CPU microseconds per request.
run_once() {
    local mode=$1 variant=$2 server_pin=() client_pin=() out line port report rps
    local ticks requests
    if [ "$mode" = pinned ]; then
        server_pin=(taskset -c 0)
        client_pin=(taskset -c 1)
    fi
    # The server's first line names its port; read it with a bound.
    exec {out}< <(exec "${server_pin[@]}" "$server_bin" "$variant" 127.0.0.1:0)
    server_pid=$!
    if ! read -r -t 10 -u "$out" line || [[ "$line" != "listening on 127.0.0.1:"* ]]; then
        fail "$variant did not start (first line: ${line:-none})"
    fi
    port=${line##*:}
    report=$("${client_pin[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$port/")
    ticks=$(server_ticks)
    stop_server
    exec {out}<&-
    if grep -qE 'Socket errors|Non-2xx' <<<"$report"; then
        fail "$variant: wrk reported errors:"$'\n'"$report"
    fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$report")
    if [ -z "$rps" ]; then
        fail "no Requests/sec in wrk's report:"$'\n'"$report"
    fi
    requests=$(awk '/ requests in / { print $1 }' <<<"$report")
    awk -v rps="$rps" -v t="$ticks" -v hz="$ticks_per_sec" -v n="$requests" \
        'BEGIN { printf "%s %.3f\n", rps, t / hz * 1e6 / n }'
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio_line NAME OURS PEER: the median of the per-round ratios OURS/PEER
# (each from runs a few seconds apart, so slow drift in the machine's load
# cancels), from two space-separated lists in round order.
ratio_line() {
    local name=$1
    paste -d' ' <(tr ' ' '\n' <<<"$2" | grep .) <(tr ' ' '\n' <<<"$3" | grep .) |
        awk '{ print $1 / $2 }' | median | awk -v name="$name" '{ printf "ratio %s %.3f\n", name, $1 }'
}

for mode in unpinned pinned; do
    declare -A results=() cpu_results=()
    for round in $(seq 1 "$ROUNDS"); do
        order=("${VARIANTS[@]}")
        if [ $((round % 2)) -eq 0 ]; then
            order=("${order[2]}" "${order[1]}" "${order[0]}")
        fi
        for variant in "${order[@]}"; do
            read -r rps cpu < <(run_once "$mode" "$variant")
            [ -n "${cpu:-}" ] || exit 1
            echo "run $mode round $round $variant $rps requests/s, $cpu us CPU per request"
            results[$variant]+="$rps "
            cpu_results[$variant]+="$cpu "
        done
    done
    for variant in "${VARIANTS[@]}"; do
        echo "requests_per_sec $mode $variant $(tr ' ' '\n' <<<"${results[$variant]}" | grep . | median)"
        echo "cpu_us_per_request $mode $variant $(tr ' ' '\n' <<<"${cpu_results[$variant]}" | grep . | median)"
    done
    suffix=
    [ "$mode" = pinned ] && suffix=_pinned
    ratio_line "wrk_http_vs_tokio$suffix" "${results[blade]}" "${results[tokio]}"
    ratio_line "wrk_http_methods_vs_tokio$suffix" "${results[blade-methods]}" "${results[tokio]}"
    ratio_line "wrk_http_vs_tokio$suffix" "${cpu_results[blade]}" "${cpu_results[tokio]}" | sed 's/^ratio/cpu_ratio/'
    ratio_line "wrk_http_methods_vs_tokio$suffix" "${cpu_results[blade-methods]}" "${cpu_results[tokio]}" | sed 's/^ratio/cpu_ratio/'
    unset results cpu_results
done
