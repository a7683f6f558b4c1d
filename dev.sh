#!/usr/bin/env bash
# normkit's quick start: each command installs what is missing (Debian 12, as root or with
# sudo), configures build/ if needed, builds, then does its job.
#   ./dev.sh test     build and run the test suite (meson test)
#   ./dev.sh report   build, run the quick benchmark profile, write the report (build/report/)
#   ./dev.sh bench    build and run the quick benchmark profile (console output only)
#   ./dev.sh tune     build and run normkit-tune with its default budget (build/normkit-tuning.json)
#   ./dev.sh fuzz [SECONDS]  fuzz every libFuzzer target SECONDS each (default 600) from its
#                     seeds, in build-fuzz/ (clang, ASan; tests/fuzz/README.md)
#   ./dev.sh gen      regenerate the norm kernels from kernels/templates/ (tools/gen/generate.py)
#   ./dev.sh deps     only install the Debian packages
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(meson ninja-build pkgconf gcc g++ python3 python3-matplotlib
          libcmocka-dev libhwloc-dev libsleef-dev libbenchmark-dev libeigen3-dev libdnnl-dev
          libopenblas-dev libxnnpack-dev libpthreadpool-dev libtorch-dev libcjson-dev)

deps() {
    local missing=()
    for p in "${PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "dev.sh: installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

configure() {
    [ -f build/build.ninja ] || meson setup build
    meson compile -C build
}

# The fuzz build: clang with libFuzzer; AddressSanitizer in the library and the targets
# (instrumented for coverage too). UndefinedBehaviorSanitizer is on in the targets only: in the
# library it multiplies the kernels' compile time by ~10 with clang, and CI's gcc
# ASan+UBSan run covers the library's UB.
fuzz_build() {
    [ -f build-fuzz/build.ninja ] ||
        CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=enabled -Db_sanitize=address \
            -Db_lundef=false -Doptimization=1 -Ddebug=true \
            -Dc_args='-fsanitize=fuzzer-no-link -g1' -Dbenchmarks=disabled \
            -Dreports=disabled -Dtools=disabled
    meson compile -C build-fuzz tests/fuzz/fuzz_norm tests/fuzz/fuzz_linear tests/fuzz/fuzz_block \
        tests/fuzz/fuzz_tuning
}

case "${1:-}" in
deps) deps ;;
gen) python3 tools/gen/generate.py ;;
fuzz) deps clang; fuzz_build
      # a new seed each time (CI keeps 1): NK_FUZZ_SEED=N ./dev.sh fuzz repeats a run
      seed=${NK_FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}; echo "dev.sh: fuzzing with seed $seed"
      NK_FUZZ_SEED=$seed tests/fuzz/run.sh build-fuzz "${2:-600}" ;;
test) deps; configure; meson test -C build --print-errorlogs ;;
bench) deps; configure; ./build/bench/normkit-bench --profile=quick ;;
report) deps; configure; meson compile -C build report ;;
tune) deps; configure; meson compile -C build tune ;;
*) echo "usage: ./dev.sh test|report|bench|tune|fuzz [SECONDS]|gen|deps" >&2; exit 2 ;;
esac
