#!/usr/bin/env bash
# Training step (forward + backward + SGD momentum 0.9), 64 images of
# 3x64x64, 128 classes: torchvision ResNet-18 and ViT-Tiny (patch 8, dim 192,
# depth 6, 3 heads, MLP 768), equivar (bench/train_step.c) against PyTorch
# (bench/peers/train_step_torch.py, its best CPU configuration), one run each,
# side by side. One line per case:
#   case=<name> ranks=1 equivar=<img/s> peer=<img/s> unit=img/s ratio=<equivar/peer>
# plus a comment line with GFLOP/s and % of the fp32 FMA peak that
# build/bench/fma_peak measures on the same threads in the same run. The
# percentage is the model FLOPs utilisation (MFU) as PaLM defines it
# (arXiv 2204.02311, appendix B): the model's FLOPs, 3x the forward's
# multiply-adds x 2, whatever the implementation multiplies. Where the
# implementation multiplies a different count that we know, the hardware
# FLOPs utilisation (HFU) follows in brackets. Env: EQ_BUILD, STEPS (5),
# WARMUP (2), THREADS (2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${EQ_BUILD:-$here/../build}
steps=${STEPS:-5}
warmup=${WARMUP:-2}
threads=${THREADS:-2}
driver=$build/bench/train_step
[ -x "$driver" ] || { echo "train-step: $driver not built (cmake --build $build)" >&2; exit 1; }
peak=$(OMP_NUM_THREADS=$threads "$build/bench/fma_peak" | sed -n 's/.*peak_gflops=\([^ ]*\).*/\1/p')
[ -n "$peak" ] || { echo "train-step: $build/bench/fma_peak gave no peak" >&2; exit 1; }
echo "# fp32 FMA peak on $threads threads, measured now: $peak GFLOP/s"
# Forward GMAC per image at 64 px (peers.md): ResNet-18 0.148, ViT-Tiny 0.185.
declare -A gmac=([resnet18]=0.148 [vit-tiny]=0.185)
# What ViT-Tiny's step multiplies, against 3 x 0.1846 GMAC an image counted
# above: no input gradient for the image (2.36 M MAC), and the backward
# skips the last block's rows that no gradient reaches, the 64 patch tokens
# of the CLS-pooled head: in the MLP (64 rows x 4 products x 192 x 768 =
# 37.7 M MAC) and the attention's output projection (64 x 2 x 192 x 192 =
# 4.7 M MAC). Printed beside the nominal figure, so that neither is
# mistaken for the other. (ResNet-18's Winograd convolutions do fewer multiplies by
# changing the arithmetic itself; its MFU counts the dense convolutions
# they replace, and no HFU is printed for it.)
declare -A executed_gmac=([vit-tiny]=0.5091)
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
. "$here/peers/torch_best.sh"
for model in resnet18 vit-tiny; do
  eq=$(OMP_NUM_THREADS=$threads "$driver" "$model" 64 "$steps" "$warmup" | field images_per_s)
  peer=NA
  if /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
    peer=$(OMP_NUM_THREADS=$threads torch_best /usr/bin/python3 "$here/peers/train_step_torch.py" "$model" 64 "$steps" \
           "$warmup" | field images_per_s)
  fi
  ratio=NA
  [ "$peer" != NA ] && ratio=$(awk -v a="$eq" -v b="$peer" 'BEGIN { printf "%.2f", a / b }')
  echo "case=train_step_$model ranks=1 equivar=$eq peer=$peer unit=img/s ratio=$ratio"
  awk -v v="$eq" -v p="$peer" -v g="${gmac[$model]}" -v x="${executed_gmac[$model]:-}" -v peak="$peak" 'BEGIN {
    f = v * 6 * g; printf "# %s: equivar %.1f GFLOP/s (%.0f%% of peak, MFU)", "'"$model"'", f, 100 * f / peak
    if (x != "") { e = v * 2 * x; printf " [multiplied: %.1f GFLOP/s, %.0f%%, HFU]", e, 100 * e / peak }
    if (p != "NA") { q = p * 6 * g; printf ", peer %.1f GFLOP/s (%.0f%%)", q, 100 * q / peak }
    printf "\n" }'
done
