#!/usr/bin/env bash
# Two-view VICReg augmentation throughput (source images/s) at 64 px (from
# 96x96 sources) and 224 px (from 256x256 sources) on 1 and 2 cores:
# `equivar bench-augment` (loader worker threads) against torchvision + PIL
# (bench/peers/augment_torchvision.py, processes) measured in the same run,
# interleaved. EQ_BENCH_SECONDS sets the time per measurement (default 3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${EQ_BUILD:-$here/../build}
secs=${EQ_BENCH_SECONDS:-3}
py=/usr/bin/python3
have_peer=0
if "$py" -c 'import torchvision, PIL' 2>/dev/null; then have_peer=1; fi
for size_src in "64 96" "224 256"; do
  set -- $size_src
  size=$1 src=$2
  for cores in 1 2; do
    eq=$("$build/equivar" bench-augment --size "$size" --src "$src" --threads "$cores" --seconds "$secs" |
         sed -n 's/.*img\/s=\([0-9.]*\).*/\1/p')
    if [ "$have_peer" = 1 ]; then
      peer=$("$py" "$here/peers/augment_torchvision.py" "$size" "$src" "$cores" "$secs" | sed -n 's/img\/s=//p')
      ratio=$(awk -v a="$eq" -v b="$peer" 'BEGIN { printf "%.2f", a / b }')
    else
      peer=NA ratio=NA
    fi
    echo "case=augment_vicreg_${size}px ranks=$cores equivar=$eq peer=$peer unit=img/s ratio=$ratio"
  done
done
