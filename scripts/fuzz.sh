#!/usr/bin/env bash
# Builds every libFuzzer target in fuzz/ (clang, the library instrumented with
# ASan + UBSan) in build-fuzz/ and runs each for $EQ_FUZZ_SECONDS seconds
# (default 10) from a small seed corpus: fuzz/corpus/<target>/ if the repo has
# one, plus seeds generated here from tests/data. Fails on the first crash;
# the crashing input is left in build-fuzz/crashes/.
# Usage: scripts/fuzz.sh [seconds per target; default $EQ_FUZZ_SECONDS or 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${EQ_FUZZ_SECONDS:-10}}
build=${EQ_FUZZ_BUILD:-build-fuzz}
command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang)" >&2; exit 1; }
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DEQ_FUZZ=ON \
  -DCMAKE_C_FLAGS="-O1 -g -fno-omit-frame-pointer $san" >/dev/null
targets=()
for f in fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
cmake --build "$build" -j "${EQ_FUZZ_JOBS:-2}" --target "${targets[@]}" >/dev/null

# Seeds generated from the repository's test data.
corpus="$build/corpus"
rm -rf "$corpus" "$build/crashes"
mkdir -p "$build/crashes"
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t"
  if [ -d "fuzz/corpus/$t" ]; then cp -r "fuzz/corpus/$t/." "$corpus/$t/"; fi
done
seed() { [ -d "$corpus/$1" ] && cat > "$corpus/$1/$2"; return 0; }
if [ -d "$corpus/fuzz_image" ]; then cp tests/data/image/*.png tests/data/image/*.jpg "$corpus/fuzz_image/"; fi
if [ -d "$corpus/fuzz_npy" ]; then cp tests/data/image/rgb.png.npy tests/data/image/grey.jpg.npy "$corpus/fuzz_npy/"; fi
idx_raw() { printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04'; head -c 24 /dev/zero | tr '\0' '\7'; }
idx_raw | seed fuzz_idx images.idx
idx_raw | gzip -c | seed fuzz_idx images.idx.gz
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03' | seed fuzz_idx labels.idx
if [ -d "$corpus/fuzz_json" ]; then
  head -c 1500 tests/data/transforms/cases.json > "$corpus/fuzz_json/cases.json"
  printf '{"preset": "vicreg", "size": 64, "blur": {"p": 0.5, "sigma": [0.1, 2]}, "solarize": false}' > "$corpus/fuzz_json/aug.json"
  printf '{"mode": "pairs", "batch": 8, "itr": {"K": 2, "transform": {"kind": "se2", "max_angle": 30}}}' > "$corpus/fuzz_json/loader.json"
  printf '["\\u00e9\\ud83d\\ude00", 1e5, -0.5, true, null, {}]' > "$corpus/fuzz_json/values.json"
fi
{ printf '\x00\x03'; head -c 3072 /dev/zero | tr '\0' '\x80'; } | seed fuzz_cifar_stl cifar10
{ printf '\x01\x02\x05'; head -c 3072 /dev/zero | tr '\0' '\x40'; } | seed fuzz_cifar_stl cifar100
{ printf '\x02\x04'; head -c 27648 /dev/zero | tr '\0' '\x20'; } | seed fuzz_cifar_stl stl10

for t in "${targets[@]}"; do
  echo "fuzz.sh: $t for ${secs}s"
  # -max_len 64 KB: room for an STL-10 record (27 KB) and the mesh/zip seeds
  "$build/fuzz/$t" "$corpus/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -max_len=65536 \
    -artifact_prefix="$build/crashes/$t-" -print_final_stats=0 2>"$build/$t.log" ||
    { tail -40 "$build/$t.log" >&2; echo "fuzz.sh: $t failed (inputs in $build/crashes)" >&2; exit 1; }
  grep -E "^(#[0-9]+ *DONE|Done)" "$build/$t.log" | tail -1 || true
done
echo "fuzz.sh: all ${#targets[@]} targets ran ${secs}s each without a finding"
