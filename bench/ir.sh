#!/usr/bin/env bash
# Instructions per packet for every pair of bench cases, under callgrind: repeatable
# figures beside criterion's (which this machine's noise moves by several percent).
#
#   bench/ir.sh                 # every pair
#   bench/ir.sh udp             # the pairs whose case names contain "udp"
#
# Each case (crates/bench/src/cases.rs, the same setup and step criterion times) runs at
# N and 11N steps (N=1000; 100 for the 62 KB datagrams); the difference over 10N steps and
# the step's packets (fragments for reasm, datagrams for frag) is the cost of one, setup
# excluded. ratio = reference / case: above 1, the case
# costs fewer instructions than its reference. callgrind counts a `rep movsb` copy as a few
# instructions whatever its length: for copy-heavy cases (frag) criterion is the bar.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/ir-count
FILTER=${1:-}

command -v valgrind >/dev/null || { echo "ir.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[[ -n ${NO_BUILD:-} ]] || cargo build --release -q -p skiff-bench --bin ir-count --manifest-path "$ROOT/Cargo.toml"

# case | reference
PAIRS=(
  "rx/skiff/icmp-echo-64|rx/smoltcp/icmp-echo-64"
  "udp/skiff/rx-64|udp/smoltcp/rx-64"
  "udp/skiff/tx-64|udp/smoltcp/tx-64"
  "udp/skiff/rx-1472|udp/smoltcp/rx-1472"
  "udp/skiff/tx-1472|udp/smoltcp/tx-1472"
  "udp/skiff/rx-64-connected|udp/skiff/rx-64-connected-nodemux"
  "fwd/mc-2oif/64|fwd/unicast/64"
  "reasm/skiff/8k-6-inorder|reasm/smoltcp/8k-6-inorder"
  "reasm/skiff/62k-42-inorder|reasm/smoltcp/62k-42-inorder"
  "reasm/skiff/62k-42-reverse|reasm/smoltcp/62k-42-reverse"
  "reasm/skiff/8k-6-4flows|reasm/smoltcp/8k-6-4flows"
  "frag/skiff-fast/62k-mtu1500|frag/memcpy/62k-mtu1500"
)

declare -A ELEMENTS
while read -r name n; do ELEMENTS[$name]=$n; done < <("$BIN" list)

refs() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" "$2" 2>&1 |
    sed -n 's/.*refs: *//p' | tr -d ,
}

declare -A COST
cost() {
  local name=$1
  if [[ -z ${COST[$name]:-} ]]; then
    local a b n=1000
    [[ $name != reasm/* && $name != frag/* ]] || n=100
    a=$(refs "$name" "$n")
    b=$(refs "$name" $((11 * n)))
    COST[$name]=$(( (b - a) / (10 * n * ${ELEMENTS[$name]}) ))
  fi
  echo "${COST[$name]}"
}

printf '%-34s %8s   %-36s %8s  %6s\n' case instr reference instr ratio
for pair in "${PAIRS[@]}"; do
  case_=${pair%|*}; ref=${pair#*|}
  [[ -z $FILTER || $pair == *"$FILTER"* ]] || continue
  c=$(cost "$case_"); r=$(cost "$ref")
  printf '%-34s %8d   %-36s %8d  %6.2f\n' "$case_" "$c" "$ref" "$r" "$(awk -v r="$r" -v c="$c" 'BEGIN { print r / c }')"
done
