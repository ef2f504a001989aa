#!/bin/sh
# Runs a fuzzer (FUZZER ARGS...) and passes its status on — once more
# when the only failure was LeakSanitizer's own runtime crashing after the
# run had ended: its stop-the-world tracer faults now and then at process
# exit ("Tracer caught signal 11", google/sanitizers#1353), with every
# input already run and nothing found. Any other failure stands, and a
# second such crash too.
out=$(mktemp /tmp/ward-fuzz-XXXXXX)
trap 'rm -f "$out"' EXIT
for try in 1 2; do
	"$@" >"$out" 2>&1
	st=$?
	cat "$out"
	[ "$st" = 0 ] && exit 0
	if grep -aq "^Done [0-9]* runs in " "$out" &&
		grep -aq "^Tracer caught signal" "$out" &&
		grep -aq "LeakSanitizer has encountered a fatal error" "$out" &&
		! grep -aq "^==[0-9]*==ERROR: " "$out" && [ "$try" = 1 ]; then
		echo "fuzz_run.sh: LeakSanitizer's tracer crashed at exit after a clean run; running once more" >&2
		continue
	fi
	exit "$st"
done
exit "$st"
