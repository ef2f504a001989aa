#!/bin/sh
# Programs that must not compile, with each compiler: the compiler must
# fail, and say it was the jump (not some other error).
#   run.sh INCLUDE_DIR FILE...
set -u
inc=$1
shift
pass=0 fail=0
for cc in gcc clang; do
	command -v "$cc" >/dev/null 2>&1 ||
		{ echo "FAIL $cc is missing: sudo apt-get install -y $cc"; fail=$((fail + 1)); continue; }
	for f in "$@"; do
		if "$cc" -std=gnu11 -I"$inc" -c "$f" -o /dev/null 2>/tmp/ward-cf.$$ ; then
			echo "FAIL $cc compiles $(basename "$f")"
			fail=$((fail + 1))
		elif grep -q -e "jump" /tmp/ward-cf.$$; then
			echo "ok   $cc refuses $(basename "$f"): $(grep -m1 error /tmp/ward-cf.$$ | sed 's/.*error: //')"
			pass=$((pass + 1))
		else
			echo "FAIL $cc refuses $(basename "$f") for another reason:"
			cat /tmp/ward-cf.$$
			fail=$((fail + 1))
		fi
	done
done
rm -f /tmp/ward-cf.$$
echo "compile_fail: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
