#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (+ ASan/UBSan) and runs
# each for a short time from its seed corpus (fuzz/corpus/<target>/ if any).
# Usage: scripts/fuzz.sh [seconds per target, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
build=build-fuzz
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DEQ_SANITIZE=ON -DEQ_FUZZ=ON \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
targets=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
cmake --build "$build" -j "$(nproc)" --target $targets >/dev/null
for t in $targets; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  [[ -d "fuzz/corpus/$t" ]] && cp -n fuzz/corpus/$t/* "$corpus/" 2>/dev/null || true
  echo "fuzz: $t for ${secs}s" >&2
  "$build/fuzz/$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 "$corpus" 2>&1 | tail -n 2
done
