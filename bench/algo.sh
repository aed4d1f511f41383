#!/usr/bin/env bash
# Algorithms (issue 4): equivar's estimators at 1 and 2 ranks against
# scikit-learn 1.2 in the same run, on data of the same shapes:
#   kmeans    KMeans 8 clusters x 30 Lloyd iterations, 1,000,000 x 32 float32
#   lasso1/10 Lasso, 1 and 10 coordinate-descent sweeps, 2,000,000 x 32
#   pca_full  PCA to 16 components of 200,000 x 256, exact (TSQR / LAPACK SVD)
#   pca_rand  the same, randomised (both sides)
#   knn       kNN classifier, k = 20, 10,000 queries on 100,000 x 128
# Lines: case=<name> ranks=<n> equivar=<s> peer=<s> unit=s ratio=<peer/equivar>.
#   ranks=1: one process with 2 threads against scikit-learn with 2 threads;
#   ranks=2: two processes with 1 thread each against the same figure;
#   <case>_1t: one thread per process everywhere (scikit-learn with 1
#   thread), so ranks=1 -> ranks=2 on those lines is the scaling per rank.
# ALGO_SCALE=0.1 shrinks every case (a quick check); ALGO_REPS sets repetitions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${EQ_BUILD:-$(dirname "$here")/build}
bin=$build/bench/algo_bench
scale=${ALGO_SCALE:-1}
reps=${ALGO_REPS:-3}
py=/usr/bin/python3
[ -x "$bin" ] || { echo "algo.sh: build first ($bin missing)" >&2; exit 1; }
mpi="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --bind-to none"
have_peer=1
$py -c 'import sklearn' 2>/dev/null || have_peer=0

secs() { sed -n 's/.*seconds=\([0-9.]*\).*/\1/p'; }
run_eq() { # ranks threads case
  OMP_NUM_THREADS=$2 OPENBLAS_NUM_THREADS=$2 $mpi -np "$1" "$bin" "$3" "$scale" "$reps" | secs
}
run_peer() { # threads case
  if [ $have_peer = 1 ]; then
    OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 $py "$here/peers/algo_sklearn.py" "$2" "$scale" "$reps" | secs
  else echo nan; fi
}
line() { # case ranks equivar peer
  ratio=$(awk -v e="$3" -v p="$4" 'BEGIN { if (p == "nan" || e == 0) print "nan"; else printf "%.2f", p / e }')
  echo "case=$1 ranks=$2 equivar=$3 peer=$4 unit=s ratio=$ratio"
}
for c in kmeans lasso1 lasso10 pca_full pca_rand knn; do
  p2=$(run_peer 2 $c)
  e2=$(run_eq 2 1 $c)
  line $c 1 "$(run_eq 1 2 $c)" "$p2"
  line $c 2 "$e2" "$p2"
  p1=$(run_peer 1 $c)
  line ${c}_1t 1 "$(run_eq 1 1 $c)" "$p1"
  line ${c}_1t 2 "$e2" "$p1"
done
