#!/usr/bin/env bash
# skiff as a router, measured against the physical limit of its path.
#
#   sudo bench/router.sh            # SECS=10 per transfer
#   SECS=5 SKIFF=/path/to/skiff bench/router.sh
#
# Topology: host A and host B are network namespaces; the middle runs in this script's
# own namespace and owns two TAPs, whose kernel sides are moved into A and B.
#
#   A [tap a] ==fd== middle ==fd== [tap b] B
#
# Transfers, each iperf3 TCP from A to B for SECS seconds:
#   relay      tap-relay: read one TAP, write the other, vnet_hdr, offloads on, no
#              processing; A and B on one subnet (10.201.9.0/24). The path's limit.
#   skiff on   `skiff up`, ip_forward = 1, A 10.201.1.1 -> skiff -> B 10.201.2.1,
#              TAP offloads on;
#   skiff off  the same with TAP offloads off;
#   kernel     a third namespace R with veth pairs to A and B and ip_forward=1, same
#              addressing as skiff. Context only.
# Ratios: (a) skiff on / relay, goal >= 0.7; (b) skiff on / skiff off, goal >= 3;
#         (c) kernel / relay, printed beside them.
#
# Env: SECS (default 10), SKIFF (default target/release/skiff), RELAY (default
# target/release/tap-relay), NO_BUILD=1 to skip the cargo build, ONLY="relay kernel
# skiff_on skiff_off" (the default) or a subset of it, to run fewer transfers.
set -euo pipefail

SECS=${SECS:-10}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SKIFF=${SKIFF:-$TARGET_DIR/release/skiff}
RELAY=${RELAY:-$TARGET_DIR/release/tap-relay}
PORT=5201

# Unique per run, so a concurrent or crashed run does not collide with this one.
RUN=$$
NS_A=skiffbench-a-$RUN
NS_B=skiffbench-b-$RUN
NS_R=skiffbench-r-$RUN
TAP_A=sbtapa$RUN # IFNAMSIZ: at most 15 characters; a pid has at most 7 digits
TAP_B=sbtapb$RUN
VETH_A=sbva$RUN    # A's end of the A-R pair
VETH_RA=sbvra$RUN  # R's end
VETH_B=sbvb$RUN
VETH_RB=sbvrb$RUN

TMP=
MIDDLE_PID=
PIDS=()

declare -A GBPS=()

log() { printf '[router.sh] %s\n' "$*" >&2; }
die() {
    printf '[router.sh] error: %s\n' "$*" >&2
    exit 1
}

# Whether PID is running (a zombie, exited but not yet reaped, is not).
running() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# Stops one process this script started: SIGTERM, then SIGKILL after 3 s.
stop_pid() {
    local pid=$1 i
    if running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 30; i++)); do
            running "$pid" || break
            sleep 0.1
        done
        if running "$pid"; then
            log "process $pid ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # Reaps it if it is our child (a no-op otherwise).
    wait "$pid" 2>/dev/null || true
}

# Removes everything one scenario created; safe to call twice, and on a partial setup.
teardown() {
    local pid ns link
    # The middle first: its TAPs go away with its file descriptors, wherever they are.
    if [[ -n $MIDDLE_PID ]]; then
        stop_pid "$MIDDLE_PID"
        MIDDLE_PID=
    fi
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    PIDS=()
    for ns in "$NS_A" "$NS_B" "$NS_R"; do
        [[ -e /run/netns/$ns ]] || continue
        # Anything still running in there (an iperf3 the script lost track of).
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            stop_pid "$pid"
        done
        ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
    done
    # Devices left in this namespace (a TAP made persistent, a veth never moved).
    for link in "$TAP_A" "$TAP_B" "$VETH_A" "$VETH_RA" "$VETH_B" "$VETH_RB"; do
        if ip link show dev "$link" >/dev/null 2>&1; then
            ip link del dev "$link" 2>/dev/null || log "could not delete link $link"
        fi
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    teardown
    if ((rc != 0)); then
        if ((${#GBPS[@]} > 0)); then report || true; fi
    fi
    [[ -n $TMP ]] && rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
# Turn signals into a normal exit, so the EXIT trap runs.
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# Starts the middle process (stdout to a log), and waits for its `ready` line.
start_middle() {
    local name=$1 i
    shift
    : >"$TMP/middle.out"
    : >"$TMP/middle.err"
    "$@" >"$TMP/middle.out" 2>"$TMP/middle.err" &
    MIDDLE_PID=$!
    for ((i = 0; i < 200; i++)); do
        if grep -q '^ready' "$TMP/middle.out"; then
            return 0
        fi
        if ! running "$MIDDLE_PID"; then
            wait "$MIDDLE_PID" 2>/dev/null || true
            MIDDLE_PID=
            middle_logs
            die "$name exited before printing ready (command: $*)"
        fi
        sleep 0.05
    done
    middle_logs
    die "$name did not print ready within 10 s (command: $*)"
}

middle_logs() {
    log "middle's stdout:"
    sed 's/^/    /' "$TMP/middle.out" >&2 || true
    log "middle's stderr:"
    tail -n 30 "$TMP/middle.err" | sed 's/^/    /' >&2 || true
}

# Fails unless the middle is still running (a crash mid-transfer is not a slow path).
check_middle() {
    if [[ -n $MIDDLE_PID ]] && ! running "$MIDDLE_PID"; then
        middle_logs
        die "the middle process died during the $1 scenario"
    fi
}

# Moves a TAP's kernel side into NS and gives it ADDR: ns_tap NS TAP ADDR
ns_tap() {
    ip link set dev "$2" netns "$1" || die "could not move TAP $2 into namespace $1"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$1" link set dev "$2" up
}

make_hosts() {
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    ip -n "$NS_A" link set lo up
    ip -n "$NS_B" link set lo up
}

# Waits until A reaches DST (ARP and the first round trip included): connectivity DST WHAT
connectivity() {
    local dst=$1 what=$2 i
    for ((i = 0; i < 10; i++)); do
        if ip netns exec "$NS_A" ping -q -c 1 -W 1 "$dst" >/dev/null 2>&1; then
            # Warm-up: a few more round trips, ARP caches settled.
            ip netns exec "$NS_A" ping -q -c 3 -i 0.05 -W 1 "$dst" >/dev/null 2>&1 || true
            return 0
        fi
        check_middle "$what"
    done
    [[ -n $MIDDLE_PID ]] && middle_logs
    die "$what: no connectivity: ping from $NS_A to $dst failed for 10 s"
}

# One iperf3 TCP transfer from A to DST in B; records Gbit/s under KEY: measure KEY DST WHAT
measure() {
    local key=$1 dst=$2 what=$3 i server client rc gbps
    connectivity "$dst" "$what"
    ip netns exec "$NS_B" iperf3 -s -1 -p "$PORT" >"$TMP/server.log" 2>&1 &
    server=$!
    PIDS+=("$server")
    for ((i = 0; i < 100; i++)); do
        ip netns exec "$NS_B" ss -Hltn "sport = :$PORT" | grep -q . && break
        running "$server" || die "$what: iperf3 server failed: $(cat "$TMP/server.log")"
        sleep 0.05
    done
    log "$what: iperf3 -c $dst -t $SECS"
    # In the background, so that a signal interrupts `wait` at once.
    ip netns exec "$NS_A" iperf3 -c "$dst" -p "$PORT" -t "$SECS" -J >"$TMP/$key.json" 2>"$TMP/client.err" &
    client=$!
    PIDS+=("$client")
    rc=0
    wait "$client" || rc=$?
    check_middle "$what"
    gbps=$(python3 - "$TMP/$key.json" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(f"unreadable iperf3 JSON: {e}")
if "error" in d:
    sys.exit(f"iperf3: {d['error']}")
bps = d["end"]["sum_received"]["bits_per_second"]
print(f"{bps / 1e9:.3f}")
EOF
    ) || die "$what: iperf3 failed (exit $rc): $(cat "$TMP/client.err")"
    ((rc == 0)) || die "$what: iperf3 exited $rc"
    GBPS[$key]=$gbps
    log "$what: $gbps Gbit/s"
}

scenario_relay() {
    log "relay: tap-relay between $TAP_A and $TAP_B, one subnet 10.201.9.0/24"
    start_middle tap-relay "$RELAY" "$TAP_A" "$TAP_B"
    make_hosts
    ns_tap "$NS_A" "$TAP_A" 10.201.9.1/24
    ns_tap "$NS_B" "$TAP_B" 10.201.9.2/24
    measure relay 10.201.9.2 "relay"
    teardown
}

# scenario_skiff KEY true|false
scenario_skiff() {
    local key=$1 offload=$2 cfg=$TMP/skiff-$1.toml
    cat >"$cfg" <<EOF
[sysctl]
ip_forward = 1

[[interface]]
name = "$TAP_A"
address = "10.201.1.2/24"
offload = $offload

[[interface]]
name = "$TAP_B"
address = "10.201.2.2/24"
offload = $offload
EOF
    log "skiff, offload = $offload: $SKIFF up --config $cfg"
    start_middle "skiff up" "$SKIFF" up --config "$cfg"
    make_hosts
    ns_tap "$NS_A" "$TAP_A" 10.201.1.1/24
    ns_tap "$NS_B" "$TAP_B" 10.201.2.1/24
    ip -n "$NS_A" route add 10.201.2.0/24 via 10.201.1.2
    ip -n "$NS_B" route add 10.201.1.0/24 via 10.201.2.2
    measure "$key" 10.201.2.1 "skiff offload=$offload"
    teardown
}

scenario_kernel() {
    log "kernel: namespace R forwarding between veth pairs"
    make_hosts
    ip netns add "$NS_R"
    ip -n "$NS_R" link set lo up
    ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_RA" netns "$NS_R"
    ip link add "$VETH_B" netns "$NS_B" type veth peer name "$VETH_RB" netns "$NS_R"
    ip -n "$NS_A" addr add 10.201.1.1/24 dev "$VETH_A"
    ip -n "$NS_R" addr add 10.201.1.2/24 dev "$VETH_RA"
    ip -n "$NS_R" addr add 10.201.2.2/24 dev "$VETH_RB"
    ip -n "$NS_B" addr add 10.201.2.1/24 dev "$VETH_B"
    local ns link ns_link
    for ns_link in "$NS_A:$VETH_A" "$NS_R:$VETH_RA" "$NS_R:$VETH_RB" "$NS_B:$VETH_B"; do
        ns=${ns_link%%:*}
        link=${ns_link#*:}
        ip -n "$ns" link set dev "$link" up
    done
    ip netns exec "$NS_R" sysctl -q -w net.ipv4.ip_forward=1
    ip -n "$NS_A" route add 10.201.2.0/24 via 10.201.1.2
    ip -n "$NS_B" route add 10.201.1.0/24 via 10.201.2.2
    measure kernel 10.201.2.1 "kernel forwarding"
    teardown
}

# ratio NUM DEN: NUM/DEN to two places, or "n/a".
ratio() {
    if [[ -n ${1:-} && -n ${2:-} ]]; then
        awk -v n="$1" -v d="$2" 'BEGIN { if (d > 0) printf "%.2f", n / d; else print "n/a" }'
    else
        echo "n/a"
    fi
}

# goal VALUE MIN: "met" / "NOT met" / "" when unmeasured.
goal() {
    [[ $1 == n/a ]] && return 0
    awk -v v="$1" -v m="$2" 'BEGIN { print (v >= m) ? "met" : "NOT met" }'
}

report() {
    local relay=${GBPS[relay]:-} on=${GBPS[skiff_on]:-} off=${GBPS[skiff_off]:-}
    local kernel=${GBPS[kernel]:-} a b c
    a=$(ratio "$on" "$relay")
    b=$(ratio "$on" "$off")
    c=$(ratio "$kernel" "$relay")
    echo
    echo "skiff router benchmark: iperf3 TCP, host A -> host B, ${SECS} s per transfer, MTU 1500"
    printf '  %-46s %10s\n' "" "Gbit/s"
    printf '  %-46s %10s\n' "relay      tap-relay TAP<->TAP, offloads on" "${relay:-n/a}"
    printf '  %-46s %10s\n' "skiff on   skiff up router, offloads on" "${on:-n/a}"
    printf '  %-46s %10s\n' "skiff off  skiff up router, offloads off" "${off:-n/a}"
    printf '  %-46s %10s\n' "kernel     veth + ip_forward in a namespace" "${kernel:-n/a}"
    echo
    printf '  (a) skiff on / relay   %6s   goal >= 0.7   %s\n' "$a" "$(goal "$a" 0.7)"
    printf '  (b) skiff on / off     %6s   goal >= 3     %s\n' "$b" "$(goal "$b" 3)"
    printf '  (c) kernel forwarding  %6s Gbit/s = %s x relay (context, no goal)\n' \
        "${kernel:-n/a}" "$c"
}

main() {
    ((EUID == 0)) || die "needs root (network namespaces, TAP devices): sudo $0"
    for tool in ip iperf3 python3 ping ss; do
        command -v "$tool" >/dev/null || die "$tool is not installed"
    done
    [[ $SECS =~ ^[1-9][0-9]*$ ]] || die "SECS must be a positive integer, not '$SECS'"
    if [[ ${NO_BUILD:-0} != 1 ]]; then
        command -v cargo >/dev/null || die "cargo is not in PATH (NO_BUILD=1 to use prebuilt binaries)"
        log "building: cargo build --release -p skiff -p skiff-bench --bin skiff --bin tap-relay"
        (cd "$ROOT" && cargo build --release -p skiff -p skiff-bench --bin skiff --bin tap-relay) ||
            die "build failed"
    fi
    [[ -x $RELAY ]] || die "no tap-relay at $RELAY"
    [[ -x $SKIFF ]] || die "no skiff at $SKIFF"
    TMP=$(mktemp -d /tmp/skiff-router-bench.XXXXXX)

    local only=" ${ONLY:-relay kernel skiff_on skiff_off} " s
    for s in $only; do
        case $s in
        relay | kernel | skiff_on | skiff_off) ;;
        *) die "ONLY: unknown transfer '$s' (relay, kernel, skiff_on, skiff_off)" ;;
        esac
    done
    # `if`, not `&&`: a scenario's failing command must still stop the script (set -e).
    if [[ $only == *" relay "* ]]; then scenario_relay; fi
    if [[ $only == *" kernel "* ]]; then scenario_kernel; fi
    if [[ $only == *" skiff_on "* ]]; then scenario_skiff skiff_on true; fi
    if [[ $only == *" skiff_off "* ]]; then scenario_skiff skiff_off false; fi
    report
}

main "$@"
