# Sourced by the bench suites: torch_best <command...> runs a PyTorch peer in
# its best configuration on this machine (../shared/peers.md,
# docs/PERFORMANCE.md):
# - the OpenMP build of OpenBLAS first on the library path (with the default
#   pthread build the two thread pools fight: ViT-Tiny 2x slower);
# - glibc's malloc asking for transparent huge pages, which Debian's kernel
#   gives only on request and PyTorch 1.13 does not ask for (its training
#   step 12-17 % faster, 2026-11-27). equivar asks for them itself
#   (src/core/arena.c).
torch_best() {
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1 "$@"
}
