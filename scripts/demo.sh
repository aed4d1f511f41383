#!/usr/bin/env bash
# The main job of `make demo`: a short run that shows the engine working end
# to end - a torchvision-layout ResNet-18 (small-image stem, half width)
# learns a generated task (colour gratings; the class sets the orientation)
# with SGD + cosine schedule. The run is "preempted" after 20 of 30 steps and
# resumed from its safetensors checkpoint, continuing the step counter and
# schedule. Later stages replace it with the full pipeline (render ->
# pretrain -> evaluate).
set -euo pipefail
build=${1:-build}
out=${EQ_DEMO_DIR:-$(mktemp -d /tmp/equivar-demo.XXXXXX)}
mkdir -p "$out"
# Passive OpenMP waiting: on a busy shared machine spinning threads cost more
# than they save (no effect on a quiet one worth worrying about).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
"$build/equivar" --help
run=(--model resnet18-small --width 32 --size 32 --batch 32 --classes 10 --steps 30
     --log "$out/train.jsonl" --save "$out/ckpt.safetensors")
echo
echo "== training (stopping after 20 of 30 steps, as a preempted job would)"
"$build/equivar" train "${run[@]}" --stop-after 20
echo
echo "== resuming from $out/ckpt.safetensors"
"$build/equivar" train --resume "$out/ckpt.safetensors" --log "$out/train.jsonl" --save "$out/ckpt.safetensors"
echo
echo "log: $out/train.jsonl ($(wc -l < "$out/train.jsonl") records); last:"
tail -n 1 "$out/train.jsonl"
echo "checkpoint: $out/ckpt.safetensors ($(du -k "$out/ckpt.safetensors" | cut -f1) KB, torchvision names + optim.* state)"
