#!/usr/bin/env bash
# Fuzz every target for SECONDS each from its seeds (tests/fuzz/README.md), two at a time (the
# machines here have 2 cores), and the report generator's JSON reader alongside.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS]      (BUILD_DIR configured with -Dfuzz=enabled)
# New inputs go to BUILD_DIR/fuzz-corpus/<target> (the seeds in tests/fuzz/corpus stay as they
# are); a crash or failed check is saved in BUILD_DIR/fuzz-artifacts/ and fails the run.
# Prints each target's executions. ./dev.sh fuzz [SECONDS] runs it (default 600 s each).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: tests/fuzz/run.sh BUILD_DIR [SECONDS]}
secs=${2:-60}
case $secs in '' | *[!0-9]* | 0) echo "run.sh: error: SECONDS must be a positive integer, not '$secs'" >&2; exit 2 ;; esac
targets=()
for t in norm linear block tuning; do
    if [ -x "$build/tests/fuzz/fuzz_$t" ]; then
        targets+=("$t")
    else
        echo "run.sh: error: $build/tests/fuzz/fuzz_$t is not built (meson compile -C $build tests/fuzz/fuzz_$t)" >&2
        exit 2
    fi
done
art="$build/fuzz-artifacts"
mkdir -p "$art"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

one() { # target: fuzz it, log to $logs/$t
    local t=$1 extra=()
    mkdir -p "$build/fuzz-corpus/$t"
    [ "$t" = tuning ] && extra=(-dict="$here/tuning.dict")
    # a fixed seed (NK_FUZZ_SEED, default 1): the same mutations in the same order on every
    # run, so a CI failure reproduces and a passing tree stays passing
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -seed="${NK_FUZZ_SEED:-1}" -print_final_stats=1 \
        -artifact_prefix="$art/$t-" "${extra[@]}" \
        "$build/fuzz-corpus/$t" "$here/corpus/$t" >"$logs/$t" 2>&1
}

report() { # target rc
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$1" | tail -1)
    if [ "$2" -eq 0 ]; then
        echo "fuzz_$1: ${execs:-?} executions in ${secs} s, no failure"
    else
        echo "fuzz_$1: FAILED (exit $2) after ${execs:-?} executions; the end of its log:"
        tail -40 "$logs/$1"
        ls "$art" | sed 's/^/  artifact: /'
    fi
}

fail=0
i=0
while [ $i -lt ${#targets[@]} ]; do
    pids=() names=()
    for t in "${targets[@]:$i:2}"; do
        one "$t" &
        pids+=($!) names+=("$t")
    done
    # the report generator's reader (Python) runs beside the last pair
    if [ $((i + 2)) -ge ${#targets[@]} ] && [ -f "$here/fuzz_report.py" ]; then
        python3 "$here/fuzz_report.py" --time "$secs" --artifacts "$art" >"$logs/report" 2>&1 &
        pids+=($!) names+=(report)
    fi
    for k in "${!pids[@]}"; do
        rc=0
        wait "${pids[$k]}" || rc=$?
        if [ "${names[$k]}" = report ]; then
            tail -3 "$logs/report"
            [ $rc -eq 0 ] || { echo "fuzz_report.py: FAILED (exit $rc)"; tail -40 "$logs/report"; }
        else
            report "${names[$k]}" $rc
        fi
        [ $rc -eq 0 ] || fail=1
    done
    i=$((i + 2))
done
exit $fail
