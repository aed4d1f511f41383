#!/usr/bin/env bash
# Device check of the CUDA backend on a GPU machine.
#
#   scripts/gpu-check.sh --prepare   here (Debian, apt reachable): unpacks
#                                    Debian's OpenBLAS into .gpudeps/ so it
#                                    can travel to a machine that has none
#   scripts/gpu-check.sh             there: builds the tensor core, autograd,
#                                    the ops and the CUDA backend, then runs
#                                    test_device and test_device_ops against
#                                    the real backend
#
# The GPU machine has nvcc and gcc but none of the project's CPU dependencies
# (MPI, HDF5, OpenBLAS) and no package archive, so this builds only the
# layers the device tests need (the autograd tape reaches the reductions, and
# those the elementwise kernels and BLAS) instead of the whole CMake project.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps=$root/.gpudeps

if [ "${1:-}" = --prepare ]; then
  rm -rf "$deps" && mkdir -p "$deps/debs"
  (cd "$deps/debs" && apt-get download libopenblas0-openmp libopenblas-openmp-dev libgfortran5 libquadmath0)
  for d in "$deps"/debs/*.deb; do dpkg -x "$d" "$deps/root"; done
  # The static library, LAPACK and the docs stay behind: the carry is 64 MiB.
  rm -rf "$deps/debs" "$deps/root/usr/share"
  find "$deps/root" \( -name '*.a' -o -name 'liblapack*' \) -delete
  grep -qx '/.gpudeps/' "$root/.git/info/exclude" 2>/dev/null || echo /.gpudeps/ >>"$root/.git/info/exclude"
  echo "gpu-check: OpenBLAS unpacked in $deps; name .gpudeps in the device run's carry"
  exit 0
fi

cd "$root"
out=${OUT:-/tmp/eq-gpu-check}
obj=$(mktemp -d)
mkdir -p "$out"
nvidia-smi -L || true

blas_inc=/usr/include/x86_64-linux-gnu/openblas-openmp
blas_lib=/usr/lib/x86_64-linux-gnu/openblas-openmp
extra_libs=
if [ ! -f "$blas_inc/cblas.h" ]; then
  if [ ! -d "$deps/root" ]; then
    echo "gpu-check: no OpenBLAS here and no .gpudeps/: run 'scripts/gpu-check.sh --prepare' on the build machine and carry .gpudeps" >&2
    exit 2
  fi
  blas_inc=$deps/root$blas_inc
  blas_lib=$deps/root$blas_lib
  extra_libs=$deps/root/usr/lib/x86_64-linux-gnu
fi
cuda_lib=/usr/local/cuda/lib64
[ -d "$cuda_lib" ] || cuda_lib=$(dirname "$(command -v nvcc)")/../lib64

cflags="-O2 -std=gnu11 -fopenmp -Iinclude -Isrc -Itests -I$blas_inc -DEQ_HAVE_CUDA=1"
export cflags obj
printf '%s\n' src/core/*.c src/tensor/*.c src/autograd/*.c src/ops/*.c src/ops/nn/*.c |
  xargs -P "$(nproc)" -I{} sh -c 'gcc $cflags -c "$1" -o "$obj/$(echo "$1" | tr / _).o"' _ {}
nvcc -O2 -arch=sm_90 -Iinclude -c src/tensor/cuda/cuda_backend.cu -o "$obj/cuda_backend.o"
ar rcs "$obj/libequivar_gpu_check.a" "$obj"/*.o

export LD_LIBRARY_PATH=$blas_lib${extra_libs:+:$extra_libs}:$cuda_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
status=0
for t in test_device test_device_ops; do
  gcc $cflags "tests/tensor/$t.c" "$obj/libequivar_gpu_check.a" -L"$cuda_lib" -lcudart -lstdc++ \
    -L"$blas_lib" -lopenblas -lm -o "$out/$t"
  echo "== $t"
  "$out/$t" || status=1
done
rm -rf "$obj"
exit $status
