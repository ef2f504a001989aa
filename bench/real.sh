#!/bin/sh
# The tracer on longer real workloads (0.3–1.5 s plain), each run plain,
# under `ward run` (full with its report, full --quiet, sampled at 512 KiB;
# git also with its report from no cached source positions),
# under heaptrack, and under jemalloc plain and with its heap profiling
# sampling at the same rate (prof:true,lg_prof_sample:19):
#   cc1     gcc's compiler proper on a generated 100-function C file
#   sqlite3 300k inserts into an indexed table in memory
#   perl    hash and regex churn
#   git     `git log -p` over a generated 2000-file, 10-commit history
#   python3 dict and list churn with PYTHONMALLOC=malloc
#   xz      xz -T2 on 3 MB of generated text, in 1 MiB blocks
#   stress  bench/stress.c: four threads replacing heap blocks, built
#           with clang without frame pointers; also under LeakSanitizer
#           (the same source built with -fsanitize=leak)
# and the exit-time reachability scan at 1.6M live blocks
# (bench/scan_heap.c) against LeakSanitizer's exit-time check of the same
# heap: ward's as ward measures it (the profile's "scan: took_us"),
# LeakSanitizer's as the time with its check less the time without, run
# back to back in pairs (three a round; the median of the pairs'
# differences, which follows the machine's speed within a pair, where a
# difference of two medians does not).
#
# Each figure is the median of ROUNDS (default 3) interleaved rounds. A
# run that fails, or whose standard output differs from the plain run's,
# stops the bench: a broken run is an error, not a fast run.
#
# Prints ANCHOR lines for run.sh:
#   ANCHOR real_<workload>_<mode>_ns   median wall time
#   ANCHOR real_<workload>_<a>_over_<b>
#                                      median over the rounds of mode a's
#                                      time over mode b's, run back to back
#   ANCHOR scan_<tool>_added_ns        median time of the exit check
#
#   real.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
rounds=${WARD_BENCH_ROUNDS:-3}
work=$(mktemp -d /tmp/ward-real-XXXXXX)
trap 'rm -rf "$work"' EXIT
ward="$build/ward"
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
for need in heaptrack clang "$jemalloc"; do
	command -v "$need" >/dev/null 2>&1 || [ -f "$need" ] || {
		echo "bench: $need is missing (make bench installs it as root: tests/deps.sh bench)" >&2
		exit 1
	}
done

now() { date +%s%N; }

# ---- inputs, generated once -----------------------------------------------
cd "$work"
awk 'BEGIN {
	print "struct s { int a, b; double c; char name[16]; };"
	for (i = 0; i < 100; i++)
		printf "int f%d(struct s *p, int n) { int t = 0; for (int i = 0; i < n; i++) { switch ((i * %d) & 7) { case 0: t += p[i].a * %d; break; case 1: t ^= p[i].b << (i & 3); break; case 2: t += (int)(p[i].c * %d.5); break; case 3: t -= p[i].name[i & 15]; break; default: t += i %% %d; } } return t; }\n", i, i + 3, i, i, i + 7
}' >big.c
awk 'BEGIN { for (i = 0; i < 60000; i++) printf "%d the quick brown fox %d jumps over %d lazy dogs\n", i, i * 7 % 1009, i % 97 }' >text
export GIT_AUTHOR_NAME=ward GIT_AUTHOR_EMAIL=w@example.org GIT_COMMITTER_NAME=ward \
	GIT_COMMITTER_EMAIL=w@example.org GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
	GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
git init -q g
for c in 0 1 2 3 4 5 6 7 8 9; do
	(cd g && awk -v c=$c 'BEGIN {
		for (f = 0; f < 2000; f++) {
			if (c > 0 && f % 10 != c) continue
			d = "d" int(f / 50)
			if (c == 0 && f % 50 == 0) system("mkdir -p " d)
			file = d "/f" f ".c"
			for (l = 0; l < 40; l++)
				printf "line %d of file %d, commit %d\n", l, f, l % 7 == c % 7 ? c : 0 >file
			close(file)
		}
	}' && git add -A && git commit -qm "commit $c")
done
clang -O2 -fomit-frame-pointer -pthread "$here/stress.c" -o stress
clang -O2 -fomit-frame-pointer -pthread -fsanitize=leak "$here/stress.c" -o stress_lsan
clang -O2 -pthread "$here/scan_heap.c" -o scan_heap
clang -O2 -pthread -fsanitize=leak "$here/scan_heap.c" -o scan_heap_lsan
cc1=$(gcc -print-prog-name=cc1)

# Scripts in files: heaptrack breaks on an argument with a newline.
cat >work.sql <<'EOF'
create table t(a, b); create index ti on t(b);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 300000)
insert into t select x, x * 7919 % 1000003 from c; select count(*), sum(b) from t;
EOF
cat >work.pl <<'EOF'
my %h; for my $i (1 .. 150000) { my $k = "key$i"; $h{$k} = join(",", $k =~ /(\d)(\d*)/) }
my $n = 0; for (sort keys %h) { $n++ if $h{$_} =~ /^1/; delete $h{$_} if /7$/ }
print "$n ", scalar(keys %h), "\n";
EOF
cat >work.py <<'EOF'
d = {}
for i in range(200000):
    d[str(i)] = [i, str(i) * 2]
for i in range(0, 200000, 2):
    del d[str(i)]
print(len(d), sum(v[0] for v in d.values()))
EOF
export PYTHONMALLOC=malloc
# The report's source positions are kept here (filled by the first
# round); the "cold" mode starts each run without them.
export WARD_CACHE_DIR="$work/lines"

# workload NAME [PREFIX...]: runs it in $work, one process (heaptrack
# follows no child), under PREFIX; what it prints goes to stdout.
workload() {
	name=$1
	shift
	case $name in
	cc1) "$@" "$cc1" -quiet -O2 big.c -o - ;;
	sqlite3) "$@" sqlite3 :memory: ".read work.sql" ;;
	perl) "$@" perl work.pl ;;
	git) "$@" git -C g log -p ;;
	python3) "$@" /usr/bin/python3 work.py ;;
	xz) "$@" xz -T2 --block-size=1MiB -c text ;;
	stress) "$@" ./stress 600000 ;;
	esac
}

# run NAME MODE: one timed run, its standard output and status checked
# against the plain run's; appends "NAME MODE NS ROUND" to $work/times
# (ROUND: the round it ran in, "x" for the extra runs below).
run() {
	name=$1 mode=$2
	t0=$(now)
	case $mode in
	plain) workload "$name" ;;
	full) workload "$name" "$ward" run -o "$work/p.pb.gz" -- 2>/dev/null ;;
	cold) rm -rf "$work/cold"
		WARD_CACHE_DIR="$work/cold" workload "$name" "$ward" run -o "$work/p.pb.gz" -- 2>/dev/null ;;
	quiet) workload "$name" "$ward" run --quiet -o "$work/p.pb.gz" -- ;;
	sampled) workload "$name" "$ward" run --quiet --sample 524288 -o "$work/p.pb.gz" -- ;;
	heaptrack) workload "$name" heaptrack -o "$work/ht" 2>/dev/null ;;
	je_plain) workload "$name" env LD_PRELOAD=$jemalloc ;;
	je_prof) workload "$name" env LD_PRELOAD=$jemalloc MALLOC_CONF=prof:true,lg_prof_sample:19 ;;
	lsan) LSAN_OPTIONS=exitcode=0 ./stress_lsan 600000 2>/dev/null ;;
	esac >"$work/out" || { echo "bench: $name failed under $mode" >&2; exit 1; }
	t=$(($(now) - t0))
	# heaptrack prints three lines before the program's output and its
	# own after it, from a line of its own or not (xz's ends mid-line).
	if [ "$mode" = heaptrack ]; then
		n=$(wc -c <"$work/expect.$name")
		tail -n +4 "$work/out" >"$work/raw"
		tail -c +$((n + 1)) "$work/raw" | grep -q '^Heaptrack finished!' ||
			{ echo "bench: $name's output under heaptrack is not the plain run's" >&2; exit 1; }
		head -c "$n" "$work/raw" >"$work/out"
	fi
	if [ "$mode" = plain ] && [ ! -f "$work/expect.$name" ]; then
		cp "$work/out" "$work/expect.$name"
	elif ! cmp -s "$work/expect.$name" "$work/out"; then
		echo "bench: $name's output under $mode differs from the plain run's:" >&2
		cmp "$work/expect.$name" "$work/out" >&2
		exit 1
	fi
	echo "$name $mode $t ${r:-x}" >>"$work/times"
}

workloads="cc1 sqlite3 perl git python3 xz stress"
# scan_time ward: scan_heap traced in full, its exit scan's time as ward
# measured it (the profile's figure "scan: took_us"); appends "scan
# ward_added NS". scan_time lsan: scan_heap under LeakSanitizer with its
# exit check and without, back to back; appends "scan lsan_added NS"
# (with less without).
scan_time() {
	if [ "$1" = ward ]; then
		"$ward" run --quiet -o "$work/s.pb.gz" -- ./scan_heap >/dev/null ||
			{ echo "bench: scan_heap failed under ward" >&2; exit 1; }
		us=$("$ward" report "$work/s.pb.gz" 2>/dev/null |
			sed -n 's/.*scan: .*took_us \([0-9]*\).*/\1/p')
		[ -n "$us" ] ||
			{ echo "bench: ward's profile has no scan time" >&2; exit 1; }
		echo "scan ward_added $((us * 1000))" >>"$work/times"
		return
	fi
	added=0
	for s in 1 0; do
		t0=$(now)
		LSAN_OPTIONS=exitcode=0:detect_leaks=$s ./scan_heap_lsan \
			>/dev/null 2>&1 ||
			{ echo "bench: scan_heap failed under LeakSanitizer" >&2; exit 1; }
		t=$(($(now) - t0))
		added=$([ $s = 1 ] && echo $((added + t)) || echo $((added - t)))
	done
	echo "scan lsan_added $added" >>"$work/times"
}

# The modes a figure compares run back to back, each pair in every round
# (see ratio below): plain and sampled, jemalloc without and with its
# profiling, full and --quiet (git: then with nothing cached), full and
# LeakSanitizer (the stress).
modes="plain sampled je_plain je_prof full quiet heaptrack"
r=0
while [ "$r" -lt "$rounds" ]; do
	for w in $workloads; do
		for m in $modes; do
			run "$w" "$m"
			[ "$w$m" = stressfull ] && run stress lsan
			[ "$w$m" = gitquiet ] && run git cold
		done
	done
	# The exit scan: 1.6M live blocks, checked and not, in pairs.
	for pair in 1 2 3; do
		scan_time ward
		scan_time lsan
	done
	r=$((r + 1))
done

# median NAME MODE: the median of the times so far.
median() {
	awk -v w="$1" -v m="$2" '$1 == w && $2 == m { print $3 }' "$work/times" |
		sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'
}

# A workload whose median full run is not slower than its median plain
# run was measured through the machine's noise (its added time, which
# real_full_vs_heaptrack divides, would be zero or negative): it gets
# more interleaved plain and full runs, up to eight pairs; then the
# figures say it could not be measured.
for w in $workloads; do
	extra=0
	while [ "$(median "$w" full)" -le "$(median "$w" plain)" ] &&
		[ "$extra" -lt 8 ]; do
		r=x run "$w" plain
		r=x run "$w" full
		extra=$((extra + 1))
	done
	[ "$extra" -gt 0 ] &&
		echo "bench: $w: $extra more plain and full runs, the full run's median having been no slower than plain's" >&2
done

sort -k1,1 -k2,2 -k3,3n "$work/times" | awk '
function flush() { if (n) printf "ANCHOR %s_%s_ns %.0f\n", key == "scan" ? "scan" : "real_" key, mode, v[int((n + 1) / 2)] }
$1 != key || $2 != mode { flush(); key = $1; mode = $2; n = 0 }
{ v[++n] = $3 }
END { flush() }'

# The compared modes' ratios, pair by pair: for each round, the two runs'
# times divided (they ran back to back), then the median over the rounds.
# A ratio of two medians took each median from runs minutes apart, and a
# minute's slowdown of this shared machine moved it by up to 1.5x.
#   ANCHOR real_<workload>_<a>_over_<b>   median of a/b over the rounds
awk '$4 != "" && $4 != "x" { t[$1 " " $2 " " $4] = $3; w[$1]; rounds[$4] }
function ratio(wl, a, b,    n, k, r, v, i, j, x) {
	n = 0
	for (r in rounds) {
		k = wl " " a " " r
		if (!(k in t) || !((wl " " b " " r) in t)) continue
		v[++n] = t[k] / t[wl " " b " " r]
	}
	if (!n) return
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) { x = v[j]; v[j] = v[j - 1]; v[j - 1] = x }
	printf "ANCHOR real_%s_%s_over_%s %.4f\n", wl, a, b, n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
END {
	for (wl in w) {
		ratio(wl, "sampled", "plain")
		ratio(wl, "je_prof", "je_plain")
		ratio(wl, "full", "quiet")
		ratio(wl, "cold", "quiet")
		ratio(wl, "full", "lsan")
	}
}' "$work/times"
