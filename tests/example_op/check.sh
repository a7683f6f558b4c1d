#!/usr/bin/env bash
# Shows, on every CI run, what adding an operator takes: add-l2norm.patch adds a (test-only)
# operator, l2norm (y = x / sqrt(sum(x^2) + eps) * gamma), with exactly
#   - its line in kernels/normkit_ops.inc,
#   - its kernel and enumerator (kernels/l2norm/),
#   - its float64 reference (tests/reference.c: nk_ref_l2norm),
#   - its typed entry point (include/normkit.h, dispatch/entry.c),
# and nothing else. This script applies it to a scratch checkout of HEAD, checks that it touches
# only those files, builds, and runs the unit and kernel suites: the registry-driven tests must
# then cover normkit_l2norm_f32__scalar (every shape, stride, guard page, NaN/huge row, and the
# public entry point's argument checks) with no test code written for it.
#   usage: tests/example_op/check.sh [SCRATCH_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
scratch=${1:-$(mktemp -d)}
tree="$scratch/tree" build="$scratch/build"
cleanup() { git -C "$repo" worktree remove --force "$tree" >/dev/null 2>&1 || true; }
trap cleanup EXIT

git -C "$repo" worktree add --detach "$tree" HEAD >/dev/null
git -C "$tree" apply "$here/add-l2norm.patch"
git -C "$tree" add -A
touched=$(git -C "$tree" diff --cached --name-only HEAD | sort | tr '\n' ' ')
allowed="dispatch/entry.c include/normkit.h kernels/l2norm/l2norm.inc kernels/l2norm/l2norm_f32__scalar.c kernels/normkit_ops.inc tests/reference.c "
if [ "$touched" != "$allowed" ]; then
    echo "example_op: the patch touches '$touched', expected '$allowed'" >&2
    exit 1
fi
echo "example_op: the patch touches only: $touched"

# -O1: what this checks is the registry's plumbing, not speed (the build takes about half
# the time of the default -O3)
meson setup "$build" "$tree" -Dbenchmarks=disabled -Dreports=disabled -Dwerror=true \
    -Doptimization=1 >/dev/null
meson compile -C "$build" >/dev/null
meson test -C "$build" --suite unit --suite kernels --print-errorlogs
# the generic suites picked the new operator up, by name
out=$("$build/tests/test_kernels")
n=$(grep -c '^\[       OK \] normkit_l2norm_f32__scalar: ' <<<"$out" || true)
if [ "$n" -lt 10 ]; then
    echo "example_op: only $n kernel cases ran for normkit_l2norm_f32__scalar" >&2
    exit 1
fi
# captured first: with pipefail, grep -q quitting at its first match could fail the pipe
# (stderr stays out of what is searched)
info=$("$build/tools/normkit-info") || { echo "example_op: normkit-info failed" >&2; exit 1; }
grep -q 'l2norm' <<<"$info" || { echo "example_op: normkit-info does not list l2norm" >&2; exit 1; }
echo "example_op: $n kernel test cases ran for normkit_l2norm_f32__scalar; l2norm dispatched"
