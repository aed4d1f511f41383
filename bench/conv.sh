#!/usr/bin/env bash
# Convolution kernels at torchvision ResNet-18's layer shapes (batch 64,
# 64x64 input): build/bench/conv_bench (wall clock) against PyTorch's
# F.conv2d (bench/peers/conv_torch.py, oneDNN), both on EQ_BENCH_THREADS
# threads (default 2), best of EQ_BENCH_REPS (default 5). One case per layer
# and direction in GFLOP/s, then the network's convolutions weighted by use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${EQ_BUILD:-$here/../build}
threads=${EQ_BENCH_THREADS:-2}
reps=${EQ_BENCH_REPS:-5}
py=/usr/bin/python3
. "$here/peers/torch_best.sh"
eq_out=$(OMP_NUM_THREADS=$threads "$build/bench/conv_bench" 64 "$reps" --wall)
if "$py" -c 'import torch' 2>/dev/null; then
  peer_out=$(OMP_NUM_THREADS=$threads torch_best "$py" "$here/peers/conv_torch.py" "$threads" 64 "$reps")
else
  peer_out=""
fi
get() { # get <text> <layer> <field>
  printf '%s\n' "$1" | sed -n "s/^layer=$2 .*$3=\([0-9.]*\).*/\1/p"
}
for tag in $(printf '%s\n' "$eq_out" | sed -n 's/^layer=\([^ ]*\) .*/\1/p'); do
  for dir in fwd bwd; do
    eq=$(get "$eq_out" "$tag" "${dir}_gflops")
    peer=$(get "$peer_out" "$tag" "${dir}_gflops")
    ratio=$(awk -v a="$eq" -v b="${peer:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }')
    echo "case=conv_${tag}_${dir} ranks=$threads equivar=$eq peer=${peer:-NA} unit=GFLOP/s ratio=$ratio"
  done
done
eq=$(printf '%s\n' "$eq_out" | sed -n 's/^case=resnet18_convs .*equivar=\([0-9.]*\).*/\1/p')
peer=$(printf '%s\n' "$peer_out" | sed -n 's/^total_gflops=\([0-9.]*\)/\1/p')
ratio=$(awk -v a="$eq" -v b="${peer:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }')
echo "case=conv_resnet18_total ranks=$threads equivar=$eq peer=${peer:-NA} unit=GFLOP/s ratio=$ratio"
