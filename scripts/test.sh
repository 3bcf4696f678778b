#!/bin/bash
# The whole test suite: cargo tests and clippy, EUnit, Common Test and
# Dialyzer. Prints every tool's own output, then one closing line
# "N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
./scripts/deps.sh || exit 1
export BARNACLE_REQUIRE_SERVERS=1 REBAR_COLOR=none
log=$(mktemp -d)
passed=0; failed=0; skipped=0
add() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + ${3:-0})); }
step() { printf '\n=== %s\n' "$*"; }
strip() { sed -r 's/\x1b\[[0-9;]*[mK]//g'; }

step "cargo test"
cargo test --workspace 2>&1 | tee "$log/cargo"
rc=${PIPESTATUS[0]}
p=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log/cargo" | awk '{s+=$4} END {print s+0}')
f=$(grep -Eo '[0-9]+ failed;' "$log/cargo" | awk '{s+=$1} END {print s+0}')
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
add "$p" "$f"

step "cargo clippy"
if cargo clippy --workspace --all-targets --quiet -- -D warnings 2>&1 | tee "$log/clippy"; then
    add 1 0
else
    add 0 1
fi

step "cargo fuzz (gossip decoder, 30 s)"
if cargo fuzz --version >/dev/null 2>&1 && cargo +nightly --version >/dev/null 2>&1; then
    if (cd native/barnacle_core && cargo +nightly fuzz run gossip_decode -- -max_total_time=30) \
           > "$log/fuzz" 2>&1; then
        add 1 0
    else
        tail -30 "$log/fuzz"; add 0 1
    fi
else
    echo "skipped: cargo-fuzz with a nightly toolchain is not installed (the proptest"
    echo "properties above still decode thousands of random packets)"
    add 0 0 1
fi

step "native library"
if ! sh native/build.sh; then
    echo "native build failed"; add 0 1
fi

step "rebar3 eunit"
rebar3 eunit 2>&1 | tee "$log/eunit.raw"
rc=${PIPESTATUS[0]}
strip < "$log/eunit.raw" > "$log/eunit"
line=$(grep -E '^[0-9]+ tests, [0-9]+ failures' "$log/eunit" | tail -1)
if [ -n "$line" ]; then
    total=$(echo "$line" | sed -E 's/^([0-9]+) tests.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ tests, ([0-9]+) failures.*/\1/')
    c=$(echo "$line" | grep -Eo '[0-9]+ cancelled' | grep -Eo '[0-9]+' || true)
    c=${c:-0}
    add $((total - f - c)) $((f + c))
else
    add 0 1
fi
if [ "$rc" -ne 0 ] && [ -n "$line" ] && [ "$f" -eq 0 ]; then add 0 1; fi

step "rebar3 ct"
rebar3 ct 2>&1 | tee "$log/ct.raw"
rc=${PIPESTATUS[0]}
strip < "$log/ct.raw" > "$log/ct"
ctp=$(grep -Eo 'All [0-9]+ tests passed' "$log/ct" | grep -Eo '[0-9]+' | tail -1)
[ -z "$ctp" ] && ctp=$(grep -Eo 'Passed [0-9]+ tests' "$log/ct" | grep -Eo '[0-9]+' | tail -1)
ctf=$(grep -Eo 'Failed [0-9]+ tests' "$log/ct" | grep -Eo '[0-9]+' | tail -1)
cts=$(grep -Eo 'Skipped [0-9]+' "$log/ct" | grep -Eo '[0-9]+' | tail -1)
ctp=${ctp:-0}; ctf=${ctf:-0}; cts=${cts:-0}
if [ "$rc" -ne 0 ] && [ "$ctf" -eq 0 ]; then ctf=1; fi
add "$ctp" "$ctf" "$cts"

step "rebar3 dialyzer"
if rebar3 dialyzer 2>&1 | tee "$log/dialyzer" | tail -20; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    add 1 0
else
    add 0 1
fi

rm -rf "$log"
echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
