#!/usr/bin/env bash
# Device check of the CUDA backend on a GPU machine that lacks the project's
# CPU dependencies (MPI, HDF5, OpenBLAS): builds only the tensor core, the
# autograd tape and the CUDA backend, then runs tests/tensor/test_device.
set -euo pipefail
out=${OUT:-/tmp/eq-gpu-check}
obj=$(mktemp -d)
mkdir -p "$out"
nvidia-smi -L || true
cflags="-O2 -std=gnu11 -fopenmp -Iinclude -Isrc -Itests -DEQ_HAVE_CUDA=1"
for f in src/core/error.c src/core/arena.c src/core/philox.c src/core/runtime.c \
         src/tensor/*.c src/autograd/*.c tests/tensor/test_device.c; do
  gcc $cflags -c "$f" -o "$obj/$(echo "$f" | tr / _).o"
done
nvcc -O2 -arch=sm_90 -Iinclude -c src/tensor/cuda/cuda_backend.cu -o "$obj/cuda_backend.o"
g++ -fopenmp "$obj"/*.o -L/usr/local/cuda/lib64 -lcudart -lm -o "$out/test_device"
"$out/test_device"
