#!/usr/bin/env bash
# Installs the Debian packages equivar builds, tests and runs with.
# Idempotent: packages already present are not fetched again.
# Usage: scripts/install-deps.sh [--reference] [--datasets]
#   --reference  also the Python packages that generate PyTorch/scikit-learn
#                reference data and run the peer benchmarks (about 1 GB).
#   --datasets   also the data packages `equivar render` and the demos use
#                (Sweet Home 3D furniture, CGAL's demo meshes; about 170 MB).
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config
  libopenblas-openmp-dev liblapacke-dev
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev
  libpng-dev libjpeg62-turbo-dev zlib1g-dev
  clang
)
reference_packages=(
  python3 python3-numpy python3-torch python3-torchvision python3-sklearn
  python3-scipy python3-h5py python3-mpi4py python3-pil
)

dataset_packages=(
  sweethome3d-furniture libcgal-demo dataset-fashion-mnist
)

want=("${build_packages[@]}")
for arg in "$@"; do
  case "$arg" in
    --reference) want+=("${reference_packages[@]}") ;;
    --datasets) want+=("${dataset_packages[@]}") ;;
    *) echo "install-deps: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
