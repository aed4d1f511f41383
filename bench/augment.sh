#!/usr/bin/env bash
# Two-view VICReg augmentation throughput (source images/s) at 64 px (from
# 96x96 sources) and 224 px (from 256x256 sources) on 1 and 2 cores:
# `equivar bench-augment` (loader worker threads) against torchvision + PIL
# (bench/peers/augment_torchvision.py, processes) measured in the same run,
# interleaved: EQ_BENCH_REPS rounds (default 3) of one equivar and one peer
# measurement of EQ_BENCH_SECONDS each (default 2); the best round of each
# is reported, which discounts the other tenants of a shared machine.
# Each case has a second line in images per CPU-second (process CPU time
# while timing), the per-core figure that stays meaningful under load.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${EQ_BUILD:-$here/../build}
secs=${EQ_BENCH_SECONDS:-2}
reps=${EQ_BENCH_REPS:-3}
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }
field() { sed -n "s/.*$1=\\([0-9.]*\\).*/\\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
py=/usr/bin/python3
have_peer=0
if "$py" -c 'import torchvision, PIL' 2>/dev/null; then have_peer=1; fi
for size_src in "64 96" "224 256"; do
  set -- $size_src
  size=$1 src=$2
  for cores in 1 2; do
    eq= eqc= peer= peerc=
    for ((r = 0; r < reps; r++)); do
      out=$("$build/equivar" bench-augment --size "$size" --src "$src" --threads "$cores" --seconds "$secs")
      eq=$(best "$eq" "$(field 'img\/s' <<<"${out/img\/cpu-s=/x=}")")
      eqc=$(best "$eqc" "$(field 'img\/cpu-s' <<<"$out")")
      if [ "$have_peer" = 1 ]; then
        out=$("$py" "$here/peers/augment_torchvision.py" "$size" "$src" "$cores" "$secs")
        peer=$(best "$peer" "$(field 'img\/s' <<<"${out/img\/cpu-s=/x=}")")
        peerc=$(best "$peerc" "$(field 'img\/cpu-s' <<<"$out")")
      fi
    done
    if [ "$have_peer" = 1 ]; then
      echo "case=augment_vicreg_${size}px ranks=$cores equivar=$eq peer=$peer unit=img/s ratio=$(ratio "$eq" "$peer")"
      echo "case=augment_vicreg_${size}px_cpu ranks=$cores equivar=$eqc peer=$peerc unit=img/cpu-s ratio=$(ratio "$eqc" "$peerc")"
    else
      echo "case=augment_vicreg_${size}px ranks=$cores equivar=$eq peer=NA unit=img/s ratio=NA"
      echo "case=augment_vicreg_${size}px_cpu ranks=$cores equivar=$eqc peer=NA unit=img/cpu-s ratio=NA"
    fi
  done
done
