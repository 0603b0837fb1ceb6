#!/usr/bin/env bash
# The whole test suite: the README's test command, and what .ci/run runs.
#
# As root it first installs, quietly and only what is missing, the Debian packages the
# tests run. Then it runs every crate's tests without stopping at a failing test binary.
# A test whose tool or privilege is missing is skipped with one line saying why, and the
# skips are listed at the end; with CI=true a skip fails. Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# build-essential: cc links the tests; iproute2: ip and nstat; iputils-ping: the kernel's
# ping in the TAP tests; iputils-clockdiff: clockdiff against skiff and the kernel; tshark:
# reads every capture skiff writes; hping3: ICMP timestamp requests to skiff.
packages=(build-essential iproute2 iputils-ping iputils-clockdiff tshark hping3)

if [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; they may not.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    out=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$out" 2>&1; then
      cat "$out"
      exit 1
    fi
    rm -f "$out"
  fi
else
  echo "not root: installing nothing; the tests that need root or a missing tool are skipped"
fi

target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
skipped="$(cd "$target" && pwd)/skipped-tests.txt"
log="$(cd "$target" && pwd)/test-output.txt"
: >"$skipped"

# skiff-bench holds only benchmarks; `cargo bench` builds it.
status=0
SKIFF_SKIPPED="$skipped" cargo test --workspace --exclude skiff-bench --no-fail-fast "$@" 2>&1 \
  | tee "$log" || status=$?

if [ -s "$skipped" ]; then
  echo
  echo "skipped ($(wc -l <"$skipped")):"
  sort "$skipped" | sed 's/^skipped: /  /'
fi
# One line over every test binary: passed and failed, summed.
awk '/^test result:/ { p += $4; f += $6 } END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
