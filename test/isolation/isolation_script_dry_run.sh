#!/usr/bin/env bash
# Runs bench/gpu/isolation.sh end to end on the fake libcuda (no GPU here), so the script that is
# only run for real on a GPU machine is known to work before device time is spent on it: it must
# print its table, pass the hook-mode memory checks the fake can show ((a) fill to the 4 GiB
# quota then CUDA_ERROR_OUT_OF_MEMORY, (b) cuMemGetInfo reports the quota), and exit 1 because
# MPS, absent here, failed.
#   isolation_script_dry_run.sh HOOK_LIBRARY PROBE FAKE_DRIVER_DIR REPO_ROOT
set -uo pipefail
hook=$1 probe=$2 fake_dir=$3 root=$4
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# PATH without nvidia-smi or nvidia-cuda-mps-control, even on a machine that has them.
env -u FLEXAI_BENCH_GRID PATH=/usr/bin:/bin LD_LIBRARY_PATH="$fake_dir" FAKE_CUDA_MEMORY_MIB=81920 \
  FLEXAI_BENCH_SECONDS=1 FLEXAI_HOOK_LIBRARY="$hook" FLEXAI_ISOLATION_PROBE="$probe" OUT="$out" \
  bash "$root/bench/gpu/isolation.sh" >"$out/stdout" 2>"$out/stderr"
rc=$?
table="$out/isolation-results.md"
fail() {
  echo "FAIL: $*"
  echo "--- stdout"; cat "$out/stdout"; echo "--- stderr"; tail -40 "$out/stderr"
  exit 1
}
[ "$rc" = 1 ] || fail "exit status $rc, expected 1 (the MPS rows cannot pass without MPS)"
[ -s "$table" ] || fail "no results table at $table"
expect_row() {  # expect_row TEXT: a table line containing TEXT
  grep -qF -- "$1" "$table" || fail "no row matching: $1"
}
expect_row "| (a) 4 GiB slice | hook | 3584..4096 MiB, then OUT_OF_MEMORY (2) | 4096 MiB, then error 2 | PASS |"
expect_row "| (b) cuMemGetInfo total | hook | 4096 MiB | 4096 MiB | PASS |"
expect_row "| (b) one 5 GiB cuMemAlloc | hook | OUT_OF_MEMORY (2) | error 2 | PASS |"
expect_row "| (a) 4 GiB slice | none (reference) | whole GPU | 81920 MiB | - |"
expect_row "| (a) 4 GiB slice | mps | 3584..4096 MiB, then OUT_OF_MEMORY (2) | MPS daemon did not start | FAIL |"
# (c) and (d) depend on timing on a shared CI machine: only that they produced a figure.
grep -qE '^\| \(c\) compute 30:70 \| hook \| .* kernels/s, ratio [0-9.]+ \|' "$table" ||
  fail "no compute-share figure for hook mode"
grep -qE '^\| \(d\) launch overhead \| hook \| .* us/launch' "$table" || fail "no launch overhead figure"
# What each hook process was charged per kernel, read from its usage.bin, for diagnosis.
grep -qE 'charged per kernel: 30% [0-9.]+ ms, 70% [0-9.]+ ms' "$out/isolation-logs/c-hook-charged.out" ||
  fail "no charged cost per kernel for the hook pair"
echo "isolation.sh dry run on the fake driver: OK"
cat "$table"
