#!/bin/sh
# Installs what ward's tests and benchmarks need when it is missing and we
# are root; otherwise names the exact install line and fails.
set -u

missing=""
command -v go >/dev/null 2>&1 || missing="$missing golang-go"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
# go tool pprof symbolizes with binutils' addr2line and nm.
command -v addr2line >/dev/null 2>&1 || missing="$missing binutils"
[ -f /usr/include/zlib.h ] || missing="$missing zlib1g-dev"
[ -f /usr/include/elfutils/libdwfl.h ] || missing="$missing libdw-dev"
# The profile reader's fuzz harness needs clang's libFuzzer runtime.
command -v clang >/dev/null 2>&1 || missing="$missing clang"
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
	missing="$missing libclang-rt-14-dev"

# The tests run these real programs under the tracer; make bench also
# compares against heaptrack.
for p in git sqlite3 perl xz make gcc; do
	command -v $p >/dev/null 2>&1 || case $p in
		xz) missing="$missing xz-utils" ;;
		*) missing="$missing $p" ;;
	esac
done
[ -x /usr/bin/python3 ] || missing="$missing python3"
# The endpoint's tests: promtool checks /metrics, a real Prometheus scrapes
# it, curl fetches pages.
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
# A hardened service's seccomp filter is systemd's @system-service set,
# listed by systemd-analyze.
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
# The tracer must run correctly over other allocators.
[ -f /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ] || missing="$missing libjemalloc2"
[ -f /usr/lib/x86_64-linux-gnu/libmimalloc.so.2 ] || missing="$missing libmimalloc2.0"
# The C library's static functions are named from its separate debug file.
dpkg -s libc6-dbg >/dev/null 2>&1 || missing="$missing libc6-dbg"
# Statically linked test programs need libc.a.
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing="$missing libc6-dev"
if [ "${1:-}" = bench ]; then
	command -v heaptrack >/dev/null 2>&1 || missing="$missing heaptrack"
	# The owners' anchor: talloc.
	[ -f /usr/include/talloc.h ] || missing="$missing libtalloc-dev"
fi

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null &&
		apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ echo "deps: apt-get install$missing failed" >&2; exit 1; }
	exit 0
fi
echo "deps: missing:$missing" >&2
echo "deps: install them with: sudo apt-get install -y$missing" >&2
exit 1
