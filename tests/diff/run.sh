#!/bin/sh
# Differential test of ward against the Go runtime: generate a batch of
# random programs as Go and as C (gen.go), build both, run each program in
# both, and compare stdout, exit status and the panic report's chain (the
# lines of stderr before the first blank line).
#
#   run.sh --lib LIBWARD.a --include INCLUDE_DIR --work DIR --seed S --count N
#          [--cflags "-fsanitize=address,undefined"]
set -u

lib= inc= work= seed=1 count=300 cflags=
while [ $# -gt 0 ]; do
	case "$1" in
	--lib) lib=$2; shift 2 ;;
	--include) inc=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--count) count=$2; shift 2 ;;
	--cflags) cflags=$2; shift 2 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ -n "$lib" ] && [ -n "$inc" ] && [ -n "$work" ] ||
	{ echo "usage: run.sh --lib LIB --include DIR --work DIR [--seed S] [--count N]" >&2; exit 2; }
if ! command -v go >/dev/null 2>&1; then
	echo "differential: the Go toolchain is missing; install it with: sudo apt-get install -y golang-go" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
inc=$(cd "$inc" && pwd)
mkdir -p "$work" || exit 1
work=$(cd "$work" && pwd)
export GOCACHE="${GOCACHE:-$work/gocache}" GO111MODULE=off GOFLAGS=
: "${HOME:=$work}"; export HOME

go run "$here/gen.go" -seed "$seed" -count "$count" -out "$work" || exit 1
go build -o "$work/prog_go" "$work/progs.go" || exit 1
# libward.a built with libdw needs it too.
extra=
nm "$lib" 2>/dev/null | grep -q " U dwfl_begin" && extra=-ldw
${CC:-cc} -std=gnu11 -O2 -w $cflags -I"$inc" \
	"$work/progs.c" "$lib" $extra -lz -ldl -lm -lpthread -o "$work/prog_c" || exit 1

head_of() { awk 'NF == 0 { exit } { print }' "$1"; }

pass=0 fail=0
i=0
while [ "$i" -lt "$count" ]; do
	for side in go c; do
		timeout 20 "$work/prog_$side" "$i" >"$work/$side.out" 2>"$work/$side.err"
		echo $? >"$work/$side.status"
		head_of "$work/$side.err" >"$work/$side.head"
	done
	if cmp -s "$work/go.out" "$work/c.out" &&
		cmp -s "$work/go.status" "$work/c.status" &&
		cmp -s "$work/go.head" "$work/c.head"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "DIVERGED: program $i of seed $seed (p${i}_* in $work/progs.go and progs.c)"
		echo "  status: go $(cat "$work/go.status"), c $(cat "$work/c.status")"
		diff "$work/go.out" "$work/c.out" | sed 's/^/  stdout /' | head -20
		diff "$work/go.head" "$work/c.head" | sed 's/^/  report /' | head -10
	fi
	i=$((i + 1))
done
echo "differential (seed $seed): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
