#!/usr/bin/env bash
# End-to-end smoke test of `equivar train`: a tiny run logs and saves; an
# interrupted + resumed run ends bit-identical to an uninterrupted one (at one
# and at two threads: fixed reduction orders); bad input fails cleanly and keeps the last
# good checkpoint.
set -u
bin=$1
dir=$(mktemp -d /tmp/eq_train_cli.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export OMP_NUM_THREADS=1 EQ_PROGRESS=0
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }
tiny=(--model resnet18-small --width 4 --size 16 --batch 8 --classes 3 --steps 6)

"$bin" train --help > "$dir/help" 2>&1
check "help" "grep -q -- --resume '$dir/help' && grep -q -- --stop-after '$dir/help'"

"$bin" train "${tiny[@]}" --log "$dir/a.jsonl" --save "$dir/a.safetensors" > "$dir/a.out" 2>&1
check "tiny run" "[ \$? -eq 0 ] && [ \$(wc -l < '$dir/a.jsonl') -eq 6 ] && [ -s '$dir/a.safetensors' ]"
check "log records" "grep -q '\"step\":6,\"loss\":' '$dir/a.jsonl'"
check "summary" "grep -q 'saved checkpoint' '$dir/a.out'"

"$bin" train "${tiny[@]}" --save "$dir/b.safetensors" --stop-after 4 > "$dir/b1.out" 2>&1
"$bin" train --resume "$dir/b.safetensors" --save "$dir/b.safetensors" --log "$dir/b.jsonl" > "$dir/b2.out" 2>&1
check "resume continues the step counter" "grep -q 'at step 4' '$dir/b2.out' && [ \$(wc -l < '$dir/b.jsonl') -eq 2 ] && grep -q '\"step\":5,' '$dir/b.jsonl'"
check "resumed run is bit-identical" "cmp -s '$dir/a.safetensors' '$dir/b.safetensors'"
"$bin" train --resume "$dir/b.safetensors" > "$dir/c.out" 2>&1
check "resume of a finished run" "grep -q 'nothing to do' '$dir/c.out'"

# Two threads: the conv weight gradient sums per-thread partials; with a
# static tile schedule the order is fixed, so a resumed run still matches.
mid=(--model resnet18-small --width 16 --size 32 --batch 16 --classes 10 --steps 3)
OMP_NUM_THREADS=2 "$bin" train "${mid[@]}" --save "$dir/t2a.safetensors" > /dev/null 2>&1
OMP_NUM_THREADS=2 "$bin" train "${mid[@]}" --save "$dir/t2b.safetensors" --stop-after 2 > /dev/null 2>&1
OMP_NUM_THREADS=2 "$bin" train --resume "$dir/t2b.safetensors" --save "$dir/t2b.safetensors" > /dev/null 2>&1
check "two-thread resumed run is bit-identical" "cmp -s '$dir/t2a.safetensors' '$dir/t2b.safetensors'"

cp "$dir/a.safetensors" "$dir/keep.safetensors"
"$bin" train "${tiny[@]}" --lr 1e30 --save "$dir/keep.safetensors" > "$dir/nan.out" 2>&1
rc=$?
check "diverging run fails" "[ $rc -ne 0 ] && grep -q 'diverged' '$dir/nan.out'"
check "last good checkpoint kept" "cmp -s '$dir/a.safetensors' '$dir/keep.safetensors'"

"$bin" train --model resnet99 > "$dir/m.out" 2>&1
rc=$?
check "unknown model" "[ $rc -ne 0 ] && grep -q \"unknown model 'resnet99'\" '$dir/m.out'"
echo garbage > "$dir/bad.safetensors"
"$bin" train --resume "$dir/bad.safetensors" > "$dir/r.out" 2>&1
rc=$?
check "unreadable checkpoint" "[ $rc -ne 0 ] && grep -q 'bad.safetensors' '$dir/r.out'"
"$bin" train --resume "$dir/a.safetensors" --classes 5 > "$dir/k.out" 2>&1
rc=$?
check "resume with another task" "[ $rc -ne 0 ] && grep -q 'classes 3' '$dir/k.out'"
"$bin" train --steps 0 > "$dir/s.out" 2>&1
rc=$?
check "bad option value" "[ $rc -eq 2 ] && grep -q -- '--steps' '$dir/s.out'"
[ $fails -eq 0 ] && echo "all passed" || echo "$fails failed"
exit $((fails > 0))
