#!/bin/sh
# The preload tracer's cost per allocation, in one run, against the same
# workload run plain and under heaptrack, valgrind memcheck and
# LeakSanitizer: alloc_work (bench/alloc_work.c), 2M malloc/free pairs ten
# frames deep. (Real programs: bench/real.sh.) Times are wall clock, best
# of three. Prints ANCHOR lines for run.sh.
#
#   preload.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/ward-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
ward="$build/ward"
pairs=2000000

now() { date +%s%N; }

# best_of CMD...: best wall time of three runs, in ns. A run that fails,
# or whose output differs from the first run's (for a run under a tracer:
# from the plain run's, in $work/expect when set), is an error, not a fast
# run: the bench stops.
best_of() {
	best=
	for _ in 1 2 3; do
		t0=$(now)
		"$@" >"$work/out" 2>"$work/err" ||
			{ echo "bench: failed (status $?): $*" >&2; cat "$work/err" >&2; exit 1; }
		t=$(($(now) - t0))
		if [ -s "$work/expect" ] && ! cmp -s "$work/expect" "$work/out"; then
			echo "bench: output differs from the plain run's: $*" >&2
			diff "$work/expect" "$work/out" | head -5 >&2
			exit 1
		fi
		if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
	done
	echo "$best"
}

# expect_from CMD...: run it plain once; its output is what the traced
# runs must print.
expect_from() {
	"$@" >"$work/expect" 2>/dev/null ||
		{ echo "bench: the plain run failed: $*" >&2; exit 1; }
}

work_bin="$build/alloc_work"
echo "ANCHOR preload_pairs $pairs"
expect_from "$work_bin" $pairs
t=$(best_of "$work_bin" $pairs)
echo "ANCHOR work_plain_ns $t"
t=$(best_of "$ward" run --quiet -o "$work/w.pb.gz" -- "$work_bin" $pairs)
echo "ANCHOR work_ward_full_ns $t"
t=$(best_of "$ward" run --quiet --sample 524288 -o "$work/w.pb.gz" -- "$work_bin" $pairs)
echo "ANCHOR work_ward_sampled_ns $t"
if command -v heaptrack >/dev/null 2>&1; then
	# heaptrack prints its own lines to stdout: compare nothing.
	: >"$work/expect"
	t=$(best_of heaptrack -o "$work/ht" "$work_bin" $pairs)
	echo "ANCHOR work_heaptrack_ns $t"
	expect_from "$work_bin" $pairs
else
	echo "bench: heaptrack is missing (sudo apt-get install -y heaptrack)" >&2
fi
if command -v valgrind >/dev/null 2>&1; then
	# memcheck is slow and its time barely varies: a tenth of the pairs,
	# once, scaled up — its start-up (timed with no pairs) counted once,
	# not ten times.
	t0=$(now)
	valgrind -q --leak-check=full "$work_bin" 0 >/dev/null 2>&1 ||
		{ echo "bench: valgrind failed" >&2; exit 1; }
	start=$(($(now) - t0))
	t0=$(now)
	valgrind -q --leak-check=full "$work_bin" $((pairs / 10)) >/dev/null 2>&1 ||
		{ echo "bench: valgrind failed" >&2; exit 1; }
	tenth=$(($(now) - t0))
	echo "ANCHOR work_valgrind_ns $((start + (tenth - start) * 10))"
fi
if command -v clang >/dev/null 2>&1; then
	# LSan reports the workload's leaks and exits 23: that is its answer.
	clang -O2 -fno-omit-frame-pointer -fsanitize=leak "$here/alloc_work.c" -o "$work/work_lsan" 2>/dev/null &&
		t=$(export LSAN_OPTIONS=exitcode=0; best_of "$work/work_lsan" $pairs)
		echo "ANCHOR work_lsan_ns $t"
	clang -O2 "$here/alloc_work.c" -o "$work/work_clang" 2>/dev/null &&
		t=$(best_of "$work/work_clang" $pairs)
		echo "ANCHOR work_clang_plain_ns $t"
fi
