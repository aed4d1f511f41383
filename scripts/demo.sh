#!/usr/bin/env bash
# The main job of `make demo`: a short run that shows the engine working end
# to end. Later stages replace it with the full pipeline (render -> pretrain
# -> evaluate).
set -euo pipefail
build=${1:-build}
"$build/equivar" --help
