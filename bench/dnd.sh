#!/usr/bin/env bash
# Distributed arrays (bench/dnd_bench.c) against NumPy / SciPy
# (bench/peers/dnd_numpy.py, one process, measured in the same run), at 1 and
# 2 ranks (RANKS="1 2"). One line per case:
#   case=<name> ranks=<n> equivar=<v> peer=<v> unit=<s|us|MB> ratio=<peer/equivar>
# Memory cases (…_mem): equivar = peak RSS growth of the worst rank, peer =
# that rank's local inputs + result; ratio >= 0.77 is the 1.3x target.
# Env: EQ_BUILD, RANKS, REPS (3), THREADS (OpenMP threads per rank, 1),
# EQ_BENCH_SCALE (1; e.g. 0.1 for a quick run), CASES (a subset of the case names).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${EQ_BUILD:-$here/../build}
driver=$build/bench/dnd_bench
[ -x "$driver" ] || { echo "dnd: $driver not built (cmake --build $build)" >&2; exit 1; }
reps=${REPS:-3}
threads=${THREADS:-1}
ranks=${RANKS:-1 2}
mpi=(mpirun --allow-run-as-root --oversubscribe --mca btl self,vader --bind-to none)
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || a == 0) print "NA"; else printf "%.2f", b / a }'; }
cases=${CASES:-"mean0 mean1 std0 std1 cdist_exact cdist_quad matmul_0n matmul_00 resplit_01 resplit_10 getitem getitem_split0 add1 fft0 fft1"}
for c in $cases; do
  peer=NA
  if /usr/bin/python3 -c "import numpy, scipy" 2>/dev/null; then
    peer=$(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads /usr/bin/python3 "$here/peers/dnd_numpy.py" "$c" "$reps" | field value)
  fi
  for n in $ranks; do
    out=$(OMP_NUM_THREADS=$threads "${mpi[@]}" -np "$n" "$driver" "$c" "$reps")
    v=$(echo "$out" | field value)
    unit=$(echo "$out" | field unit)
    echo "case=$c ranks=$n equivar=$v peer=$peer unit=$unit ratio=$(ratio "$v" "$peer")"
    case $c in
      matmul_*|resplit_*)
        rss=$(echo "$out" | field rss_mb)
        io=$(echo "$out" | field in_out_mb)
        echo "case=${c}_mem ranks=$n equivar=$rss peer=$io unit=MB ratio=$(ratio "$rss" "$io")"
        ;;
    esac
  done
done
