#!/bin/sh
# The preload tracer and the ward command, end to end:
#  1. programs with known leaks (tests/preload/leaks.c) report exact counts
#     and bytes at the leaking function, read back by `ward report`, by the
#     real `go tool pprof`, and, for the heap, in agreement with valgrind;
#  2. real programs nobody here wrote print exactly what they print without
#     ward, and exit the same way.
#
#   run.sh BUILD_DIR
set -u
build=$(cd "$1" && pwd)
ward="$build/ward"
leaks="$build/leaks"
work=$(mktemp -d /tmp/ward-preload-XXXXXX)
trap 'rm -rf "$work"' EXIT
# Source positions are kept here, not in the user's cache.
export WARD_CACHE_DIR="$work/lines"
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
# Each failure is said where it happens and again at the end, where a log
# cut short in the middle still shows it.
bad() {
	fail=$((fail + 1))
	{
		echo "FAIL $1"
		shift
		for l in "$@"; do echo "  $l"; done
	} | tee -a "$work/failures"
}

status_is() { # NAME WANT GOT [DETAIL...]
	name=$1 want=$2 got=$3
	shift 3
	if [ "$got" = "$want" ]; then ok "$name"; else bad "$name" "status $got, want $want" "$@"; fi
}

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	bad "$1 is missing" "install it with: sudo apt-get install -y $2"
	return 1
}

# Sum the live count and bytes of every site whose top frame is FUNC and
# whose kind is KIND, in `ward report`'s table: "count bytes".
# KIND may name a reachability class too: heap/definite, heap/indirect,
# heap/reachable; a bare kind sums its classes.
site() { # FILE FUNC KIND
	"$ward" report "$1" | awk -v f="$2+" -v k="$3" '
		/^stacks:/ { exit }
		($4 == k || index($4, k "/") == 1) && index($5, f) == 1 { c += $3; b += $1 }
		END { printf "%d %d\n", c, b }'
}

expect_site() { # NAME FILE FUNC KIND "COUNT BYTES"
	got=$(site "$2" "$3" "$4")
	if [ "$got" = "$5" ]; then ok "$1"; return; fi
	# The report's heading and its rows for FUNC, every kind, for the
	# failure's record.
	bad "$1" "$3 ($4): got '$got', want '$5'" \
		"$("$ward" report "$2" | awk -v f="$3+" '/^stacks:/ { exit }
			NR == 1 || index($5, f) == 1 { print }')"
}

# The root ward's table names for the site whose top frame is FUNC.
expect_root() { # NAME FILE FUNC ROOT
	got=$("$ward" report "$2" | awk -v f="$3+" '/^stacks:/ { exit }
		index($5, f) == 1 { print $NF }')
	if [ "$got" = "$4]" ]; then ok "$1"; else bad "$1" "got '$got'"; fi
}

run_leaks() { # SCENARIO [ARGS]
	out="$work/$1.pb.gz"
	"$ward" run --quiet -o "$out" -- "$leaks" "$@" >"$work/$1.out" 2>"$work/$1.err"
}

# A run ($3.out, $3.err) that ends where ward run cannot find the
# profile: status 0, the program's own line DONE, ward run's one line
# WHY, and no guess that the exit handlers did not run. A line matching
# MISSING in its output means the system lacks WHAT the case needs.
expect_told() { # NAME STATUS BASE DONE WHY [MISSING WHAT]
	if [ -n "${6:-}" ] && grep -q "$6" "$3.out"; then
		bad "$1" "no $7 here: $(cat "$3.out")"
	elif [ "$2" = 0 ] && grep -q "^$4\$" "$3.out" &&
		grep -q "^ward: no profile from $leaks: $5\$" "$3.err" &&
		! grep -q "exit handlers" "$3.err"; then
		ok "$1"
	else
		bad "$1" "status $2" "$(cat "$3.out" "$3.err")"
	fi
}

# The scenario's forked child's profile (SCENARIO.pb.gz.PID) has the site.
expect_child_site() { # NAME SCENARIO FUNC KIND "COUNT BYTES"
	run_leaks "$2"
	set -- "$@" "$work/$2".pb.gz.*
	if [ -f "$6" ]; then
		expect_site "$1" "$6" "$3" "$4" "$5"
	else
		bad "$1" "no child profile"
	fi
}

# ---- 1. Known leaks --------------------------------------------------------

run_leaks malloc_loop; expect_site "malloc loop: 1000 x 48 bytes" \
	"$work/malloc_loop.pb.gz" leak_malloc_loop heap "1000 48000"
run_leaks realloc_chain; expect_site "realloc chain: one block of 5000 bytes" \
	"$work/realloc_chain.pb.gz" leak_realloc_chain heap "1 5000"
run_leaks memalign; expect_site "every memalign variant: 5 blocks, 4824 bytes (pvalloc's a whole page)" \
	"$work/memalign.pb.gz" leak_memalign heap "5 4824"
run_leaks fds; expect_site "nineteen descriptors from seventeen sources (mkostemp, posix_openpt, pidfd_open and syscall(SYS_pidfd_open) too)" \
	"$work/fds.pb.gz" leak_fds fd "19 0"
expect_site "a descriptor received with recvmsg (SCM_RIGHTS)" "$work/fds.pb.gz" receive_one fd "1 0"
# Descriptors the C library opens out of the interposers' sight (getpt,
# openpty's pair) and from its newer wrappers (pidfd_getfd, mq_open; as
# root fanotify_init, fsopen, open_by_handle_at): each a leak, at its
# call. Before, only pidfd_open's and open's of these were seen. At
# least seven open for anyone; the program says how many it opened.
run_leaks more_fds
n=$(awk '/^opened / { print $2 }' "$work/more_fds.out")
if [ -n "$n" ] && [ "$n" -ge 7 ] && [ "$n" -lt 1000 ]; then
	expect_site "descriptors from getpt, openpty, pidfd_getfd, mq_open and the like: all $n" \
		"$work/more_fds.pb.gz" more_fds_opened fd "$n 0"
else
	bad "descriptors from getpt, openpty, pidfd_getfd, mq_open and the like" \
		"the program opened '$n' (a closed queue counts 1000)" "$(cat "$work/more_fds.out" "$work/more_fds.err")"
fi
# Descriptors made and closed through syscall() by number are seen as the
# C library's wrappers see them: nine kept, three closed again. Before,
# none of them was.
run_leaks raw_fds; expect_site "descriptors made and closed through syscall(): 9 kept" \
	"$work/raw_fds.pb.gz" raw_fds_opened fd "9 0"
# The same where the program has used up its descriptors: found all the
# same, the listing made where a descriptor is free.
run_leaks unseen_fdlimit
n=$(awk '/^opened / { print $2 }' "$work/unseen_fdlimit.out")
if [ -n "$n" ] && [ "$n" -gt 50 ] &&
	"$ward" report "$work/unseen_fdlimit.pb.gz" | grep -q "^ *- *- *$n  fd  *(opened where ward did not see)$"; then
	ok "descriptors opened without the C library up to the limit: all $n found"
else
	bad "descriptors opened without the C library up to the limit: all found" \
		"opened '$n'" "$("$ward" report "$work/unseen_fdlimit.pb.gz" 2>&1 | head -12)"
fi
# The profiles the processes a program forked write beside its own
# (OUT.PID) are counted in one line; an older one is not.
: >"$work/kids.pb.gz.1"
touch -d '2001-01-01' "$work/kids.pb.gz.1"
"$ward" run -o "$work/kids.pb.gz" -- "$leaks" unseen_fds >/dev/null 2>"$work/kids.err"
if grep -q "^ward: 1 more profile from the processes it forked or ran: $work/kids.pb.gz.PID$" "$work/kids.err"; then
	ok "ward run counts the profiles its forked children wrote"
else
	bad "ward run counts the profiles its forked children wrote" "$(cat "$work/kids.err")"
fi
# A program annotated for LeakSanitizer gets its answers: an ignored block
# and one allocated under __lsan_disable() are no leak, what they point
# to is reachable from them, the block nothing holds is lost (1337 bytes
# in 1, LeakSanitizer's own count). __lsan_do_leak_check() writes the
# report then, and none at exit.
run_leaks lsan
expect_site "__lsan_ignore_object(): the block is no leak" \
	"$work/lsan.pb.gz" lsan_ignored heap "0 0"
expect_root "... and what it points to is reachable from it" \
	"$work/lsan.pb.gz" lsan_held_by_ignored ignored
expect_site "__lsan_disable(): what it allocates then is no leak" \
	"$work/lsan.pb.gz" lsan_disabled heap "0 0"
expect_root "... and what that points to is reachable from it" \
	"$work/lsan.pb.gz" lsan_held_by_disabled ignored
expect_site "... and a block nothing holds is lost, as LeakSanitizer says" \
	"$work/lsan.pb.gz" lsan_lost heap/definite "1 1337"
run_leaks lsan check
status_is "__lsan_do_leak_check(): the program goes on to its status" 0 $? "$(cat "$work/lsan.err")"
expect_site "... the report written then has the lost block" \
	"$work/lsan.pb.gz" lsan_lost heap/definite "1 1337"
expect_site "... and not what the program did after it" \
	"$work/lsan.pb.gz" lsan_after_check heap "0 0"
# __lsan_do_recoverable_leak_check(), as LeakSanitizer's own test asks
# it: 0 while a global holds the first block, 1 once a callee dropped a
# 1337-byte block, 1 once the global let go too; each check writes its
# profile and says what it found in one line, and the exit's report
# still comes.
run_leaks lsan_recoverable
rc=$?
if [ "$rc" = 0 ] && grep -q "^recoverable 0 1 1$" "$work/lsan_recoverable.out"; then
	ok "__lsan_do_recoverable_leak_check(): 0, then 1, then 1"
else
	bad "__lsan_do_recoverable_leak_check(): 0, then 1, then 1" "status $rc" \
		"$(cat "$work/lsan_recoverable.out" "$work/lsan_recoverable.err")"
fi
if grep -q "^ward: leak check 2: 1 block lost (1337 bytes); its profile: $work/lsan_recoverable.pb.gz.check2$" "$work/lsan_recoverable.err"; then
	ok "... each check says what it found lost, and where its profile is"
else
	bad "... each check says what it found lost, and where its profile is" "$(cat "$work/lsan_recoverable.err")"
fi
expect_site "... the second check's profile: the dropped block lost" \
	"$work/lsan_recoverable.pb.gz.check2" recoverable_dropped heap/definite "1 1337"
expect_site "... and the global's block reachable" \
	"$work/lsan_recoverable.pb.gz.check2" recoverable_first heap/reachable "1 23"
expect_site "... the third's: the global's block lost once it let go" \
	"$work/lsan_recoverable.pb.gz.check3" recoverable_first heap/definite "1 23"
expect_site "... and the exit's report still comes" \
	"$work/lsan_recoverable.pb.gz" recoverable_dropped heap/definite "1 1337"

# Checks asked in a loop by one thread while main sleeps with usleep():
# main wakes when its 300 ms are up and the program ends.
timeout 30 "$ward" run --quiet -o "$work/check_loop.pb.gz" -- "$leaks" lsan_check_loop \
	>"$work/check_loop.out" 2>"$work/check_loop.err"
rc=$?
if [ "$rc" = 0 ] && grep -q "^woke$" "$work/check_loop.out"; then
	ok "a sleep ward's checks interrupt again and again still ends on time"
else
	bad "a sleep ward's checks interrupt again and again still ends on time" "status $rc" \
		"$(tail -3 "$work/check_loop.err")"
fi

# The suppressions the program gives LeakSanitizer for itself (its own
# __lsan_default_suppressions()) take its site out, as LeakSanitizer
# does, and only that one; the profile carries them, so `ward report`
# applies them too, and ward run says what they took. A list that does
# not parse is said and left out; a program that turned its leak check
# off (__lsan_is_turned_off()) fails no --fail-on-leak.
"$ward" run -o "$work/lsan_own.pb.gz" -- "$leaks" lsan_own >/dev/null 2>"$work/lsan_own.err"
expect_site "__lsan_default_suppressions(): the program's own suppression is applied" \
	"$work/lsan_own.pb.gz" lsan_own_suppressed heap "0 0"
expect_site "... and only to the sites it names" \
	"$work/lsan_own.pb.gz" lsan_own_kept heap/definite "1 1337"
if grep -q "^ward: suppressed 1 live resource (666 bytes) at 1 site (the program's own __lsan_default_suppressions())$" "$work/lsan_own.err"; then
	ok "... and ward run says what it took"
else
	bad "... and ward run says what it took" "$(cat "$work/lsan_own.err")"
fi
# A profile whose carried list does not parse (made elsewhere, or
# tampered with: one letter changed, the length kept) is read, and the
# list said and not applied.
gzip -dc "$work/lsan_own.pb.gz" | LC_ALL=C sed 's/suppression: leak:lsan_own/suppression: lesk:lsan_own/' |
	gzip >"$work/lsan_own_bad.pb.gz"
"$ward" report "$work/lsan_own_bad.pb.gz" >"$work/lsan_own_bad.out" 2>"$work/lsan_own_bad.err"
if grep -q "^ward: the program's own suppressions in the profile: line 1: .*: not applied$" "$work/lsan_own_bad.err" &&
	[ "$(site "$work/lsan_own_bad.pb.gz" lsan_own_suppressed heap 2>/dev/null)" = "1 666" ]; then
	ok "a profile's own suppressions that do not parse are said and not applied"
else
	bad "a profile's own suppressions that do not parse are said and not applied" \
		"$(cat "$work/lsan_own_bad.err")"
fi
run_leaks lsan_own bad
if grep -q "^ward: the program's __lsan_default_suppressions(): line 2: .*: left out$" "$work/lsan_own.err"; then
	ok "a program's own list that does not parse is said"
else
	bad "a program's own list that does not parse is said" "$(cat "$work/lsan_own.err")"
fi
expect_site "... and left out" "$work/lsan_own.pb.gz" lsan_own_suppressed heap "1 666"
"$ward" run --fail-on-leak -o "$work/lsan_off.pb.gz" -- "$leaks" lsan_off off >/dev/null 2>"$work/lsan_off.err"
status_is "__lsan_is_turned_off(): no --fail-on-leak verdict" 0 $? "$(cat "$work/lsan_off.err")"
"$ward" run --fail-on-leak -o "$work/lsan_off.pb.gz" -- "$leaks" lsan_off >/dev/null 2>"$work/lsan_off.err"
status_is "... and with the check on, the leak fails it" 1 $? "$(cat "$work/lsan_off.err")"

# made without the C library) are leaks with no stack, as valgrind's
# --track-fds counts them: two kept (one closed with close() is none; a
# stream's and a directory's are theirs), and the profile says how many,
# and what each is. One inherited (7 here) is none, and a forked child's
# copies of the parent's are not the child's.
run_leaks unseen_fds 7</dev/null
unseen_row='^ *- *- *2  fd  *(opened where ward did not see)$'
if "$ward" report "$work/unseen_fds.pb.gz" | grep -q "$unseen_row" &&
	"$ward" report "$work/unseen_fds.pb.gz" | grep -q "^	fd: opened_unseen 2$" &&
	[ "$("$ward" report "$work/unseen_fds.pb.gz" | grep -c "^	fd [0-9]* /dev/null: unseen_open 1$")" = 2 ]; then
	ok "descriptors opened without the C library: 2 leaks with no stack, counted, named"
else
	bad "descriptors opened without the C library: 2 leaks with no stack, counted, named" \
		"$("$ward" report "$work/unseen_fds.pb.gz" 2>&1 | head -12)"
fi
set -- "$work"/unseen_fds.pb.gz.*
if [ -f "$1" ] && "$ward" report "$1" | grep -q "^ward: live: nothing" ; then
	ok "... and a forked child's copies of them are not its leaks"
else
	bad "... and a forked child's copies of them are not its leaks" \
		"$("$ward" report "$1" 2>&1 | head -8)"
fi
# The mount table's stream (setmntent: the C library's own fopen) kept is
# a leaked FILE; one closed with endmntent() (its own fclose) is none.
expect_site "a mount table's stream kept is a leaked FILE" \
	"$work/more_fds.pb.gz" mount_table_kept file "1 0"
expect_site "... and one closed with endmntent() is none" \
	"$work/more_fds.pb.gz" mount_table_closed file "0 0"
run_leaks fortified_fds
expect_site "descriptors from the fortified opens (__open_2 and the like) and shm_open" \
	"$work/fortified_fds.pb.gz" leak_fortified_fds fd "5 0"
expect_site "... and a stream freopen64() reopened, where it was reopened" \
	"$work/fortified_fds.pb.gz" reopened64 file "1 0"
# Descriptors the program closed with system calls of its own: no leak,
# and the profile says how many.
run_leaks raw_close
status_is "descriptors closed raw: the case ran" 0 $? "$(cat "$work/raw_close.err")"
expect_site "descriptors closed by a raw close or close_range are no leak" \
	"$work/raw_close.pb.gz" fd_closed_raw fd "0 0"
expect_site "... and one kept open is" "$work/raw_close.pb.gz" fd_kept_open fd "1 0"
if "$ward" report "$work/raw_close.pb.gz" | grep -q "^	fd: closed_unseen 3$"; then
	ok "the profile counts the descriptors closed where ward did not see"
else
	bad "the profile counts the descriptors closed where ward did not see" \
		"$("$ward" report "$work/raw_close.pb.gz" | grep -A4 '^figures')"
fi
# The program removes the directory its profile was to go to: one line
# says why, the tracer's own reason (not a raw exit's), and the note it
# came through is gone.
mkdir -p "$work/gone" "$work/tmp"
TMPDIR="$work/tmp" "$ward" run -o "$work/gone/x.pb.gz" -- "$leaks" rmdir "$work/gone" >/dev/null 2>"$work/gone.err"
if [ "$(cat "$work/gone.err")" = "ward: no profile from $leaks: cannot write $work/gone/x.pb.gz: No such file or directory" ] &&
	[ -z "$(ls -A "$work/tmp")" ]; then
	ok "a profile's directory removed by the program: one line, the tracer's reason"
else
	bad "a profile's directory removed by the program: one line, the tracer's reason" \
		"$(cat "$work/gone.err")" "$(ls -A "$work/tmp")"
fi
# A program that sets its own action for the snapshot signal has it, and
# ward says the snapshots on it stop.
"$ward" run --quiet --snapshot-signal USR2 -o "$work/own_usr2.pb.gz" -- "$leaks" own_usr2 \
	>"$work/own_usr2.out" 2>"$work/own_usr2.err"
if grep -q "^the program got SIGUSR2 1 time(s)$" "$work/own_usr2.out" &&
	grep -q "^ward: no more snapshots on signal $(kill -l USR2 2>/dev/null || echo 12): the program set its own action for it$" "$work/own_usr2.err" &&
	! ls "$work"/own_usr2.pb.gz.snap* >/dev/null 2>&1; then
	ok "the program's own action for the snapshot signal: it has it, and ward says so"
else
	bad "the program's own action for the snapshot signal: it has it, and ward says so" \
		"$(cat "$work/own_usr2.out" "$work/own_usr2.err")"
fi
# A program that runs itself again without ward (its name stays): the
# exec is the reason, told before it; an exec that failed is taken back.
"$ward" run -o "$work/reexec.pb.gz" -- "$leaks" reexec >/dev/null 2>"$work/reexec.err"
if grep -q "^ward: no profile from $leaks: it ran /proc/self/exe in its place (exec) without ward's library in LD_PRELOAD$" "$work/reexec.err"; then
	ok "a program that runs itself again without ward: the exec is the reason"
else
	bad "a program that runs itself again without ward: the exec is the reason" "$(cat "$work/reexec.err")"
fi
"$ward" run -o "$work/reexec_at.pb.gz" -- "$leaks" reexec_at >/dev/null 2>"$work/reexec_at.err"
if grep -q "^ward: no profile from $leaks: it ran /proc/self/exe in its place (exec) without ward's library in LD_PRELOAD$" "$work/reexec_at.err"; then
	ok "... and through execveat()"
else
	bad "... and through execveat()" "$(cat "$work/reexec_at.err")"
fi
"$ward" run -o "$work/reexec_syscall.pb.gz" -- "$leaks" reexec_syscall >/dev/null 2>"$work/reexec_syscall.err"
if grep -q "^ward: no profile from $leaks: it ran /proc/self/exe in its place (exec) without ward's library in LD_PRELOAD$" "$work/reexec_syscall.err"; then
	ok "... and through syscall(SYS_execve)"
else
	bad "... and through syscall(SYS_execve)" "$(cat "$work/reexec_syscall.err")"
fi
"$ward" run -o "$work/reexec_failed.pb.gz" -- "$leaks" reexec_failed >/dev/null 2>"$work/reexec_failed.err"
if grep -q "^ward: no profile from $leaks: it ended without running its exit handlers" "$work/reexec_failed.err"; then
	ok "... and an exec that failed is not"
else
	bad "... and an exec that failed is not" "$(cat "$work/reexec_failed.err")"
fi
# --no-follow-exec: what the program runs gets no ward, and keeps the
# libraries the user preloads beside it.
show_preload='env | grep "^LD_PRELOAD=" || echo unset; true'
got=$(LD_PRELOAD="$build/libearlylib.so" "$ward" run --quiet --no-follow-exec \
	-o "$work/nofollow.pb.gz" -- sh -c "$show_preload" 2>"$work/nofollow.err")
if [ "$got" = "LD_PRELOAD=$build/libearlylib.so" ]; then
	ok "--no-follow-exec: a program run by the traced one keeps the user's preloads, not ward's"
else
	bad "--no-follow-exec: a program run by the traced one keeps the user's preloads, not ward's" \
		"$got" "$(cat "$work/nofollow.err")"
fi
got=$("$ward" run --quiet --no-follow-exec -o "$work/nofollow.pb.gz" -- \
	sh -c "$show_preload" 2>"$work/nofollow.err")
if [ "$got" = "unset" ]; then
	ok "... and with ward's the only one, LD_PRELOAD is gone"
else
	bad "... and with ward's the only one, LD_PRELOAD is gone" "$got" "$(cat "$work/nofollow.err")"
fi
got=$(LD_PRELOAD="$build/libearlylib.so" "$ward" run --quiet \
	-o "$work/nofollow.pb.gz" -- sh -c "$show_preload" 2>"$work/nofollow.err")
case $got in
LD_PRELOAD=*libward_preload.so*:"$build/libearlylib.so")
	ok "... following (the default), both stay" ;;
*)	bad "... following (the default), both stay" "$got" "$(cat "$work/nofollow.err")" ;;
esac
# A program that moves into a jail (chroot) where the profile's path is
# not: the one line says so (not that it skipped its exit handlers); a
# chroot that fails changes nothing.
mkdir "$work/jail"
"$ward" run -o "$work/chroot.pb.gz" -- "$leaks" chroot "$work/jail" >"$work/chroot.out" 2>"$work/chroot.err"
expect_told "a program that chroots away from the profile's path: the one line says so" \
	$? "$work/chroot" jailed \
	"it changed its root directory to $work/jail (chroot), and the profile's path was out of reach from there"
run_leaks chroot "$work/no-such-jail"
st=$?
if [ "$st" = 0 ] && grep -q "^chroot: No such file or directory$" "$work/chroot.out" &&
	[ -s "$work/chroot.pb.gz" ] && ! grep -q "no profile" "$work/chroot.err"; then
	ok "... and a chroot that fails leaves the profile written"
else
	bad "... and a chroot that fails leaves the profile written" "status $st" "$(cat "$work/chroot.out" "$work/chroot.err")"
fi
# A program that moves to a mount namespace of its own and covers the
# profile's directory with a tmpfs (as a sandbox does): the one line says
# so (before: that it ended without its exit handlers); one that covers
# nothing has its profile read as ever.
# Through the C library's unshare() and through syscall(SYS_unshare).
mkdir "$work/covered"
for how in cover cover-raw; do
	"$ward" run -o "$work/covered/ns.pb.gz" -- "$leaks" mount_ns "$work/covered" $how \
		>"$work/ns.out" 2>"$work/ns.err"
	expect_told "a program that hides the profile's path in a mount namespace ($how): the one line says so" \
		$? "$work/ns" moved \
		"it moved to a mount namespace of its own (unshare), and the profile's path was out of reach from there" \
		'^unshare: \|^mount: ' "mount namespace"
done
run_leaks mount_ns "$work/covered"
expect_site "... and one that hides nothing has its profile" \
	"$work/mount_ns.pb.gz" leak_mount_ns heap "1 41"
# A program that restricts its own access to files (Landlock, through
# syscall()): the one line says so. Before: that it ended without its
# exit handlers, below the tracer's own "cannot write" line.
"$ward" run -o "$work/landlock.pb.gz" -- "$leaks" landlock \
	>"$work/landlock.out" 2>"$work/landlock.err"
expect_told "a program that restricts its own file access (Landlock): the one line says so" \
	$? "$work/landlock" restricted \
	"it restricted its own access to files (Landlock), and the profile's path was out of reach from there" \
	'^landlock: ' "Landlock in this kernel"
# Where /proc is not mounted (a container or a chroot without it), ward
# run finds its library from the path it was run by, and the profile
# names the program's functions from the path the program was run by
# (both relative here). Before, ward run stopped at "cannot find my own
# path", and the tracer alone named the program's frames "?".
if unshare --mount true 2>/dev/null; then
	noproc="unshare --mount"
elif unshare --user --map-root-user --mount true 2>/dev/null; then
	noproc="unshare --user --map-root-user --mount"
else
	noproc=
fi
if [ -n "$noproc" ]; then
	$noproc sh -c 'mount -t tmpfs none /proc && cd "$1" &&
		exec ./ward run --quiet -o "$2" -- ./leaks malloc_loop' sh \
		"$build" "$work/noproc.pb.gz" >"$work/noproc.out" 2>"$work/noproc.err"
	st=$?
	if [ "$st" = 0 ] && grep -q "^done malloc_loop" "$work/noproc.out"; then
		expect_site "without /proc: ward run runs, and the program's frames are named" \
			"$work/noproc.pb.gz" leak_malloc_loop heap "1000 48000"
	else
		bad "without /proc: ward run runs, and the program's frames are named" \
			"status $st" "$(cat "$work/noproc.out" "$work/noproc.err")"
	fi
else
	bad "without /proc: ward run runs, and the program's frames are named" \
		"no mount namespace here: unshare --mount and unshare --user --mount are refused"
fi
run_leaks coroutine_exit
status_is "exit() from a coroutine on a heap block: the program's status" 0 $? "$(cat "$work/coroutine_exit.err")"
expect_site "... main's frame still holds its block" \
	"$work/coroutine_exit.pb.gz" held_by_main_frame heap/reachable "1 111"
expect_site "... and what it lost is lost" \
	"$work/coroutine_exit.pb.gz" lost_before_coroutine heap/definite "1 333"
run_leaks main_thread_exit
status_is "the main thread ends by pthread_exit(), the last thread exits: the program's status" 0 $? "$(cat "$work/main_thread_exit.err")"
expect_site "... the main thread's lost block is lost, and named" \
	"$work/main_thread_exit.pb.gz" lost_before_main_exit heap/definite "1 61"
expect_site "... the last thread's lost block is lost, and named" \
	"$work/main_thread_exit.pb.gz" lost_in_last_thread heap/definite "1 62"
# The process ending by number through syscall() (exit_group, or exit
# from its only thread) writes its profile as through _exit(); a thread
# that ends so while others go on writes none then.
run_leaks raw_exit
status_is "syscall(SYS_exit_group): the program's status" 5 $? "$(cat "$work/raw_exit.err")"
expect_site "... and its profile, written as by _exit()" \
	"$work/raw_exit.pb.gz" lost_before_raw_exit heap/definite "1 63"
run_leaks raw_exit_last
status_is "syscall(SYS_exit) from the only thread: the program's status" 5 $? "$(cat "$work/raw_exit_last.err")"
expect_site "... and its profile" \
	"$work/raw_exit_last.pb.gz" lost_before_raw_exit heap/definite "1 63"
run_leaks raw_exit_thread
status_is "syscall(SYS_exit) from one thread of two: the program goes on" 6 $? "$(cat "$work/raw_exit_thread.err")"
expect_site "... and its profile, written at its end, has what it did after" \
	"$work/raw_exit_thread.pb.gz" lost_after_raw_thread_exit heap/definite "1 64"
run_leaks altstack_exit
status_is "exit() from a fault handler on a 16 KiB alternate stack: the program's status" 3 $? "$(cat "$work/altstack_exit.err")"
expect_site "... and its profile: the block it lost" \
	"$work/altstack_exit.pb.gz" lost_before_fault heap/definite "1 77"
expect_site "... the block the faulting frame holds" \
	"$work/altstack_exit.pb.gz" held_by_faulting_frame heap/reachable "1 88"
# A fault handler that allocates on a small alternate stack: ward needs
# no more of it than the program alone (to within 512 bytes), whatever
# this CPU's signal frame takes (AVX-512's is larger).
least=
for size in $(seq 4096 512 32768); do
	"$leaks" altstack_alloc $size >/dev/null 2>&1
	[ $? = 9 ] && { least=$size; break; }
done
if [ -z "$least" ]; then
	bad "a fault handler that allocates on a small alternate stack: the case ran" "no size up to 32 KiB"
else
	run_leaks altstack_alloc $((least + 512))
	status_is "a fault handler that allocates on a small alternate stack ($((least + 512)) bytes, $least alone): the program's status" 9 $? \
		"$(cat "$work/altstack_alloc.err")"
	expect_site "... and its profile: the block the handler lost" \
		"$work/altstack_alloc.pb.gz" lost_in_handler heap "1 66"
fi
for how in signal exit; do
	run_leaks overflow $how
	status=$?
	want=3; [ $how = signal ] && want=139
	status_is "a main thread that overflowed its stack, ended by $how: the program's status" $want $status "$(cat "$work/overflow.err")"
	expect_site "... and its profile: the block it lost" \
		"$work/overflow.pb.gz" lost_before_overflow heap/definite "1 79"
	expect_site "... the block the frame below the overflow holds" \
		"$work/overflow.pb.gz" held_below_overflow heap/reachable "1 89"
done
run_leaks no_descriptors soft
status_is "a program that set its descriptor limit to 0 (soft): the program's status" 0 $? "$(cat "$work/no_descriptors.err")"
expect_site "... and its profile, scanned: the block it lost" \
	"$work/no_descriptors.pb.gz" lost_before_no_descriptors heap/definite "1 46"
# With the privilege to raise a hard limit (CAP_SYS_RESOURCE) ward's
# helper raises its own copy and writes the profile; without, nothing can
# be opened, and the one line says why (not a guess about exit handlers).
for how in hard hard64; do
	rm -f "$work/no_descriptors.pb.gz"
	"$ward" run -o "$work/no_descriptors.pb.gz" -- "$leaks" no_descriptors $how >/dev/null 2>"$work/no_descriptors.err"
	st=$?
	name="... and to 0 hard ($how): the profile, or the one line saying why"
	if [ "$st" = 0 ] && [ -e "$work/no_descriptors.pb.gz" ]; then
		expect_site "$name (the profile)" \
			"$work/no_descriptors.pb.gz" lost_before_no_descriptors heap/definite "1 46"
	elif [ "$st" = 0 ] &&
		grep -q "^ward: no profile from $leaks: it set its descriptor limit to none (RLIMIT_NOFILE 0), and the profile could not be opened from there$" "$work/no_descriptors.err" &&
		! grep -q "exit handlers" "$work/no_descriptors.err"; then
		ok "$name (the line)"
	else
		bad "$name" "status $st" "$(cat "$work/no_descriptors.err")"
	fi
done
run_leaks crowd
status_is "4200 threads running at exit: the program's status" 0 $? "$(cat "$work/crowd.err")"
expect_site "... their blocks classified: held by their stacks" \
	"$work/crowd.pb.gz" held_by_crowd heap/reachable "4200 100800"
run_leaks as_limit
status_is "a program that used up its address space (RLIMIT_AS): the program's status" 0 $? "$(cat "$work/as_limit.err")"
expect_site "... and its profile, scanned: the blocks it lost before" \
	"$work/as_limit.pb.gz" lost_before_limit heap/definite "10 1000"
# The same with its data limit (RLIMIT_DATA, the soft one): lifted for the
# report, set back after it. Before: no profile, out of memory.
run_leaks data_limit
status_is "a program that used up its data limit (RLIMIT_DATA): the program's status" 0 $? "$(cat "$work/data_limit.err")"
expect_site "... and its profile, scanned: the blocks it lost before" \
	"$work/data_limit.pb.gz" lost_before_limit heap/definite "10 1000"
# A program run under an address-space limit set before it starts
# (`ulimit -v`) just above what it needs alone runs as alone under ward:
# ward reserves nothing ahead there (no spare for the report, no room for
# its tables), and its books of a small program take about 6 MiB. Both
# margins: a spare kept wherever it fitted made a limit 40 MiB above fail
# where 10 above did not.
least=
for mib in $(seq 2 1 200); do
	(ulimit -v $((mib * 1024)) && "$leaks" room 24) >/dev/null 2>&1 && { least=$mib; break; }
done
if [ -z "$least" ]; then
	bad "a program under ulimit -v: the case ran" "it did not run alone under any limit up to 200 MiB"
else
	for more in 10 40; do
		(ulimit -v $(((least + more) * 1024)) &&
			exec "$ward" run --quiet -o "$work/room.pb.gz" -- "$leaks" room 24) >"$work/room.out" 2>"$work/room.err"
		status_is "a program under ulimit -v $more MiB above what it needs alone ($least MiB): its status" 0 $? \
			"$(cat "$work/room.out" "$work/room.err")"
		expect_site "... and its profile" "$work/room.pb.gz" lost_in_room heap/definite "1 48"
	done
fi
run_leaks above_descriptor
status_is "threads read for their TLS: the case ran" 0 $? "$(cat "$work/above_descriptor.err")"
expect_site "what lies above an ended thread's descriptor is not its TLS" \
	"$work/above_descriptor.pb.gz" named_above_descriptor heap/definite "512 24576"
expect_site "... nor its dead frames below it" \
	"$work/above_descriptor.pb.gz" named_on_dead_stack heap/definite "1 56"
run_leaks realloc_failed
status_is "a realloc that fails: the case ran" 0 $? "$(cat "$work/realloc_failed.err")"
expect_site "a block a failed realloc left is still its size, from its site" \
	"$work/realloc_failed.pb.gz" grown_from heap "1 60"
expect_site "... not the failed realloc's" \
	"$work/realloc_failed.pb.gz" grown_too_far heap "0 0"
run_leaks joins
status_is "threads joined every way: the case ran" 0 $? "$(cat "$work/joins.err")"
expect_site "threads joined by tryjoin, timedjoin, clockjoin, thrd_join or detached by thrd_detach are no leak" \
	"$work/joins.pb.gz" started_joinable thread "0 0"
expect_site "... and of three C11 threads (joined, detached, neither) one is" \
	"$work/joins.pb.gz" started_c11 thread "1 0"
# Detached threads are on the books until they end: those still running
# at exit are still reachable, shown where each is blocked, and fail no
# run; those that ended are gone; a joinable one nobody joined is a leak.
run_leaks detached
status_is "detached threads: the case ran" 0 $? "$(cat "$work/detached.err")"
expect_site "detached threads that ended, in either order or by themselves, are no leak" \
	"$work/detached.pb.gz" detached_and_ended thread "0 0"
expect_site "a thread created detached, running at exit, is still reachable" \
	"$work/detached.pb.gz" started_detached thread/reachable "1 0"
expect_site "... and one detached after it started" \
	"$work/detached.pb.gz" detached_after_start thread/reachable "1 0"
expect_site "... while a joinable one nobody joined is a leak" \
	"$work/detached.pb.gz" started_unjoined thread "1 0"
# Each leaked thread of a report (PROFILE), a line: its holder, then the
# functions of the stack where it is blocked, "|" between them.
blocked_frames() { # PROFILE
	"$ward" report "$1" 2>&1 |
		awk '/^thread:/ { t = 1; fr = "" } t && /\[held by/ { h = $0 }
		     t && /\[blocked now in:\]/ { b = 1; next }
		     b && /\[started at:\]/ { print h fr; b = 0; t = 0 }
		     b { f = $1; sub(/\+.*/, "", f); fr = fr "|" f }' | tr -d '\t[]'
}
got=$(blocked_frames "$work/detached.pb.gz")
# Named as the stacks are, from the debug information (the C library's
# start_thread, which no symbol table of the traced process names).
if [ "$(printf '%s\n' "$got" | wc -l)" = 3 ] &&
	printf '%s\n' "$got" | grep -Eq '^held by running at exit \(detached\)\|(.*\|)?__read\|reads_let_go_pipe\|start_thread\|' &&
	printf '%s\n' "$got" | grep -Eq '^held by running at exit \(detached\)\|.*pthread_cond_wait[^|]*\|waits_for_nothing\|start_thread\|' &&
	printf '%s\n' "$got" | grep -Eq '^held by running at exit\|(.*\|)?__read\|reads_let_go_pipe\|start_thread\|'; then
	ok "detached threads running at exit: the report shows where each is blocked, right under the C library's start"
else
	bad "detached threads running at exit: the report shows where each is blocked, right under the C library's start" "got '$got'"
fi
"$ward" run --quiet --fail-on-leak=thread -o "$work/detached2.pb.gz" -- "$leaks" detached \
	>/dev/null 2>"$work/detached2.err"
status_is "--fail-on-leak=thread fails on the thread nobody joined" 1 $? "$(cat "$work/detached2.err")"
grep -q "^ward: 1 resources leaked" "$work/detached2.err" &&
	ok "... and on it alone, not the detached ones" ||
	bad "... and on it alone, not the detached ones" "$(cat "$work/detached2.err")"
"$ward" run --quiet --kinds thread --fail-on-leak=thread,reachable -o "$work/detached3.pb.gz" -- "$leaks" detached \
	>/dev/null 2>"$work/detached3.err"
grep -q "^ward: 3 resources leaked" "$work/detached3.err" &&
	ok "--fail-on-leak=reachable counts the detached threads still running" ||
	bad "--fail-on-leak=reachable counts the detached threads still running" "$(cat "$work/detached3.err")"
"$ward" run --quiet --snapshot-signal USR2 -o "$work/det_snap.pb.gz" -- "$leaks" detached snap \
	>/dev/null 2>"$work/det_snap.err"
expect_site "a detached thread blocked mid-run is live in a snapshot" \
	"$work/det_snap.pb.gz.snap1" started_detached thread "1 0"
expect_site "... and the detached ones that ended are not" \
	"$work/det_snap.pb.gz.snap1" detached_and_ended thread "0 0"
run_leaks detach_churn
status_is "threads detached and joined by the thousand: the case ran" 0 $? "$(cat "$work/detach_churn.err")"
expect_site "... and once all have ended, none is on the books" \
	"$work/detach_churn.pb.gz" started_in_churn thread "0 0"
# The standard descriptors and streams reopened elsewhere are no leak.
run_leaks daemon
status_is "standard descriptors reopened: the case ran" 0 $? "$(cat "$work/daemon.err")"
expect_site "descriptors 0-2 reopened (close/open, dup2) are no leak" \
	"$work/daemon.pb.gz" std_reopened fd "0 0"
expect_site "... nor is stdout reopened with freopen" \
	"$work/daemon.pb.gz" std_reopened file "0 0"
expect_site "... and a descriptor opened besides them is one" \
	"$work/daemon.pb.gz" std_then_real fd "1 0"
run_leaks files; expect_site "FILE and DIR never closed (tmpfile, popen, memory streams too)" \
	"$work/files.pb.gz" leak_files file "9 0"
run_leaks threads; expect_site "threads never joined" \
	"$work/threads.pb.gz" leak_threads thread "2 0"
run_leaks dlopen "$build/libleakplugin.so"; expect_site \
	"leak in a library dlclose() unloaded, still named" \
	"$work/dlopen.pb.gz" plugin_leak heap "3 3000"

run_leaks fork
child=$(ls "$work"/fork.pb.gz.* 2>/dev/null | head -1)
if [ -n "$child" ]; then
	expect_site "a forked child writes its own profile" "$child" \
		leak_in_child heap "77 1232"
	expect_site "the parent's books do not hold the child's leak" \
		"$work/fork.pb.gz" leak_in_child heap "0 0"
else
	bad "a forked child writes its own profile" "no $work/fork.pb.gz.PID"
	bad "the parent's books do not hold the child's leak" "no $work/fork.pb.gz.PID"
fi
# Two processes of one run with one pid, one after the other (pids are
# used again: 32,768 of them in many containers, fewer than a long build
# starts) write two profiles, OUT.PID and OUT.PID-2, and ward run counts
# both (before, the second replaced the first, and nothing said so). In a
# pid namespace of the run's own, where the next pid can be set back.
pidns="unshare --pid --fork --mount-proc"
[ "$(id -u)" = 0 ] || pidns="unshare -r --pid --fork --mount-proc"
$pidns "$ward" run -o "$work/pid_again.pb.gz" -- "$leaks" pid_again \
	>"$work/pid_again.out" 2>"$work/pid_again.err"
set -- $(sed -n 's/^pids //p' "$work/pid_again.out")
if [ -n "${1:-}" ] && [ "$1" = "${2:-}" ]; then
	expect_site "the first of two processes of a run with one pid keeps its profile" \
		"$work/pid_again.pb.gz.$1" leak_in_child heap "77 1232"
	expect_site "... and the second writes OUT.PID-2" \
		"$work/pid_again.pb.gz.$1-2" leak_in_second_child heap "5 240"
	if grep -q "^ward: 2 more profiles from the processes it forked or ran: " "$work/pid_again.err"; then
		ok "... and ward run counts both"
	else
		bad "... and ward run counts both" "$(grep "^ward: " "$work/pid_again.err")"
	fi
else
	for c in "keeps its profile" "writes OUT.PID-2" "counts both"; do
		bad "two processes of a run with one pid: $c" "pids: ${1:-} ${2:-}" \
			"$(cat "$work/pid_again.out" "$work/pid_again.err" | head -5)"
	done
fi

expect_child_site "a forked child's block linked from an inherited one is still reachable" \
	fork_list linked_by_child heap/reachable "1 32"
expect_child_site "a block only a freed inherited one pointed to is lost" \
	fork_freed held_by_freed_inherited heap/definite "1 48"
# A forked child's books start empty, the owners' records (kept by the
# owners) too: releasing an owner it inherited counts nothing released.
run_leaks fork_owner
if grep -qx "child owners: live 0 released 0" "$work/fork_owner.out"; then
	ok "a forked child that releases an inherited owner counts nothing"
else
	bad "a forked child that releases an inherited owner counts nothing" \
		"$(cat "$work/fork_owner.out" "$work/fork_owner.err")"
fi
# A generation further: the grandchild's block hangs off its grandparent's.
rm -f "$work"/fork_list_twice.pb.gz*
run_leaks fork_list_twice
grandchild=$(sed -n 's/^grandchild //p' "$work/fork_list_twice.out")
if [ -n "$grandchild" ] && [ -f "$work/fork_list_twice.pb.gz.$grandchild" ]; then
	expect_site "a forked child's child's block linked from its grandparent's is still reachable" \
		"$work/fork_list_twice.pb.gz.$grandchild" linked_by_grandchild heap/reachable "1 32"
else
	bad "a forked child's child's block linked from its grandparent's is still reachable" \
		"no grandchild profile: $(ls "$work"/fork_list_twice.pb.gz*)"
fi

rm -f "$work"/nofollow.pb.gz*
"$ward" run --quiet --no-follow-forks -o "$work/nofollow.pb.gz" -- "$leaks" fork >/dev/null 2>&1
if ls "$work"/nofollow.pb.gz.* >/dev/null 2>&1; then
	bad "--no-follow-forks: children record nothing" "$(ls "$work"/nofollow.pb.gz.*)"
else
	ok "--no-follow-forks: children record nothing"
fi

# C++: names demangled, "acquired at" above operator new, strdup and the
# standard containers' inlined allocators.
"$ward" run --quiet -o "$work/cxx.pb.gz" -- "$build/cxxleaks" >/dev/null 2>&1
expect_site "C++: blocks from new, at the program's function, demangled" "$work/cxx.pb.gz" \
	"shop::fill_basket(int)" heap/definite "3 24"
expect_site "C++: a vector's storage, at the function that built it" "$work/cxx.pb.gz" \
	"shop::fill_basket(int)" heap/indirect "6 204"
if "$ward" report "$work/cxx.pb.gz" | grep -q "heap/definite  copy_name(char const\*)+"; then
	ok "strdup's block is acquired at its caller"
else
	bad "strdup's block is acquired at its caller" "$("$ward" report "$work/cxx.pb.gz" | head -8)"
fi

# A program built by clang has its frames' source lines too: clang writes
# no .debug_aranges, through which libdw before 0.191 finds an address's
# compilation unit.
if need clang clang; then
	printf '#include <stdlib.h>\nvoid *volatile kept;\n__attribute__((noinline)) void *lost_by_clang(void)\n{\n\treturn malloc(91);\n}\nint main(void) { kept = lost_by_clang(); kept = 0; return 0; }\n' \
		>"$work/clang_leak.c"
	clang -g -O1 -o "$work/clang_leak" "$work/clang_leak.c"
	"$ward" run --quiet -o "$work/clang_leak.pb.gz" -- "$work/clang_leak"
	got=$(WARD_CACHE_DIR= "$ward" report "$work/clang_leak.pb.gz" 2>&1)
	case $got in
	*"lost_by_clang+"*"clang_leak.c:5"*) ok "a clang-built program's frames name their source lines" ;;
	*) bad "a clang-built program's frames name their source lines" "$got" ;;
	esac
fi

# Source positions kept across reports, one file per build id: the same
# report from the cache as from the debug information; the cache is what
# is read; a file that does not parse is ignored and rewritten; an empty
# WARD_CACHE_DIR keeps nothing.
c="$work/cache1"
WARD_CACHE_DIR="$c" "$ward" report "$work/malloc_loop.pb.gz" >"$work/c1.out" 2>&1
WARD_CACHE_DIR="$c" "$ward" report "$work/malloc_loop.pb.gz" >"$work/c2.out" 2>&1
kept=$(ls "$c" 2>/dev/null | grep -c '^[0-9a-f]\{40\}$')
if [ "$kept" -ge 2 ] && cmp -s "$work/c1.out" "$work/c2.out" && grep -q "leaks.c:" "$work/c2.out"; then
	ok "source positions are kept by build id, and a report from them reads the same"
else
	bad "source positions are kept by build id, and a report from them reads the same" \
		"$kept files: $(ls "$c" 2>&1 | head -3)" "$(diff "$work/c1.out" "$work/c2.out" | head -5)"
fi
sed -i 's/\tleaks\.c\t/\tfrom-the-cache.c\t/' "$c"/*
WARD_CACHE_DIR="$c" "$ward" report "$work/malloc_loop.pb.gz" >"$work/c3.out" 2>&1
if grep -q "from-the-cache.c:" "$work/c3.out"; then ok "a report reads its source positions from the cache"; else
	bad "a report reads its source positions from the cache" "$(grep -m3 "leaks.c" "$work/c3.out")"; fi
for f in "$c"/*; do printf 'not\tan entry\n' >"$f"; done
WARD_CACHE_DIR="$c" "$ward" report "$work/malloc_loop.pb.gz" >"$work/c4.out" 2>&1
if cmp -s "$work/c1.out" "$work/c4.out" && ! grep -q "not" "$c"/*; then
	ok "a cache file that does not parse is ignored, and rewritten"
else
	bad "a cache file that does not parse is ignored, and rewritten" "$(diff "$work/c1.out" "$work/c4.out" | head -5)" "$(head -2 "$c"/* | head -6)"
fi
mkdir -p "$work/xdg"
WARD_CACHE_DIR= XDG_CACHE_HOME="$work/xdg" "$ward" report "$work/malloc_loop.pb.gz" >/dev/null 2>&1
if [ -z "$(ls -A "$work/xdg")" ]; then ok "an empty WARD_CACHE_DIR keeps nothing"; else
	bad "an empty WARD_CACHE_DIR keeps nothing" "$(ls -R "$work/xdg" | head -5)"; fi
# The default cache is made only where the user owns what is there
# already: in a HOME of the user's own, and not in another user's (as
# root under `sudo -E`: before, root made that user's ~/.cache its own)
# nor in a directory shared with others (/tmp, for a user other than
# root).
mkdir -p "$work/home"
(unset WARD_CACHE_DIR XDG_CACHE_HOME; HOME="$work/home" "$ward" report "$work/malloc_loop.pb.gz" >/dev/null 2>&1)
if ls "$work/home/.cache/ward/lines" 2>/dev/null | grep -q '^[0-9a-f]\{40\}$'; then
	ok "the default cache is made in a HOME of the user's own"
else
	bad "the default cache is made in a HOME of the user's own" "$(ls -R "$work/home" | head -5)"
fi
if [ "$(id -u)" = 0 ]; then
	others="$work/others_home"
	mkdir "$others" && chown 65534 "$others"
	others_cache="$others"
else
	others=/tmp
	others_cache=$(mktemp -u /tmp/ward-cache-XXXXXX)
fi
(unset WARD_CACHE_DIR; XDG_CACHE_HOME="$others_cache" HOME="$others" "$ward" report "$work/malloc_loop.pb.gz" >/dev/null 2>&1)
[ "$others" = /tmp ] ||
	(unset WARD_CACHE_DIR XDG_CACHE_HOME; HOME="$others" "$ward" report "$work/malloc_loop.pb.gz" >/dev/null 2>&1)
if [ -z "$(ls -A "$others_cache" 2>/dev/null)" ] && [ ! -e "$others/.cache/ward" ]; then
	ok "no cache is made in what another user owns"
else
	bad "no cache is made in what another user owns" "$(ls -la "$others_cache" "$others/.cache" 2>&1 | head -8)"
fi
[ "$others" = /tmp ] && rm -rf "$others_cache"

# Suppressions, in LeakSanitizer's syntax: by function, object or source
# file, '*' and anchors; counted, never dropped in silence.
printf '# what we know about\nleak:^leak_m*_loop$\n' >"$work/supp"
"$ward" report --no-default-suppressions --suppressions "$work/supp" "$work/malloc_loop.pb.gz" >"$work/supp.out" 2>&1
if ! grep -q "leak_malloc_loop+" "$work/supp.out" &&
	grep -q "ward: suppressed 1000 live resources (48000 bytes) at 1 site " "$work/supp.out"; then
	ok "a suppression takes a site out of the report, and says so"
else
	bad "a suppression takes a site out of the report, and says so" "$(tail -3 "$work/supp.out")"
fi
printf 'leak:leaks.c\n' >"$work/supp2"
"$ward" run --quiet --fail-on-leak --suppressions "$work/supp2" -o "$work/f2.pb.gz" -- "$leaks" malloc_loop >/dev/null 2>&1
status_is "--fail-on-leak passes when every leak is suppressed (by source file)" 0 $?
printf 'leak:libc.so.6\nnot a suppression\n' >"$work/supp3"
"$ward" report --suppressions "$work/supp3" "$work/malloc_loop.pb.gz" >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 2 ] && grep -q "supp3: line 2: not a suppression" "$work/e1"; then
	ok "a bad suppression line is refused with its line number"
else
	bad "a bad suppression line is refused with its line number" "status $st: $(cat "$work/e1")"
fi
rm -f "$work/ran"
"$ward" run --quiet --suppressions "$work/supp3" -o "$work/f3.pb.gz" -- touch "$work/ran" 2>"$work/e2"
st=$?
if [ "$st" = 2 ] && [ ! -e "$work/ran" ] && grep -q "supp3: line 2: not a suppression" "$work/e2"; then
	ok "ward run refuses a bad suppressions file before the program runs"
else
	bad "ward run refuses a bad suppressions file before the program runs" "status $st, ran: $([ -e "$work/ran" ] && echo yes || echo no)" "$(cat "$work/e2")"
fi
if "$ward" report "$work/malloc_loop.pb.gz" | grep -q "_IO_file_doallocate" ||
	! "$ward" report --no-default-suppressions "$work/malloc_loop.pb.gz" | grep -q "_IO_file_doallocate"; then
	bad "stdio's buffer is suppressed by default, and shown with --no-default-suppressions"
else
	ok "stdio's buffer is suppressed by default, and shown with --no-default-suppressions"
fi

# Reports rank what is lost first and never add counts to bytes.
first=$("$ward" report --no-default-suppressions "$work/fds.pb.gz" | sed -n 3p | awk '{print $4}')
head1=$("$ward" report --no-default-suppressions "$work/fds.pb.gz" | head -1)
if [ "$first" = fd ] && echo "$head1" | grep -q "fd 20" && echo "$head1" | grep -q "heap 1 (4096 bytes)"; then
	ok "descriptors rank above what is still reachable; counts and bytes kept apart"
else
	bad "descriptors rank above what is still reachable; counts and bytes kept apart" "$head1" \
		"$("$ward" report "$work/fds.pb.gz" | sed -n 2,4p)"
fi

# The reachability scan at exit: lost, indirectly lost, still reachable.
run_leaks indirect
expect_site "owners never freed are definitely lost" "$work/indirect.pb.gz" \
	leak_indirect heap/definite "5 320"
expect_site "what only lost blocks point to is indirectly lost" \
	"$work/indirect.pb.gz" leak_child heap/indirect "5 1500"
expect_site "what a global points to is still reachable" \
	"$work/indirect.pb.gz" leak_kept heap/reachable "1 700"
order=$("$ward" report "$work/indirect.pb.gz" | awk 'NR > 2 && /^stacks:/ { exit } NR > 2 && NF { print $4 }' | uniq | tr '\n' ' ')
if [ "$order" = "heap/definite heap/indirect heap/reachable " ]; then
	ok "the report leads with definitely lost, then indirectly lost, then reachable"
else
	bad "the report leads with definitely lost, then indirectly lost, then reachable" "$order"
fi
expect_site "pointers dropped in a loop: definitely lost, as valgrind says" \
	"$work/malloc_loop.pb.gz" leak_malloc_loop heap/definite "1000 48000"
# The profile says what the scan cost: how many blocks, how long.
scanned=$("$ward" report "$work/indirect.pb.gz" | grep "scan: ")
if echo "$scanned" | grep -Eq "^	scan: blocks [1-9][0-9]*, took_us [0-9]+$"; then
	ok "the exit profile carries the scan's figures (blocks, time)"
else
	bad "the exit profile carries the scan's figures (blocks, time)" "$scanned"
fi

# At scale: 401,000 live blocks, 100 lists of 10 lost among them — under
# glibc's malloc and under other allocators, whose own memory (their
# records, their free space) is no root, as glibc's heaps are not: the
# live set's own tables are never roots, and jemalloc's record of each
# slab, which points at the slab's first block, holds nothing (before, a
# few of the lost read as reachable; once, every one). A block the
# program keeps in memory it mapped itself stays reachable there.
for lib in "" jemalloc.so.2 mimalloc.so.2; do
	path=${lib:+/usr/lib/x86_64-linux-gnu/lib$lib}
	LD_PRELOAD=$path "$ward" run --quiet -o "$work/many.pb.gz" -- "$leaks" many \
		>"$work/many.out" 2>&1
	got=$(site "$work/many.pb.gz" many_list heap/definite)/$(site "$work/many.pb.gz" many_list heap/indirect)/$(site "$work/many.pb.gz" many_list heap/reachable)
	want="100 3200/900 28800/400000 12800000"
	name="401,000 live blocks${lib:+ under $lib}: 100 lost, 900 indirectly, 400,000 reachable"
	if [ "$got" = "$want" ]; then ok "$name"; else bad "$name" "got $got, want $want" "$(head -5 "$work/many.out")"; fi
	[ -n "$lib" ] || continue
	LD_PRELOAD=$path "$ward" run --quiet -o "$work/own_arena.pb.gz" -- "$leaks" own_arena \
		>"$work/own_arena.out" 2>&1
	expect_site "under $lib, what memory the program mapped itself holds is reachable" \
		"$work/own_arena.pb.gz" held_in_own_arena heap/reachable "5 615"
done
# The stacks section heads each class of a site split by the scan once:
# the site's acquisitions (the 1,000 blocks of the lists lost) said once,
# as the site's, and no share reads "acquired 0" (before: a second
# heading under each lost class, and "(acquired 0, 0 bytes)" on every
# share but the first).
"$ward" run --quiet -o "$work/many.pb.gz" -- "$leaks" many >"$work/many.out" 2>&1
heads=$("$ward" report "$work/many.pb.gz" | awk '
	/^stacks:/ { on = 1; next }
	on && /^[a-z]/ { head = $0; next }
	on && /^\t\[/ { next }
	on && head && /many_list\+/ { print head }
	{ head = "" }')
want="heap: 100 live, 3200 bytes, definitely lost (the site acquired 1000, 32000 bytes)
heap: 900 live, 28800 bytes, indirectly lost
heap: 400000 live, 12800000 bytes, still reachable (the site acquired 400000, 12800000 bytes)"
if [ "$heads" = "$want" ]; then
	ok "a site split by class: one heading a class, the site's acquisitions once"
else
	bad "a site split by class: one heading a class, the site's acquisitions once" "$heads"
fi
# A program that takes memory from mimalloc through its own mi_malloc(),
# which no interposer sees, may keep its blocks' addresses there: the
# allocator's memory is read as roots then, and such a block is reachable.
printf '#include <stdlib.h>\n#include <string.h>\nvoid *mi_malloc(size_t);\n__attribute__((noinline)) void *held_by_mi(void) { return malloc(321); }\nint main(void) { void **box = mi_malloc(64); memset(box, 0, 64); box[3] = held_by_mi(); box = (void **)((unsigned long)box ^ 0x5a5a5a5a5a5a5a5aUL); return box == 0; }\n' \
	>"$work/mi_direct.c"
cc -O0 -o "$work/mi_direct" "$work/mi_direct.c" /usr/lib/x86_64-linux-gnu/libmimalloc.so.2
"$ward" run --quiet -o "$work/mi_direct.pb.gz" -- "$work/mi_direct" >"$work/mi_direct.out" 2>&1
expect_site "a block held only in memory a program took through mi_malloc() is reachable" \
	"$work/mi_direct.pb.gz" held_by_mi heap/reachable "1 321"

# The scan's rules, from valgrind's and LeakSanitizer's own cases.
run_leaks stale
expect_site "a pointer left only in main's dead frames is no reference" \
	"$work/stale.pb.gz" leak_stale heap/definite "1 77"
# stdout's buffer took memory that held a lost block's address: its
# stale bytes are no reference (before: still reachable, [root: libc]).
run_leaks stdio_stale
expect_site "a pointer left only in stdout's buffer's unused bytes is no reference" \
	"$work/stdio_stale.pb.gz" leak_stdio_stale heap/definite "1 99"
# A forked child wrote a block's address into shared memory, on a page
# the parent never touched: the page is read (it is in the segment, in
# no page table of the parent's), the block still reachable.
run_leaks child_wrote
expect_site "a pointer only a child wrote into shared memory is a reference" \
	"$work/child_wrote.pb.gz" shared_by_child heap/reachable "1 321"
run_leaks zero
expect_site "blocks of size 0 are 0 bytes" "$work/zero.pb.gz" leak_zero heap/definite "3 0"
run_leaks one_line
expect_site "two lost blocks from one line, two call addresses: 2 blocks, 30 bytes" \
	"$work/one_line.pb.gz" one_line_block heap/definite "2 30"
rows=$("$ward" report "$work/one_line.pb.gz" | awk '/^stacks:/ { exit } /one_line_block/' | wc -l)
if [ "$rows" = 1 ]; then ok "... and they are one row of the report"; else
	bad "... and they are one row of the report" "$("$ward" report "$work/one_line.pb.gz")"; fi
rows=$("$ward" report --json "$work/one_line.pb.gz" | grep -c 'one_line_block')
if [ "$rows" = 2 ]; then ok "... and two sites of its JSON"; else
	bad "... and two sites of its JSON" "$("$ward" report --json "$work/one_line.pb.gz")"; fi
run_leaks new0
expect_site "new T[0]: a pointer just past its count keeps it" "$work/new0.pb.gz" \
	leak_new0 heap/reachable "1 8"
run_leaks own_arena
expect_site "what the program's own mapped memory points to is still reachable" \
	"$work/own_arena.pb.gz" held_in_own_arena heap/reachable "5 615"
# The page after ward's data is free in most runs, not all (where the
# next library is loaded varies from run to run): exit 4, run it again.
tries=0
while run_leaks arena_by_bss; st=$?; [ "$st" = 4 ] && [ "$tries" -lt 5 ]; do
	tries=$((tries + 1))
done
status_is "an arena mapped right after ward's data: the case ran" 0 "$st" \
	"$(cat "$work/arena_by_bss.err")"
expect_site "... and what it points to is still reachable, one mapping with ward's though it is" \
	"$work/arena_by_bss.pb.gz" held_by_bss_arena heap/reachable "5 615"
# In an IPC namespace of its own where one can be made, so that its
# shmget() segment has id 0, as the first one on a fresh machine has.
if unshare --ipc true 2>/dev/null; then
	ipc="a fresh IPC namespace"
	unshare --ipc "$ward" run --quiet -o "$work/shared_arenas.pb.gz" -- \
		"$leaks" shared_arenas >"$work/shared_arenas.out" 2>"$work/shared_arenas.err"
else
	ipc="this IPC namespace: unshare --ipc is not allowed here"
	run_leaks shared_arenas
fi
status_is "shared memory the program mapped ($ipc): the case ran" 0 $? \
	"$(cat "$work/shared_arenas.err")"
expect_site "what only the program's shared memory points to is still reachable" \
	"$work/shared_arenas.pb.gz" held_in_shared_memory heap/reachable "4 314"
# What only a JIT's memory (writable and executable, as the JVM's code
# cache) holds is still reachable, as valgrind says.
run_leaks jit_memory
status_is "a JIT's memory: the case ran" 0 $? "$(cat "$work/jit_memory.err")"
expect_site "what only a JIT's memory points to is still reachable" \
	"$work/jit_memory.pb.gz" held_in_jit_memory heap/reachable "1 91"
# What only a page the program wrote in a file's private mapping holds is
# still reachable, as valgrind says (the pages it never wrote are the
# file's, not read).
run_leaks file_copy
status_is "a file's private mapping: the case ran" 0 $? "$(cat "$work/file_copy.err")"
expect_site "what only a written page of a file's private mapping holds is still reachable (a file's, /dev/zero's)" \
	"$work/file_copy.pb.gz" held_in_file_copy heap/reachable "2 186"
run_leaks file_copy fdlimit
status_is "a file's private mapping, the descriptors used up: the case ran" 0 $? "$(cat "$work/file_copy.err")"
expect_site "... and with the descriptors used up, what those pages hold is still reachable" \
	"$work/file_copy.pb.gz" held_in_file_copy heap/reachable "2 186"
# What only the C library's own data holds (a buffer the program gave
# stdout) is still reachable, its root libc; the summary counts it apart.
run_leaks libc_held
expect_site "a buffer only stdout's FILE holds is still reachable" \
	"$work/libc_held.pb.gz" held_by_libc heap/reachable "1 4096"
expect_root "... and its root is libc" "$work/libc_held.pb.gz" held_by_libc libc
held=$("$ward" run -o "$work/libc_held2.pb.gz" -- "$leaks" libc_held 2>&1 >/dev/null |
	awk '/held by libc/ { print $4, $6 }')
if [ -n "$held" ] && [ "${held% *}" -ge 1 ] && [ "${held#* }" -ge 4096 ]; then
	ok "the summary counts what libc's data holds apart ($held)"
else
	bad "the summary counts what libc's data holds apart" "got '$held'"
fi
# What only a block a linked library's constructor allocated holds (made
# before ward started, so without a record) is still reachable, as
# valgrind says; once the program frees that block, what it held is lost.
"$ward" run --quiet -o "$work/early.pb.gz" -- "$build/early" >"$work/early.out" 2>"$work/early.err"
status_is "blocks allocated before ward started: the case ran" 0 $? "$(cat "$work/early.err")"
expect_site "what only a block allocated before ward started holds is still reachable" \
	"$work/early.pb.gz" early_hang heap/reachable "3 144"
expect_site "... and what such a block held once the program freed it is lost" \
	"$work/early.pb.gz" early_hang_dropped heap/definite "1 48"
expect_root "... and its root is early" "$work/early.pb.gz" early_hang early
# A program built without PIE and stripped: its code has no symbol, and
# no frame is named after an undefined function whose PLT entry lies
# before it.
"$ward" run --quiet -o "$work/nopie.pb.gz" -- "$build/nopie" >/dev/null 2>"$work/nopie.err"
row=$("$ward" report "$work/nopie.pb.gz" | awk '/^stacks:/ { exit } $4 == "heap/definite"')
case $row in
*" 100 "*"1  heap/definite  0x"*"(nopie+0x"*) ok "a stripped program's frame is its address, no undefined symbol's name" ;;
*) bad "a stripped program's frame is its address, no undefined symbol's name" "$row" "$(cat "$work/nopie.err")" ;;
esac
run_leaks big_lost
expect_site "a lost block of many pages is definitely lost" \
	"$work/big_lost.pb.gz" leak_big_table heap/definite "1 524288"
expect_site "what only a lost block of many pages points to is indirectly lost" \
	"$work/big_lost.pb.gz" held_by_big_table heap/indirect "10 480"
run_leaks large_chains
expect_site "large blocks a global's chain holds are still reachable" \
	"$work/large_chains.pb.gz" large_link heap/reachable "12 7274496"
expect_site "a lost chain of large blocks: its head definitely lost" \
	"$work/large_chains.pb.gz" large_link heap/definite "1 65536"
expect_site "a lost chain of large blocks: the rest indirectly lost" \
	"$work/large_chains.pb.gz" large_link heap/indirect "7 3211264"
expect_site "small blocks only large blocks hold: reachable or lost with them" \
	"$work/large_chains.pb.gz" large_held_small heap "20 800"
expect_site "small blocks only a lost chain of large blocks holds are indirectly lost" \
	"$work/large_chains.pb.gz" large_held_small heap/indirect "8 320"
run_leaks arena_neighbours
status_is "the arena's neighbours landed where the case needs them" 0 $? \
	"$(cat "$work/arena_neighbours.err")"
expect_site "a lost block just below glibc's top chunk is definitely lost" \
	"$work/arena_neighbours.pb.gz" lost_before_top heap/definite "1 100008"
expect_site "a lost block just below a free chunk the arena names is definitely lost" \
	"$work/arena_neighbours.pb.gz" lost_before_free_chunk heap/definite "1 104"
run_leaks cycle
expect_site "a lost cycle has a head, definitely lost, as valgrind says" \
	"$work/cycle.pb.gz" cycle_node heap/definite "1 32"
expect_site "the rest of a lost cycle is indirectly lost" \
	"$work/cycle.pb.gz" cycle_node heap/indirect "2 64"
expect_site "what only a lost cycle points to is indirectly lost" \
	"$work/cycle.pb.gz" cycle_tail heap/indirect "1 48"
# glibc's heaps other than the main one are no root (a freed chunk keeps
# stale pointers), and only they are taken for one.
run_leaks past_freed_chunk
expect_site "a block only a freed chunk of a thread's arena names is definitely lost" \
	"$work/past_freed_chunk.pb.gz" lost_past_a_freed_chunk heap/definite "1 100"
run_leaks lookalike_header
expect_site "the program's memory that looks like a glibc heap's header is still a root" \
	"$work/lookalike_header.pb.gz" held_past_a_lookalike_header heap/reachable "1 55"
# Inaccessible reservations (ward's tables reserve address space) are no
# thread's guard page: what the program maps right above one is a root.
run_leaks above_reservation
placed=$(sed -n 's/^placed //p' "$work/above_reservation.out")
if [ -n "$placed" ] && [ "$placed" -gt 0 ]; then
	expect_site "memory mapped right above a reservation is a root, not a thread's stack" \
		"$work/above_reservation.pb.gz" held_above_reservation heap/reachable \
		"$placed $((placed * 77))"
else
	bad "memory mapped right above a reservation is a root, not a thread's stack" \
		"no place right above a reservation was free: $(cat "$work/above_reservation.out" "$work/above_reservation.err")"
fi
if [ -x /usr/bin/python3 ]; then
	# Three runs: where ward's own mappings land (one at a glibc heap's
	# alignment, one below the arenas) changes from run to run.
	lost=0
	for run in 1 2 3; do
		"$ward" run --quiet -o "$work/py.pb.gz" -- /usr/bin/python3 -c \
			'import os; d = [bytearray(1000) for i in range(10000)]; os._exit(0)' >/dev/null 2>&1
		lost=$((lost + $("$ward" report "$work/py.pb.gz" | awk '/^stacks:/ { exit }
			$4 == "heap/definite" || $4 == "heap/indirect" { c += $3 } END { print c + 0 }')))
	done
	if [ "$lost" = 0 ]; then
		ok "python3 (pymalloc arenas hold its blocks): nothing lost, as valgrind says"
	else
		bad "python3 (pymalloc arenas hold its blocks): nothing lost, as valgrind says" "$lost blocks lost"
	fi
else
	bad "python3 (pymalloc arenas hold its blocks): nothing lost" "install it with: sudo apt-get install -y python3"
fi
if [ -x /usr/bin/python3 ]; then
	# python3 is built without frame pointers: the frame-pointer chain
	# runs through text and heap words, which must never become frames.
	WARD_STACK=fp "$ward" run --quiet -o "$work/pyfp.pb.gz" -- /usr/bin/python3 -c \
		'd = [{"k": i, "v": str(i)} for i in range(100000)]; import os; os._exit(0)' >/dev/null 2>&1
	stray=$("$ward" report "$work/pyfp.pb.gz" | grep -cE '^	0x[0-9a-f]+$')
	frames=$("$ward" report "$work/pyfp.pb.gz" | grep -c '^	')
	if [ "$stray" = 0 ] && [ "$frames" -gt 0 ]; then
		ok "WARD_STACK=fp on python3: no word that is not a return address becomes a frame"
	else
		bad "WARD_STACK=fp on python3: no word that is not a return address becomes a frame" \
			"$stray stray frames of $frames"
	fi
else
	bad "WARD_STACK=fp on python3" "install it with: sudo apt-get install -y python3"
fi
run_leaks sigwait
if grep -q "got signal" "$work/sigwait.out"; then
	bad "a thread in sigwait() never receives ward's signal" "$(cat "$work/sigwait.out")"
else
	ok "a thread in sigwait() never receives ward's signal"
fi
expect_site "every signal blocked, one thread in sigwait(): the heap is classified, the dropped block lost" \
	"$work/sigwait.pb.gz" dropped_by_main heap/definite "1 55"
expect_site "every signal blocked, one thread in sigwait(): its stack is a root" \
	"$work/sigwait.pb.gz" held_on_waiter_stack heap/reachable "1 99"
# A partial classification is noted in the profile; the report says so
# when the scan called a block lost, the one class it can have made wrong
# (not with --quiet, and not when nothing is lost: node's own sigwait
# thread had every `ward run --quiet node` print it).
"$ward" report "$work/sigwait.pb.gz" >"$work/sigwait.report" 2>&1
"$ward" run -o "$work/sigwait2.pb.gz" -- "$leaks" sigwait >/dev/null 2>"$work/sigwait2.err"
"$ward" run -o "$work/sigwait3.pb.gz" -- "$leaks" sigwait kept >/dev/null 2>"$work/sigwait3.err"
if grep -q "threads_unread 1" "$work/sigwait.report" &&
	! grep -q "classified without the registers" "$work/sigwait.err" &&
	grep -q "heap classified without the registers of 1 thread" "$work/sigwait2.err" &&
	! grep -q "classified without the registers" "$work/sigwait3.err" &&
	grep -q "ward: profile written" "$work/sigwait3.err"; then
	ok "a partial classification is noted, and said when it called a block lost"
else
	bad "a partial classification is noted, and said when it called a block lost" \
		"$(cat "$work/sigwait.report" "$work/sigwait.err" "$work/sigwait2.err" "$work/sigwait3.err")"
fi
run_leaks masked_busy
expect_site "a running thread that blocks every signal: the rest is classified all the same" \
	"$work/masked_busy.pb.gz" dropped_while_one_spins heap/definite "1 66"
"$ward" run -o "$work/masked_busy2.pb.gz" -- "$leaks" masked_busy >/dev/null 2>"$work/masked_busy2.err"
if grep -q "a running one's stack read whole" "$work/masked_busy2.err"; then
	ok "a classification without a running thread's registers says so"
else
	bad "a classification without a running thread's registers says so" "$(cat "$work/masked_busy2.err")"
fi
expect_site "... and what that thread's frames hold is still reachable" \
	"$work/masked_busy.pb.gz" held_while_spinning heap/reachable "1 77"
run_leaks keys
expect_site "a value in a thread's pthread key past the first 32 is reachable" "$work/keys.pb.gz" \
	held_in_key_39 heap/reachable "1 4242"
run_leaks exit_thread
expect_site "exit() from another thread: main's TLS is a root" "$work/exit_thread.pb.gz" \
	leak_main_tls heap/reachable "1 444"

# Threads still running at exit are stopped for the scan, and what their
# stacks hold is still reachable; a thread that blocks every signal cannot
# be stopped: asleep in a system call, its stack is read from where it
# sleeps (its registers are not, and the report says so).
run_leaks running_threads
expect_site "threads running at exit: their stacks are roots" \
	"$work/running_threads.pb.gz" held_by_thread heap/reachable "2 800"
expect_site "threads running at exit: what nobody holds is lost" \
	"$work/running_threads.pb.gz" lost_while_threads_run heap/definite "3 270"
# ... and the report shows where each is blocked now, beside where it
# was started.
got=$(blocked_frames "$work/running_threads.pb.gz" | sort -u)
if printf '%s\n' "$got" | grep -Eq '^held by running at exit\|(.*\|)?__read\|holder\|start_thread\|' &&
	[ "$(printf '%s\n' "$got" | wc -l)" = 1 ]; then
	ok "threads running at exit: the report shows where each is blocked"
else
	bad "threads running at exit: the report shows where each is blocked" "got '$got'" \
		"$("$ward" report "$work/running_threads.pb.gz" 2>&1 | grep -A8 '^thread')"
fi
# ... named as the stacks are, to the source line (the profile carries
# the addresses beside the names the traced process knew: before, the
# report showed "holder" and "libc.so.6+0x891f5").
got=$("$ward" report "$work/running_threads.pb.gz" 2>&1 |
	awk '/\[blocked now in:\]/ { b = 1; next } /\[started at:\]/ { b = 0 } b' | sort -u)
if printf '%s\n' "$got" | grep -q '^	  holder+0x[0-9a-f]* (leaks) leaks\.c:[0-9]*$' &&
	printf '%s\n' "$got" | grep -q '^	  start_thread[+ ]'; then
	ok "threads running at exit: where each is blocked is named to the source line"
else
	bad "threads running at exit: where each is blocked is named to the source line" "got '$got'"
fi
# ... counted once: all of a site's threads run at exit, so the site's
# acquisitions go with them (not "acquired 0" beside an empty sample).
got=$("$ward" report "$work/running_threads.pb.gz" 2>&1 | grep '^thread:')
if [ -n "$got" ] && ! printf '%s\n' "$got" | grep -qv '^thread: \([0-9]*\) live (acquired \1)$'; then
	ok "threads running at exit: each site's sample has its acquisitions"
else
	bad "threads running at exit: each site's sample has its acquisitions" "got '$got'"
fi
# A thread asleep at exit that ends once ward's signal cuts its sleep
# short: read before it could end, and shown blocked in its sleep.
run_leaks sleeper
status_is "a thread asleep at exit: the case ran" 0 $? "$(cat "$work/sleeper.err")"
expect_site "a thread asleep at exit that ends when woken: what it holds is still reachable" \
	"$work/sleeper.pb.gz" held_by_sleeper heap/reachable "1 222"
got=$("$ward" report "$work/sleeper.pb.gz" 2>&1 |
	awk '/\[blocked now in:\]/ { for (i = 0; i < 6; i++) { getline l; print l } }' | tr -d '\t ' | tr '\n' '|')
case "$got" in
*sleep*sleeper*) ok "a thread asleep at exit: the report shows it blocked in its sleep" ;;
*) bad "a thread asleep at exit: the report shows it blocked in its sleep" "got '$got'" ;;
esac
# ward's own endpoint thread is neither a leak nor in the scan's way.
"$ward" run --quiet --http 127.0.0.1:0 -o "$work/rt_http.pb.gz" -- "$leaks" running_threads \
	>/dev/null 2>"$work/rt_http.err"
expect_site "with the endpoint on, the scan still classifies" \
	"$work/rt_http.pb.gz" lost_while_threads_run heap/definite "3 270"
got=$("$ward" report "$work/rt_http.pb.gz" | sed -n 's/^ward: live: .*thread \([0-9]*\).*/\1/p')
if [ "$got" = 2 ]; then ok "ward's endpoint thread is not the program's"; else
	bad "ward's endpoint thread is not the program's" "threads: '$got'"; fi
run_leaks masked_threads
expect_site "a thread asleep with every signal blocked: classified all the same" \
	"$work/masked_threads.pb.gz" lost_while_threads_run heap/definite "3 270"
expect_site "a thread asleep with every signal blocked: its stack is a root" \
	"$work/masked_threads.pb.gz" held_by_thread heap/reachable "2 800"

# Thread-local storage is a root, and what the dynamic loader allocated for
# itself (threads' TLS vectors, the joined thread's kept by glibc's stack
# cache too) is not lost.
run_leaks tls
expect_site "what a __thread variable points to is still reachable" \
	"$work/tls.pb.gz" leak_tls_kept heap/reachable "1 333"
definite=$("$ward" report "$work/threads.pb.gz" |
	awk '/^stacks:/ { exit } $4 == "heap/definite" { c += $3 } END { print c + 0 }')
if [ "$definite" = 0 ]; then
	ok "threads: nothing of the loader's definitely lost"
else
	bad "threads: nothing of the loader's definitely lost" \
		"$definite blocks definitely lost" "$("$ward" report "$work/threads.pb.gz" | head -12)"
fi

# A snapshot signal writes profiles while the program runs.
"$ward" run --quiet --snapshot-signal USR2 -o "$work/snap.pb.gz" -- "$leaks" snapshot >/dev/null 2>&1
expect_site "a snapshot on SIGUSR2, mid-run" "$work/snap.pb.gz.snap1" \
	leak_snapshot_batch heap "500 50000"
expect_site "a second snapshot sees the second batch" "$work/snap.pb.gz.snap2" \
	leak_snapshot_batch heap "1000 100000"
# daemon(): the C library's ends the parent through an exit of its own,
# which no interposer sees: before, no profile ("ended without running its
# exit handlers") and what the parent lost before daemon() was never
# told. Now the parent's profile holds it, as valgrind reports it, and
# the daemon's comes as OUT.PID, in a session of its own, in /, its
# streams on /dev/null.
rm -f "$work/daemon.mark"
"$ward" run --quiet -o "$work/daemon.pb.gz" -- "$leaks" daemonize "$work/daemon.mark" \
	>"$work/daemon.out" 2>"$work/daemon.err"
st=$?
if [ "$st" = 0 ] && ! grep -q "no profile" "$work/daemon.err"; then
	ok "daemon(): the parent ends with its profile"
else
	bad "daemon(): the parent ends with its profile" "status $st" "$(cat "$work/daemon.err")"
fi
expect_site "... which holds what the parent lost before daemon()" \
	"$work/daemon.pb.gz" lost_before_daemon heap/definite "1 4242"
i=0
while [ "$i" -lt 100 ] && ! ls "$work"/daemon.pb.gz.[0-9]* >/dev/null 2>&1; do
	sleep 0.1
	i=$((i + 1))
done
set -- "$work"/daemon.pb.gz.[0-9]*
expect_site "... and the daemon's profile, what it lost" "$1" lost_in_daemon heap/definite "1 2424"
if [ "$(cat "$work/daemon.mark" 2>/dev/null)" = "own / /dev/null /dev/null /dev/null" ]; then
	ok "... the daemon in a session of its own, in /, its streams on /dev/null"
else
	bad "... the daemon in a session of its own, in /, its streams on /dev/null" \
		"$(cat "$work/daemon.mark" 2>&1)"
fi
# A child the program forked and left running writes its profile after
# ward run has reported: ward run says which processes of the run still
# run, and where each writes (before, nothing told of the child).
mkdir -p "$work/outlives"
"$ward" run -o "$work/outlives.pb.gz" -- "$leaks" outlives "$work/outlives" \
	>"$work/outlives.out" 2>"$work/outlives.err"
child=$(sed -n 's/^child \([0-9]*\)$/\1/p' "$work/outlives.out")
touch "$work/outlives/go"
if [ -n "$child" ] && grep -q "^ward: 1 process of the run still runs (pid $child): it writes its profile, $work/outlives.pb.gz.$child, when it ends$" "$work/outlives.err"; then
	ok "a child left running: ward run names it and where it writes"
else
	bad "a child left running: ward run names it and where it writes" "$(cat "$work/outlives.out" "$work/outlives.err")"
fi
i=0
while [ "$i" -lt 100 ] && ! [ -s "$work/outlives.pb.gz.$child" ]; do
	sleep 0.1
	i=$((i + 1))
done
expect_site "... and there the child's profile holds what it lost" \
	"$work/outlives.pb.gz.$child" lost_in_orphan heap/definite "1 4343"
# A program ward's library cannot be loaded into, a 32-bit one: where the
# kernel runs it, the line says why there is no profile; where it runs
# none, ward run says it cannot run it (before, execvp() handed it to
# /bin/sh as a script, and the report was the shell's).
printf 'void _start(void)\n{\n\t__asm__ volatile("movl $1, %%eax\\n\\txorl %%ebx, %%ebx\\n\\tint $0x80");\n}\n' \
	>"$work/tiny32.c"
if cc -m32 -nostdlib -static -fno-pie -no-pie -O1 -o "$work/tiny32" "$work/tiny32.c" 2>"$work/tiny32.cc"; then
	"$ward" run -o "$work/tiny32.pb.gz" -- "$work/tiny32" >"$work/tiny32.out" 2>"$work/tiny32.err"
	st=$?
	if { [ "$st" = 126 ] &&
		[ "$(cat "$work/tiny32.err")" = "ward: run: cannot run $work/tiny32: Exec format error: it is a 32-bit program (i386), which this kernel does not run" ]; } ||
		{ [ "$st" = 0 ] && grep -q "^ward: no profile from $work/tiny32: it is a 32-bit program (i386): ward's library, built for x86-64, cannot be loaded into it$" "$work/tiny32.err"; }; then
		ok "a 32-bit program: ward run says it cannot trace it, or cannot run it, and why"
	else
		bad "a 32-bit program: ward run says it cannot trace it, or cannot run it, and why" \
			"status $st" "$(cat "$work/tiny32.out" "$work/tiny32.err")"
	fi
else
	bad "a 32-bit program: ward run says it cannot trace it, or cannot run it, and why" \
		"cc -m32 -nostdlib -static failed: $(cat "$work/tiny32.cc")"
fi
# A program that executes another in its own process: the second's
# snapshots take the next numbers (before, its OUT.snap1 replaced the
# first's).
"$ward" run --quiet --snapshot-signal USR2 -o "$work/snapx.pb.gz" -- "$leaks" snapshot_exec >/dev/null 2>&1
expect_site "a snapshot, then the program executes another: the first's stays" \
	"$work/snapx.pb.gz.snap1" leak_before_exec heap "7 490"
expect_site "... and the second's is the next" "$work/snapx.pb.gz.snap2" \
	leak_after_exec heap "9 810"
# Sent to ward run's pid, it reaches the program; ward run goes on.
"$ward" run --quiet --snapshot-signal USR2 -o "$work/snapp.pb.gz" -- "$leaks" snapshot_via_parent \
	>/dev/null 2>"$work/snapp.err"
status_is "the snapshot signal sent to ward run: ward run goes on" 0 $? "$(cat "$work/snapp.err")"
expect_site "the snapshot signal sent to ward run reaches the program" \
	"$work/snapp.pb.gz.snap1" leak_snapshot_batch heap "500 50000"

# Sampled mode: estimates, scaled back, land near the truth for a big leak.
"$ward" run --quiet --sample 1024 -o "$work/sampled.pb.gz" -- "$leaks" malloc_loop >/dev/null 2>&1
est=$(site "$work/sampled.pb.gz" leak_malloc_loop heap | awk '{print $2}')
if [ "${est:-0}" -gt 24000 ] && [ "${est:-0}" -lt 96000 ]; then
	ok "sampled mode estimates 48000 bytes within 2x ($est)"
else
	bad "sampled mode estimates 48000 bytes within 2x" "got ${est:-nothing}"
fi

# The summary at exit, and --fail-on-leak.
"$ward" run -o "$work/s.pb.gz" -- "$leaks" malloc_loop >/dev/null 2>"$work/s.err"
if grep -q "leak_malloc_loop+0x" "$work/s.err" && grep -q "^  heap " "$work/s.err"; then
	ok "run prints the summary with sites"
else
	bad "run prints the summary with sites" "$(head -5 "$work/s.err")"
fi
"$ward" run --quiet --fail-on-leak -o "$work/f.pb.gz" -- "$leaks" malloc_loop >/dev/null 2>&1
st=$?
if [ "$st" = 1 ]; then ok "--fail-on-leak exits 1"; else bad "--fail-on-leak exits 1" "status $st"; fi
# A clean program's stdout buffer is still reachable, not a leak.
"$ward" run --quiet --fail-on-leak -o "$work/f.pb.gz" -- sh -c 'echo printed' >/dev/null 2>"$work/e1"
status_is "--fail-on-leak passes a clean program (what is reachable is no leak)" 0 $? "$(cat "$work/e1")"
"$ward" run --quiet --fail-on-leak=reachable -o "$work/f.pb.gz" -- "$leaks" indirect >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 1 ] && grep -q "fail-on-leak=reachable" "$work/e1"; then
	ok "--fail-on-leak=reachable counts what is still reachable"
else
	bad "--fail-on-leak=reachable counts what is still reachable" "status $st: $(cat "$work/e1")"
fi

# Errors are one clear line and a non-zero status.
"$ward" run -- /nonexistent/program >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 127 ] && grep -q "cannot run /nonexistent/program" "$work/e1"; then
	ok "a missing program is one clear line"
else
	bad "a missing program is one clear line" "status $st: $(cat "$work/e1")"
fi
"$ward" run -- /etc/passwd >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 126 ] && grep -q "cannot run /etc/passwd: Permission denied: /etc/passwd has no execute permission" "$work/e1"; then
	ok "... and one that is there but cannot be run, status 126 as a shell gives, and why"
else
	bad "... and one that is there but cannot be run, status 126 as a shell gives, and why" "status $st: $(cat "$work/e1")"
fi
mkdir -p "$work/bin/a_dir"
PATH="$work/bin:$PATH" "$ward" run -- a_dir >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 126 ] && grep -q "cannot run a_dir: Permission denied: $work/bin/a_dir is a directory" "$work/e1"; then
	ok "... and a directory found on PATH: it says so"
else
	bad "... and a directory found on PATH: it says so" "status $st: $(cat "$work/e1")"
fi
printf 'not a profile' >"$work/junk.pb.gz"
"$ward" report "$work/junk.pb.gz" >/dev/null 2>"$work/e2"
st=$?
if [ "$st" = 2 ] && [ "$(wc -l <"$work/e2")" = 1 ] && grep -q "junk.pb.gz" "$work/e2"; then
	ok "a malformed profile is refused with its reason"
else
	bad "a malformed profile is refused with its reason" "status $st: $(cat "$work/e2")"
fi
if grep -q "not a pprof profile" "$work/e2"; then
	ok "a file that is not a profile says so"
else
	bad "a file that is not a profile says so" "$(cat "$work/e2")"
fi
"$ward" report "$work/malloc_loop.pb.gz" >/dev/full 2>"$work/e4"
st=$?
if [ "$st" = 2 ] && grep -q "cannot write the output" "$work/e4"; then
	ok "a report that cannot be written fails"
else
	bad "a report that cannot be written fails" "status $st: $(cat "$work/e4")"
fi
"$ward" report "$work/malloc_loop.pb.gz" --top >/dev/null 2>"$work/e4"
st1=$?
"$ward" run -o >/dev/null 2>"$work/e5"
st2=$?
if [ "$st1" = 2 ] && [ "$st2" = 2 ] && grep -q -- "--top needs a value" "$work/e4" &&
	grep -q -- "-o needs a value" "$work/e5"; then
	ok "an option missing its value says so"
else
	bad "an option missing its value says so" "$(cat "$work/e4" "$work/e5")"
fi
"$ward" run -o "" -- "$leaks" malloc_loop >"$work/o6" 2>"$work/e6"
st=$?
if [ "$st" = 2 ] && grep -q -- "^ward: run: -o needs a value, not an empty one$" "$work/e6" &&
	! [ -s "$work/o6" ]; then
	ok "an empty value is refused by name, before the program runs"
else
	bad "an empty value is refused by name, before the program runs" "status $st" "$(cat "$work/e6")"
fi
if "$ward" --version | grep -q "^ward [0-9]"; then ok "--version"; else bad "--version"; fi
"$ward" run --bogus -- true >/dev/null 2>"$work/e3"
if [ $? = 2 ] && grep -q "unknown option '--bogus'" "$work/e3"; then
	ok "a bad option is one clear line"
else
	bad "a bad option is one clear line" "$(cat "$work/e3")"
fi

# diff and flame.
"$ward" diff "$work/realloc_chain.pb.gz" "$work/malloc_loop.pb.gz" >"$work/diff.txt" 2>&1
if grep -q "+48000 bytes    +1000  heap" "$work/diff.txt" && grep -q "leak_malloc_loop" "$work/diff.txt"; then
	ok "diff matches sites across runs by name"
else
	bad "diff matches sites across runs by name" "$(head -8 "$work/diff.txt")"
fi
run_leaks malloc_loop
cp "$work/malloc_loop.pb.gz" "$work/again.pb.gz"
run_leaks malloc_loop
"$ward" diff "$work/again.pb.gz" "$work/malloc_loop.pb.gz" >"$work/diff0.txt" 2>&1
if grep -q "at 0 sites" "$work/diff0.txt"; then
	ok "two runs of the same program diff to nothing"
else
	bad "two runs of the same program diff to nothing" "$(head -12 "$work/diff0.txt")"
fi
"$ward" run --quiet -o "$work/extra.pb.gz" -- "$leaks" malloc_loop extra >/dev/null 2>&1
"$ward" diff "$work/malloc_loop.pb.gz" "$work/extra.pb.gz" >"$work/diff1.txt" 2>&1
if grep -q "at 1 sites" "$work/diff1.txt" && grep -q "+999 bytes       +1  heap" "$work/diff1.txt" &&
	grep -q "leak_extra" "$work/diff1.txt"; then
	ok "a run with one more leak diffs to exactly that"
else
	bad "a run with one more leak diffs to exactly that" "$(head -12 "$work/diff1.txt")"
fi
"$ward" flame "$work/malloc_loop.pb.gz" -o "$work/flame.svg"
if grep -q "<svg" "$work/flame.svg" && grep -q "leak_malloc_loop" "$work/flame.svg" &&
	grep -q "function zoom" "$work/flame.svg" && grep -q "Reset zoom" "$work/flame.svg" &&
	grep -q 'data-n="leak_malloc_loop (leaks)"' "$work/flame.svg"; then
	ok "flame writes a self-contained SVG"
else
	bad "flame writes a self-contained SVG"
fi

"$ward" flame "$work/malloc_loop.pb.gz" --folded -o "$work/folded.txt"
if grep -q ";leak_malloc_loop (leaks) 48000$" "$work/folded.txt" && ! grep -q "0x7f" "$work/folded.txt"; then
	ok "flame --folded writes folded stacks, frames without names by object and offset"
else
	bad "flame --folded writes folded stacks, frames without names by object and offset" "$(head -3 "$work/folded.txt")"
fi
# -o - is standard output, a stream into flamegraph.pl or inferno; the
# same lines as the file's.
"$ward" flame "$work/malloc_loop.pb.gz" --folded -o - | cat >"$work/folded.out"
if [ -s "$work/folded.out" ] && cmp -s "$work/folded.txt" "$work/folded.out" && [ ! -e ./- ]; then
	ok "flame -o - writes to standard output"
else
	bad "flame -o - writes to standard output" "$(head -3 "$work/folded.out")"
fi
# A profile replaces a profile, never another file: not the program's
# binary named by mistake, not someone's notes, not the profile a drawing
# is made from. ward run refuses before the program runs; the tracer
# alone leaves the file and says why in one line.
printf 'notes\n' >"$work/notes.txt"
cp "$leaks" "$work/leaks_copy"
"$ward" run -o "$work/notes.txt" -- "$leaks" malloc_loop >"$work/notes.out" 2>"$work/notes.err"
st=$?
"$ward" run -o "$work/leaks_copy" -- "$work/leaks_copy" malloc_loop >>"$work/notes.out" 2>>"$work/notes.err"
st2=$?
if [ "$st" = 2 ] && [ "$st2" = 2 ] && [ "$(cat "$work/notes.txt")" = notes ] && cmp -s "$leaks" "$work/leaks_copy" &&
	! [ -s "$work/notes.out" ] &&
	[ "$(grep -c "^ward: run: cannot write the profile to .*: it exists and is not a profile" "$work/notes.err")" = 2 ]; then
	ok "ward run -o naming a file that is not a profile (notes, the program itself): refused before the program runs"
else
	bad "ward run -o naming a file that is not a profile (notes, the program itself): refused before the program runs" \
		"status $st $st2: $(cat "$work/notes.out" "$work/notes.err")"
fi
WARD_OUTPUT="$work/notes.txt" WARD_SUMMARY=none LD_PRELOAD="$build/libward_preload.so" "$leaks" malloc_loop >"$work/notes.out" 2>"$work/notes.err"
st=$?
if [ "$st" = 0 ] && [ "$(cat "$work/notes.txt")" = notes ] &&
	[ "$(grep -c "^ward: no profile: cannot write $work/notes.txt: it exists and is not a profile" "$work/notes.err")" = 1 ]; then
	ok "... under the tracer alone: the file is left as it was, and one line says why"
else
	bad "... under the tracer alone: the file is left as it was, and one line says why" "status $st: $(cat "$work/notes.err")"
fi
cp "$work/malloc_loop.pb.gz" "$work/drawn.pb.gz"
"$ward" flame "$work/drawn.pb.gz" -o "$work/drawn.pb.gz" 2>"$work/drawn.err"
st=$?
"$ward" flame "$work/drawn.pb.gz" -o "$work/malloc_loop.pb.gz" 2>>"$work/drawn.err"
st2=$?
if [ "$st" = 2 ] && [ "$st2" = 2 ] && cmp -s "$work/drawn.pb.gz" "$work/malloc_loop.pb.gz" &&
	[ "$(grep -c "it is a profile, which the drawing would replace" "$work/drawn.err")" = 2 ]; then
	ok "ward flame -o naming a profile (the one drawn, or another): refused, the profile kept"
else
	bad "ward flame -o naming a profile (the one drawn, or another): refused, the profile kept" "status $st $st2: $(cat "$work/drawn.err")"
fi

# The real go tool pprof reads the preload's profile.
if need go golang-go; then
	top=$(HOME=${HOME:-$work} go tool pprof -top -sample_index=inuse_space \
		"$leaks" "$work/malloc_loop.pb.gz" 2>&1)
	if echo "$top" | grep -q "leak_malloc_loop" && echo "$top" | grep -q "46.88kB 92"; then
		ok "go tool pprof names the leak in the preload's profile"
	else
		bad "go tool pprof names the leak in the preload's profile" "$top"
	fi
	lost=$(HOME=${HOME:-$work} go tool pprof -top -sample_index=inuse_space \
		-tagfocus=leak=definite "$leaks" "$work/indirect.pb.gz" 2>&1)
	if echo "$lost" | grep -q "leak_indirect" && ! echo "$lost" | grep -q "leak_kept"; then
		ok "go tool pprof -tagfocus=leak=definite keeps only the lost"
	else
		bad "go tool pprof -tagfocus=leak=definite keeps only the lost" "$lost"
	fi
fi

# Go's own profiles: a heap profile reads (names from the binary), a CPU
# profile is refused with the reason.
if need go golang-go; then
	mkdir -p "$work/go"
	if (cd "$(dirname "$0")/goprof" && HOME=${HOME:-$work} GOCACHE="$work/gocache" GOFLAGS=-mod=mod \
		go build -o "$work/go/goprof" main.go) >"$work/go/build.log" 2>&1 &&
		"$work/go/goprof" "$work/go" >/dev/null 2>&1; then
		"$ward" report "$work/go/cpu.pb.gz" >/dev/null 2>"$work/e1"
		st=$?
		if [ "$st" = 2 ] && grep -q "not a heap profile: .*its values: samples, cpu" "$work/e1"; then
			ok "a Go CPU profile is refused: not a heap profile"
		else
			bad "a Go CPU profile is refused: not a heap profile" "status $st: $(cat "$work/e1")"
		fi
		if "$ward" report "$work/go/heap.pb.gz" >"$work/go/heap.txt" 2>&1 &&
			grep -q "leakyAllocations" "$work/go/heap.txt"; then
			ok "a Go heap profile reads, with Go's function names"
		else
			bad "a Go heap profile reads, with Go's function names" "$(head -5 "$work/go/heap.txt")"
		fi
	else
		bad "a Go CPU profile is refused: not a heap profile" "$(cat "$work/go/build.log")"
		bad "a Go heap profile reads, with Go's function names"
	fi
fi

# valgrind agrees on the heap.
if need valgrind valgrind; then
	vg=$(valgrind --leak-check=full "$leaks" malloc_loop 2>&1 | grep "definitely lost:" |
		sed 's/.*definitely lost: //; s/,//g')
	if [ "$vg" = "48000 bytes in 1000 blocks" ]; then
		ok "valgrind agrees: 48000 bytes in 1000 blocks"
	else
		bad "valgrind agrees: 48000 bytes in 1000 blocks" "valgrind says '$vg'"
	fi
fi

# ---- 2. The tracer never harms the program, never loses a run in silence ---

# -o is written only as a regular file or a new path: a FIFO (a device,
# as root) is refused before the program runs, and stays what it was.
mkfifo "$work/fifo"
"$ward" run --quiet -o "$work/fifo" -- "$leaks" malloc_loop >"$work/o1" 2>"$work/e1"
st=$?
if [ "$st" = 2 ] && [ -p "$work/fifo" ] && grep -q "not a regular file" "$work/e1" &&
	! grep -q "done" "$work/o1"; then
	ok "-o naming a FIFO is refused before the program runs"
else
	bad "-o naming a FIFO is refused before the program runs" "status $st: $(cat "$work/e1")"
fi
ln -s "$work/target.pb.gz" "$work/link.pb.gz"
cp "$work/files.pb.gz" "$work/target.pb.gz" # an older profile
run_leaks_to() { # FILE SCENARIO [ARGS]: with snapshots on SIGUSR2
	out=$1
	shift
	"$ward" run --quiet --snapshot-signal USR2 -o "$out" -- "$leaks" "$@" \
		>"$work/$1.out" 2>"$work/$1.err"
}
run_leaks_to "$work/link.pb.gz" malloc_loop
if [ -L "$work/link.pb.gz" ] && [ "$(site "$work/target.pb.gz" leak_malloc_loop heap)" = "1000 48000" ]; then
	ok "-o naming a symbolic link replaces the file it names, not the link"
else
	bad "-o naming a symbolic link replaces the file it names, not the link" "$(ls -l "$work/link.pb.gz")"
fi

# The summary shows the ten rows holding the most: their own totals are
# headed as theirs, not the program's, and a row's share is of all the
# program holds, as `ward report` gives it (it was of the ten rows alone).
"$ward" run -o "$work/twelve.pb.gz" -- "$leaks" twelve_sites >/dev/null 2>"$work/twelve.err"
"$ward" report "$work/twelve.pb.gz" >"$work/twelve.report"
"$ward" report --top 3 "$work/twelve.pb.gz" >"$work/twelve.top"
share() { # FILE: the share of the 2100-byte row
	awk '$1 == 2100 && $4 ~ /^heap/ { print $2; exit }' "$1"
}
if grep -q "^ward: the 10 sites holding the most: heap 10 (16500 bytes)" "$work/twelve.err" &&
	! grep -q "^ward: live: heap 10 " "$work/twelve.err" &&
	[ -n "$(share "$work/twelve.err")" ] &&
	[ "$(share "$work/twelve.err")" = "$(share "$work/twelve.report")" ] &&
	grep -q "^ward: the 3 sites holding the most: heap 3 (6000 bytes)" "$work/twelve.top" &&
	[ "$(share "$work/twelve.top")" = "$(share "$work/twelve.report")" ]; then
	ok "the summary's and --top's rows are headed as theirs, each row's share of the whole"
else
	bad "the summary's and --top's rows are headed as theirs, each row's share of the whole" \
		"$(cat "$work/twelve.err"; head -5 "$work/twelve.report" "$work/twelve.top")"
fi

# A program in a seccomp sandbox that kills it for any call it does not
# allow ends as it would alone: ward makes no call of its own once the
# filter is in (its exit asked for its pid: killed by SIGSYS), and ward
# run says why there is no profile; a fault in the sandbox ends it by
# SIGSEGV, as alone. So does one whose only thread then ends by
# syscall(SYS_exit), which ward answers elsewhere by writing the profile.
for how in prctl syscall exit; do
	run_leaks sandbox "$how"
	st=$?
	if [ "$st" = 0 ] && grep -q "^done sandbox" "$work/sandbox.out" &&
		grep -q "no profile from .*: it put itself in a seccomp sandbox" "$work/sandbox.err"; then
		ok "a seccomp sandbox ($how): the program ends as alone, and ward says why no profile"
	else
		bad "a seccomp sandbox ($how): the program ends as alone, and ward says why no profile" \
			"status $st: $(cat "$work/sandbox.out" "$work/sandbox.err")"
	fi
done
"$leaks" sandbox segv >/dev/null 2>&1
plain=$?
run_leaks sandbox segv
status_is "a fault in a seccomp sandbox ends the program as alone" "$plain" $? \
	"$(cat "$work/sandbox.err")"

# A link to an open descriptor (/dev/stdout is /proc/self/fd/1) names the
# file behind it: replacing that file took it from the program writing
# to it. Refused by ward run before the program runs, through a link of
# the user's too, and by the tracer alone at exit; the file keeps all it
# had and all the program printed.
echo kept >"$work/stdout.txt"
"$ward" run --quiet -o /dev/stdout -- "$leaks" malloc_loop >>"$work/stdout.txt" 2>"$work/e1"
st=$?
ln -s /dev/fd/1 "$work/fd1.pb.gz"
"$ward" run --quiet -o "$work/fd1.pb.gz" -- "$leaks" malloc_loop >>"$work/stdout.txt" 2>"$work/e2"
st2=$?
WARD_OUTPUT=/dev/stdout LD_PRELOAD="$build/libward_preload.so" WARD_SUMMARY=none \
	"$leaks" malloc_loop >>"$work/stdout.txt" 2>"$work/e3"
if [ "$st" = 2 ] && [ "$st2" = 2 ] && grep -q "names an open descriptor" "$work/e1" &&
	grep -q "names an open descriptor" "$work/e2" && grep -q "names an open descriptor" "$work/e3" &&
	[ "$(cat "$work/stdout.txt")" = "$(printf 'kept\ndone malloc_loop')" ]; then
	ok "a profile path naming an open descriptor is refused and its file kept"
else
	bad "a profile path naming an open descriptor is refused and its file kept" \
		"status $st, $st2: $(cat "$work/e1" "$work/e2" "$work/e3"); file: $(head -c 60 "$work/stdout.txt" | od -c | head -2)"
fi

# The snapshot signal is only one that cannot loop: USR1, USR2, real-time.
"$ward" run --quiet --snapshot-signal 11 -o "$work/sig.pb.gz" -- true >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 2 ] && grep -q "snapshot-signal takes USR1, USR2" "$work/e1"; then
	ok "a fault signal is refused as the snapshot signal"
else
	bad "a fault signal is refused as the snapshot signal" "status $st: $(cat "$work/e1")"
fi
WARD_SNAPSHOT_SIGNAL=SEGV WARD_OUTPUT="$work/sig2.pb.gz" LD_PRELOAD="$build/libward_preload.so" \
	WARD_SUMMARY=none "$leaks" malloc_loop >/dev/null 2>"$work/e1"
if grep -q "no snapshots: WARD_SNAPSHOT_SIGNAL=SEGV" "$work/e1"; then
	ok "WARD_SNAPSHOT_SIGNAL=SEGV is refused in one line"
else
	bad "WARD_SNAPSHOT_SIGNAL=SEGV is refused in one line" "$(cat "$work/e1")"
fi

# A variable set to a value it does not take is refused in one line that
# names it, and the run records as if it were unset: a negative sample
# mean is no huge one, a misspelt kind list no request to record nothing.
for kv in WARD_SAMPLE=-5 WARD_SAMPLE=12abc WARD_KINDS=heap,fds WARD_KINDS=, \
	WARD_STACK=frames WARD_STACK_DEPTH=0 WARD_SCAN=maybe \
	WARD_SUMMARY_FORMAT=xml WARD_FOLLOW_FORKS=no WARD_OUTPUT_PID=x; do
	rm -f "$work/env.pb.gz"
	env "$kv" WARD_OUTPUT="$work/env.pb.gz" LD_PRELOAD="$build/libward_preload.so" \
		WARD_SUMMARY=none "$leaks" malloc_loop >/dev/null 2>"$work/e1"
	said=$(grep -c "^ward: ${kv%%=*}=" "$work/e1")
	got=$(site "$work/env.pb.gz" leak_malloc_loop heap)
	if [ "$said" = 1 ] && [ "$(wc -l <"$work/e1")" = 1 ] && [ "$got" = "1000 48000" ]; then
		ok "$kv is refused in one line, and the run records as without it"
	else
		bad "$kv is refused in one line, and the run records as without it" \
			"recorded '$got'" "$(cat "$work/e1")"
	fi
done

# A program that closes every descriptor and opens its own files on the
# freed numbers: a snapshot writes nothing into them.
mkdir -p "$work/own"
"$ward" run --quiet --snapshot-signal USR2 -o "$work/closeall.pb.gz" -- "$leaks" closeall "$work/own" \
	>"$work/closeall.out" 2>&1
status_is "a snapshot never writes into the program's descriptors" 0 $? "$(cat "$work/closeall.out")"
expect_site "a snapshot is written after the program closed every descriptor" \
	"$work/closeall.pb.gz.snap1" leak_closeall fd "16 0"

# Who holds it: the path from a root to each still reachable block of the
# sites --why names, every kind of root named.
"$ward" run --quiet --why why_target_ -o "$work/why.pb.gz" -- "$leaks" why >/dev/null 2>"$work/why.err"
why_line() { grep "acquired at $1+" "$work/why.err" | head -1; }
case $(why_line why_target_global) in
*"): global why_cache+0x10 (leaks) → block 0x"*" (16 bytes, acquired at why_middle+0xe (leaks)) → +0x8 → the block")
	ok "who holds it: a global, through a block of its own" ;;
*) bad "who holds it: a global, through a block of its own" "$(cat "$work/why.err")" ;;
esac
case $(why_line why_target_stack) in
*"): stack of thread "*", in why_stack_holder+"*" (leaks) → the block")
	ok "who holds it: another thread's stack, in the function whose frame holds it" ;;
*) bad "who holds it: another thread's stack, in the function whose frame holds it" "$(cat "$work/why.err")" ;;
esac
case $(why_line why_target_tls) in
*"): thread-local storage of the exiting thread → the block") ok "who holds it: thread-local storage" ;;
*) bad "who holds it: thread-local storage" "$(cat "$work/why.err")" ;;
esac
case $(why_line why_target_register) in
*"): register r13 of thread "*" → the block") ok "who holds it: a register of a running thread" ;;
*) bad "who holds it: a register of a running thread" "$(cat "$work/why.err")" ;;
esac
# A running thread's vector registers are roots too: a block only xmm0
# holds is still reachable, and named so (LeakSanitizer's own test;
# before, it read as definitely lost).
"$ward" run --quiet --why held_in_xmm -o "$work/vector_held.pb.gz" -- "$leaks" vector_held \
	>"$work/vector_held.out" 2>"$work/vector_held.err"
expect_site "a block only a running thread's xmm0 holds is still reachable" \
	"$work/vector_held.pb.gz" held_in_xmm heap/reachable "1 1337"
if grep -q "(1337 bytes, acquired at held_in_xmm+0x[0-9a-f]* (leaks)): register xmm0 of thread [0-9]* → the block$" "$work/vector_held.err"; then
	ok "who holds it: a vector register of a running thread"
else
	bad "who holds it: a vector register of a running thread" "$(cat "$work/vector_held.err")"
fi
# Memory the program takes by moving the break itself (sbrk, brk) is its
# own, read as roots as valgrind reads it (before, it lay in [heap], left
# out as malloc's, and what only it held read as definitely lost).
run_leaks own_break
expect_site "what only memory the program took with sbrk() holds is still reachable" \
	"$work/own_break.pb.gz" held_in_sbrk heap/reachable "1 555"
expect_site "... and with brk()" "$work/own_break.pb.gz" held_in_brk heap/reachable "1 556"
# A file the program maps shared and writable is its memory too, in the
# pages it touched, as valgrind reads it (before, such a mapping was left
# out, and what only it held read as definitely lost).
run_leaks file_shared "$work"
expect_site "what only a file's shared mapping holds is still reachable" \
	"$work/file_shared.pb.gz" held_in_file heap/reachable "1 557"
# The profile marks each still reachable block's kind of root.
roots=$("$ward" report "$work/why.pb.gz" | awk '/^stacks:/ { exit }
	/heap\/reachable/ && /why_target_/ { sub(/\+.*/, "", $5); print $5, $NF }' | sort | tr '\n' ' ')
if [ "$roots" = "why_target_global global] why_target_register register] why_target_stack stack] why_target_tls tls] " ]; then
	ok "the report marks a reachable block's root: global, register, stack, TLS"
else
	bad "the report marks a reachable block's root: global, register, stack, TLS" "$roots"
fi
if command -v go >/dev/null 2>&1; then
	focus=$(HOME=${HOME:-$work} go tool pprof -top -tagfocus=root=stack "$leaks" "$work/why.pb.gz" 2>&1)
	targets=$(printf '%s\n' "$focus" | grep -o 'why_target_[a-z]*' | sort -u | tr '\n' ' ')
	if [ "$targets" = "why_target_stack " ]; then
		ok "go tool pprof -tagfocus=root=stack keeps only what a stack holds"
	else
		bad "go tool pprof -tagfocus=root=stack keeps only what a stack holds" "$focus"
	fi
else
	bad "go tool pprof -tagfocus=root=stack keeps only what a stack holds" "go is missing: sudo apt-get install -y golang-go"
fi
# What ward was asked at start holds when the program clears its
# environment before it ends.
"$ward" run --quiet --why why_target_envless -o "$work/clearenv.pb.gz" -- "$leaks" clearenv >/dev/null 2>"$work/clearenv.err"
case $(grep "acquired at why_target_envless+" "$work/clearenv.err") in
*"): global envless_held (leaks) → the block")
	ok "who holds it: asked at start, told at exit though the program cleared its environment" ;;
*) bad "who holds it: asked at start, told at exit though the program cleared its environment" "$(cat "$work/clearenv.err")" ;;
esac
"$ward" run --quiet --why leak_malloc_loop -o "$work/why2.pb.gz" -- "$leaks" malloc_loop >/dev/null 2>"$work/why2.err"
if grep -q "who holds: no block still reachable at a site matching 'leak_malloc_loop' (a lost block has no holder)" "$work/why2.err"; then
	ok "who holds it: a lost block has no holder, and ward says so"
else
	bad "who holds it: a lost block has no holder, and ward says so" "$(cat "$work/why2.err")"
fi

# The ghost reference (examples/ghost_reference.c): the finalizers that
# never ran, and the global slots that hold their sessions.
"$build/ghost_reference" >"$work/ghost.out" 2>&1
if grep -q '^sessions opened 3, finalized 1$' "$work/ghost.out" &&
	[ "$(grep -c 'who holds ref 0x.*acquired at open_session+.*): global session_cache+0x\(8\|10\) (ghost_reference) → the block$' "$work/ghost.out")" = 2 ]; then
	ok "ward_who_holds names the global cache slots that keep two finalizers from running"
else
	bad "ward_who_holds names the global cache slots that keep two finalizers from running" "$(cat "$work/ghost.out")"
fi
"$build/ghost_reference" fixed >"$work/ghost2.out" 2>&1
if grep -q '^sessions opened 3, finalized 3$' "$work/ghost2.out" && grep -q '^no session is held$' "$work/ghost2.out"; then
	ok "with the cache cleared every finalizer runs and nothing holds a session"
else
	bad "with the cache cleared every finalizer runs and nothing holds a session" "$(cat "$work/ghost2.out")"
fi

# A cycle of refs nothing reaches (examples/ref_cycle.c): reported as one,
# every member with its site; with the back link weak, no cycle.
"$build/ref_cycle" >"$work/cycle.out" 2>&1
if grep -q '^finalized: 0 of 3$' "$work/cycle.out" &&
	grep -q '^ward: a cycle of 3 refs that nothing reaches, so none is ever finalized: ref 0x[0-9a-f]* (24 bytes, acquired at node_new+.*) → +0x8 → ref .* → +0x8 → ref .* → +0x8 → back to ref 0x' "$work/cycle.out" &&
	[ "$(grep -o 'acquired at node_new+' "$work/cycle.out" | wc -l)" = 3 ]; then
	ok "a three-ref cycle is reported as a cycle, every member with its site"
else
	bad "a three-ref cycle is reported as a cycle, every member with its site" "$(cat "$work/cycle.out")"
fi
"$build/ref_cycle" broken >"$work/cycle2.out" 2>&1
if grep -q '^finalized: 3 of 3$' "$work/cycle2.out" && grep -q '^no cycle$' "$work/cycle2.out"; then
	ok "with the back link weak, all three are finalized and no cycle is reported"
else
	bad "with the back link weak, all three are finalized and no cycle is reported" "$(cat "$work/cycle2.out")"
fi

# A signal handler that allocates, signalled thousands of times while
# ward records descriptors: it never deadlocks on a lock ward holds (one
# run in three did), and what it allocates is recorded (16 kept live).
# Three runs, each bounded.
hung=0 miscount=""
for i in 1 2 3; do
	timeout 60 "$ward" run --quiet -o "$work/handler.pb.gz" -- "$leaks" handler \
		>"$work/handler.out" 2>&1 || hung=$((hung + 1))
	got=$(site "$work/handler.pb.gz" allocated_in_handler heap)
	[ "$got" = "16 384" ] || miscount="$miscount run $i: '$got'"
done
if [ "$hung" = 0 ]; then ok "a handler that allocates runs after ward's bookkeeping, never inside it"; else
	bad "a handler that allocates runs after ward's bookkeeping, never inside it" "$hung of 3 runs hung or failed" "$(cat "$work/handler.out")"; fi
if [ -z "$miscount" ]; then ok "what a signal handler allocates and frees is recorded"; else
	bad "what a signal handler allocates and frees is recorded" "$miscount"; fi

# Another allocator in the process: every block goes back to its own.
for lib in jemalloc.so.2 mimalloc.so.2; do
	path=/usr/lib/x86_64-linux-gnu/lib$lib
	if [ ! -f "$path" ]; then
		bad "under $lib" "missing: sudo apt-get install -y libjemalloc2 libmimalloc2.0"
		bad "under $lib: the heap is traced"
		continue
	fi
	LD_PRELOAD=$path "$ward" run --quiet -o "$work/$lib.pb.gz" -- "$leaks" usable >"$work/alloc.out" 2>&1
	status_is "under $lib: malloc_usable_size and a failed realloc" 0 $? "$(cat "$work/alloc.out")"
	expect_site "under $lib: the heap is traced" "$work/$lib.pb.gz" leak_usable heap "10 1000"
done
"$ward" run --quiet -o "$work/own.pb.gz" -- "$build/ownmalloc" >"$work/own.out" 2>&1
st=$?
if [ "$st" = 0 ] && grep -q "^own malloc: 1000 blocks" "$work/own.out"; then
	ok "a program with its own malloc runs as it does alone"
else
	bad "a program with its own malloc runs as it does alone" "status $st" "$(cat "$work/own.out")"
fi
if grep -q "^ward: heap not traced: malloc is defined by .*/ownmalloc, ahead of ward's" "$work/own.out"; then
	ok "... and ward says it sees none of that heap, not that none is live"
else
	bad "... and ward says it sees none of that heap, not that none is live" "$(cat "$work/own.out")"
fi
# An executable built without PIE that takes malloc's address has "malloc"
# name its PLT entry (python3 as Debian builds it): no malloc of its own.
printf '#include <stdlib.h>\nvoid *(*volatile alloc)(size_t);\nvoid *volatile kept;\nint main(void) { alloc = malloc; kept = alloc(77); kept = 0; return 0; }\n' \
	>"$work/nopie.c"
cc -O0 -no-pie -fno-pie -o "$work/nopie" "$work/nopie.c"
"$ward" run --quiet -o "$work/nopie.pb.gz" -- "$work/nopie" 2>"$work/nopie.err"
if grep -q "heap not traced" "$work/nopie.err"; then
	bad "a program without PIE that takes malloc's address is traced, not said to have its own" "$(cat "$work/nopie.err")"
else
	expect_site "a program without PIE that takes malloc's address is traced, not said to have its own" \
		"$work/nopie.pb.gz" main heap/definite "1 77"
fi

# Built without debug information, two calls in one function are two
# rows: a frame with no source line keeps its offset.
printf '#include <stdlib.h>\nvoid *volatile a, *volatile b;\nint main(void) { a = malloc(11); b = malloc(22); return 0; }\n' \
	>"$work/nolines.c"
cc -O0 -g0 -o "$work/nolines" "$work/nolines.c"
"$ward" run --quiet -o "$work/nolines.pb.gz" -- "$work/nolines" 2>"$work/nolines.err"
"$ward" report "$work/nolines.pb.gz" >"$work/nolines.txt" 2>&1
if grep -q "^ *11 .* 1  heap/reachable main+0x[0-9a-f]* (nolines)" "$work/nolines.txt" &&
	grep -q "^ *22 .* 1  heap/reachable main+0x[0-9a-f]* (nolines)" "$work/nolines.txt"; then
	ok "without debug information, two calls in one function are two rows"
else
	bad "without debug information, two calls in one function are two rows" "$(cat "$work/nolines.txt")"
fi

# A vfork() child whose exec fails: the parent keeps its books.
run_leaks vfork
expect_site "after a vfork child's _exit, the parent's leaks are still recorded" \
	"$work/vfork.pb.gz" leak_after_vfork heap "10 200"

# Children that share the program's memory, a vfork() one and a
# clone(CLONE_VM | CLONE_VFORK) one, have descriptor tables of their own:
# their dup2, open, close and close_range are not the parent's. Before,
# they took the parent's two kept descriptors off its books (and Python's
# subprocess module, whose vfork() child closes every descriptor above 2,
# hid every descriptor a Python program leaked).
fds_of() { # FILE: the descriptors in the report's table
	"$ward" report "$1" | awk '/^stacks:/ { exit } $4 == "fd" { n += $3 } END { print n + 0 }'
}
for how in exec exit; do
	run_leaks vfork_fds $how
	st=$? want=0
	[ $how = exit ] && want=7
	if [ "$st" = 0 ] && grep -q "^child 0: status $want$" "$work/vfork_fds.out" &&
		grep -q "^child 1: status $want$" "$work/vfork_fds.out"; then
		expect_site "descriptors kept across vfork and clone children ($how): the parent's two are its leaks" \
			"$work/vfork_fds.pb.gz" kept_across_vfork fd "2 0"
		got=$(fds_of "$work/vfork_fds.pb.gz")
		if [ "$got" = 2 ]; then
			ok "... and nothing the children opened or duplicated ($how)"
		else
			bad "... and nothing the children opened or duplicated ($how)" "$got descriptors in all"
		fi
	else
		bad "descriptors kept across vfork and clone children ($how): the parent's two are its leaks" \
			"status $st" "$(cat "$work/vfork_fds.out" "$work/vfork_fds.err")"
		bad "... and nothing the children opened or duplicated ($how)" "the case did not run"
	fi
done
if [ -x /usr/bin/python3 ]; then
	"$ward" run --quiet -o "$work/pyspawn.pb.gz" -- /usr/bin/python3 -c '
import os, subprocess
keep = [open("/dev/null") for _ in range(3)]
for i in range(3):
    subprocess.run(["/bin/true"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print("ran")
os._exit(0)' >"$work/pyspawn.out" 2>"$work/pyspawn.err"
	got=$(fds_of "$work/pyspawn.pb.gz")
	if grep -q "^ran$" "$work/pyspawn.out" && [ "$got" = 3 ]; then
		ok "python3 keeping three files open across subprocess.run: three descriptors"
	else
		bad "python3 keeping three files open across subprocess.run: three descriptors" \
			"$got descriptors" "$(cat "$work/pyspawn.out" "$work/pyspawn.err")"
	fi
else
	bad "python3 keeping three files open across subprocess.run" "install it with: sudo apt-get install -y python3"
fi

# Children forked without the fork handlers (_Fork(), a clone system call)
# while three threads allocate and open: ward stands aside in them. Before,
# such a child's open, dup2 or close could wait for good on a lock of
# ward's another thread held at the fork (1 to 5 children in 400 here).
run_leaks raw_fork 1000
st=$?
if [ "$st" = 0 ] && grep -q "^raw forks: 0 of 1000 children stuck$" "$work/raw_fork.out"; then
	ok "1000 children forked by _Fork() and clone() among busy threads: none stuck"
else
	bad "1000 children forked by _Fork() and clone() among busy threads: none stuck" \
		"status $st" "$(cat "$work/raw_fork.out" "$work/raw_fork.err")"
fi
expect_site "... and the parent's books go on" "$work/raw_fork.pb.gz" \
	leak_after_raw_fork heap "1 17"

# A program that locks its memory, all it has and all to come (mlockall,
# as chronyd -m does). ward's mappings are kept out of the lock: before,
# the exit report's 1 GiB arena was made resident whole (1 GiB peak, as
# root). And where the kernel refuses it only because ward's mappings
# count (without CAP_IPC_LOCK the whole address space must fit in
# RLIMIT_MEMLOCK), the program's own are locked: before, a program that
# could lock its memory alone failed under ward.
/usr/bin/python3 -c 'import resource, subprocess, sys
st = subprocess.run(sys.argv[1:]).returncode
print(st, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
	"$ward" run --quiet -o "$work/mlocked.pb.gz" -- "$leaks" mlocked current \
	>"$work/mlocked.out" 2>"$work/mlocked.err"
set -- $(tail -1 "$work/mlocked.out")
if [ "${1:-}" = 0 ] && [ "${2:-999999999}" -lt 204800 ]; then
	ok "mlockall(MCL_CURRENT | MCL_FUTURE): the program's status, ward's memory unlocked (${2} KiB peak)"
else
	bad "mlockall(MCL_CURRENT | MCL_FUTURE): the program's status, ward's memory unlocked" \
		"status and peak KiB: $*" "$(cat "$work/mlocked.out" "$work/mlocked.err")"
fi
expect_site "... and its leak" "$work/mlocked.pb.gz" leak_mlocked heap "1 23"
m=$(mktemp -d /tmp/ward-mlock-XXXXXX)
chmod 755 "$m" && mkdir "$m/out" && chmod 777 "$m/out"
cp "$ward" "$build/libward_preload.so" "$leaks" "$m/"
as_user=
[ "$(id -u)" = 0 ] && as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
$as_user prlimit --memlock=8388608:8388608 "$m/leaks" mlocked current \
	>"$work/mlock_alone.out" 2>&1
alone=$?
$as_user prlimit --memlock=8388608:8388608 "$m/ward" run --quiet \
	-o "$m/out/mlock.pb.gz" -- "$m/leaks" mlocked current \
	>"$work/mlock_user.out" 2>"$work/mlock_user.err"
st=$?
# The report names functions from the copied program: kept until the
# check is done.
cp "$m/out/mlock.pb.gz" "$work/" 2>/dev/null
if [ "$alone" = 0 ] && [ "$st" = 0 ]; then
	expect_site "unprivileged, 8 MiB to lock: what locks all its memory alone does under ward" \
		"$work/mlock.pb.gz" leak_mlocked heap "1 23"
else
	bad "unprivileged, 8 MiB to lock: what locks all its memory alone does under ward" \
		"alone: status $alone, $(cat "$work/mlock_alone.out")" \
		"under ward: status $st, $(cat "$work/mlock_user.out" "$work/mlock_user.err")"
fi
rm -rf "$m"

# A snapshot signal sent to a forked child snapshots the child, not the parent.
run_leaks_to "$work/snapfork.pb.gz" snapfork
set -- "$work"/snapfork.pb.gz.*.snap1
if [ -f "$1" ] && [ ! -e "$work/snapfork.pb.gz.snap1" ]; then
	expect_site "a snapshot signal to a forked child snapshots the child" "$1" \
		leak_in_snapped_child heap "7 210"
else
	bad "a snapshot signal to a forked child snapshots the child" "$(ls "$work" | grep snapfork)"
fi

# Threads ward must not harm: one with the smallest stack, one whose
# first allocation is inside pthread_getattr_np().
run_leaks small_stack
status_is "a thread with a PTHREAD_STACK_MIN stack, a third used: it runs as without ward" 0 $? "$(cat "$work/small_stack.err")"
expect_site "... and what it lost is told" "$work/small_stack.pb.gz" lost_on_small_stack heap/definite "1 75"
timeout 60 "$ward" run --quiet -o "$work/getattr_first.pb.gz" -- "$leaks" getattr_first \
	>"$work/getattr_first.out" 2>"$work/getattr_first.err"
status_is "a thread whose first allocation is inside pthread_getattr_np(): it runs on" 0 $? "$(cat "$work/getattr_first.err")"

# A program that signals its own process group (ward run is in it) gets
# the signal once; one sent to ward run alone is passed on. In a session
# of their own, so the signal reaches nothing else.
# Three rounds: a signal sent twice before the first is taken arrives
# once, so one round alone may not show a second.
if need setsid util-linux; then
	: >"$work/kill_group.out"
	for round in 1 2 3; do
		setsid -w "$ward" run --quiet -o "$work/kill_group.pb.gz" -- "$leaks" kill_group \
			>>"$work/kill_group.out" 2>"$work/kill_group.err"
	done
	if [ "$(grep -c "^SIGTERM 1 time(s)$" "$work/kill_group.out")" = 3 ]; then
		ok "a program that signals its own process group gets the signal once"
	else
		bad "a program that signals its own process group gets the signal once" \
			"$(cat "$work/kill_group.out" "$work/kill_group.err")"
	fi
fi

# Pages the program made inaccessible: passed over by the scan.
run_leaks prot_none
status_is "inaccessible pages in the globals and in a block: the program's status" 0 $? "$(cat "$work/prot_none.err")"
expect_site "... a block a global beside the inaccessible page holds is still reachable" \
	"$work/prot_none.pb.gz" held_beside_guard heap/reachable "1 77"
expect_site "... the block only the inaccessible page held is lost" \
	"$work/prot_none.pb.gz" lost_behind_guard heap/definite "1 78"

# Two threads call exit() at once: one profile, the program's status.
for round in 1 2 3; do
	run_leaks two_exits
	status_is "two threads call exit() at once (round $round): the program's status" 3 $? "$(cat "$work/two_exits.err")"
	expect_site "... and the profile is written (round $round)" "$work/two_exits.pb.gz" \
		lost_before_two_exits heap/definite "1 76"
	rm -f "$work/two_exits.pb.gz"
done

# A thread frees blocks while exit() reports: freed is not lost.
run_leaks exit_while_freeing
expect_site "a thread freeing while exit() reports: no block it freed is called lost" \
	"$work/exit_while_freeing.pb.gz" churn_block heap/definite "0 0"
expect_site "... and what main lost is" \
	"$work/exit_while_freeing.pb.gz" leak_exit_while_freeing heap/definite "1 74"

# A heap that cannot be classified is said so, with the reason.
run_leaks own_stop_signal
if grep -q "^ward: heap not classified: the program's other threads could not be stopped to read their stacks: the program has its own action for ward's signal" "$work/own_stop_signal.err"; then
	ok "a heap that cannot be classified: one line says why"
else
	bad "a heap that cannot be classified: one line says why" "$(cat "$work/own_stop_signal.err")"
fi

# A program that uses up its address space while its heap still has room:
# what ward could not record (its books could not grow) is counted, said
# in the summary and kept in the profile, not left out in silence.
"$ward" run -o "$work/space_used_up.pb.gz" -- "$leaks" space_used_up \
	>"$work/space_used_up.out" 2>"$work/space_used_up.err"
st=$?
unrecorded=$("$ward" report "$work/space_used_up.pb.gz" 2>&1 |
	sed -n 's/^	heap: unrecorded \([0-9]*\),.*/\1/p')
if [ "$st" = 0 ] && [ "${unrecorded:-0}" -gt 0 ] &&
	grep -q "^ward: $unrecorded heap acquisitions ([0-9]* bytes) not recorded: ward's own memory ran out" "$work/space_used_up.err"; then
	ok "a program that uses up its address space: what ward could not record is counted ($unrecorded blocks) and said"
else
	bad "a program that uses up its address space: what ward could not record is counted and said" \
		"status $st, unrecorded '${unrecorded:-}'" "$(grep -v '^	' "$work/space_used_up.err" | head -20)"
fi
# ... and one run under such a limit that exits with it used up: ward
# keeps no spare room there (it would come out of the program's), and the
# one line names the limit.
(ulimit -v 262144 && exec "$ward" run -o "$work/space_full.pb.gz" -- "$leaks" space_used_up full) \
	>"$work/space_full.out" 2>"$work/space_full.err"
st=$?
if [ "$st" = 0 ] &&
	grep -q "^ward: no profile from .*: out of memory for the snapshot: the program has used up its address space (its limit, RLIMIT_AS or .ulimit -v., is 262144 KiB)" "$work/space_full.err"; then
	ok "... and one under ulimit -v that exits with it used up: the one line names the limit"
else
	bad "... and one under ulimit -v that exits with it used up: the one line names the limit" \
		"status $st" "$(grep -v '^	' "$work/space_full.err" | head -20)"
fi

# A program that closed its standard error and opened a file of its own
# there: ward's lines go to ward run's standard error, not into that file;
# traced without ward run, nowhere.
"$ward" run --quiet -o "$work/stderr_reused.pb.gz" -- "$leaks" stderr_reused "$work/own.data" \
	>/dev/null 2>"$work/stderr_reused.err"
if [ "$(cat "$work/own.data")" = "the program's data" ] &&
	grep -q "^ward: heap not classified: " "$work/stderr_reused.err"; then
	ok "standard error reused for the program's file: ward's words stay out of it, and reach ward run's"
else
	bad "standard error reused for the program's file: ward's words stay out of it, and reach ward run's" \
		"file: $(cat "$work/own.data")" "ward run: $(cat "$work/stderr_reused.err")"
fi
LD_PRELOAD="$build/libward_preload.so" WARD_OUTPUT="$work/stderr_reused2.pb.gz" "$leaks" stderr_reused "$work/own2.data" >/dev/null 2>&1
if [ "$(cat "$work/own2.data")" = "the program's data" ]; then
	ok "... and traced without ward run, its report stays out of that file"
else
	bad "... and traced without ward run, its report stays out of that file" "$(cat "$work/own2.data")"
fi

# Standard error a pipe whose reader is gone (fd 4 is its only end): ward's
# summary there fails with EPIPE, and neither the program nor ward run dies
# of SIGPIPE for it; the profile is written all the same.
mkfifo "$work/gone.fifo"
exec 3<>"$work/gone.fifo" 4>"$work/gone.fifo"
exec 3<&-
"$ward" run -o "$work/stderr_gone.pb.gz" -- "$leaks" malloc_loop >"$work/stderr_gone.out" 2>&4
status_is "standard error a broken pipe: ward run ends with the program's status" 0 $?
LD_PRELOAD="$build/libward_preload.so" WARD_OUTPUT="$work/stderr_gone2.pb.gz" \
	"$leaks" malloc_loop >"$work/stderr_gone2.out" 2>&4
status_is "... and traced without ward run, the program's status is its own, not SIGPIPE's" 0 $?
exec 4>&-
expect_site "... and the profile is written" "$work/stderr_gone2.pb.gz" \
	leak_malloc_loop heap "1000 48000"

# Threads started and ended by the thousand a second: under ward they end
# as they do alone (they once piled up by the ten thousand behind the
# lock of their exit), and the exit's scan stops the program while they
# go on starting and ending, and classifies the heap.
# The plain run is only the measure (it once printed nothing, alone,
# under no ward): taken again up to three times, each said when it fails.
for try in 1 2 3; do
	"$leaks" thread_churn >"$work/churn_plain.out" 2>&1
	st=$?
	plain=$(sed -n 's/^alive //p' "$work/churn_plain.out")
	[ -n "$plain" ] && break
	echo "note: thread_churn alone, try $try: status $st, no count: $(head -c 300 "$work/churn_plain.out")"
done
run_leaks thread_churn
traced=$(sed -n 's/^alive //p' "$work/thread_churn.out")
if [ -n "$plain" ] && [ -n "$traced" ] && [ "$traced" -le $((4 * plain + 1000)) ]; then
	ok "threads started by the thousand a second end under ward as they do alone"
else
	bad "threads started by the thousand a second end under ward as they do alone" \
		"alive at the end: ${plain:-?} alone, ${traced:-?} under ward"
fi
if grep -q "not classified" "$work/thread_churn.err" || [ ! -f "$work/thread_churn.pb.gz" ]; then
	bad "... and the exit's scan classifies the heap while they go on" "$(cat "$work/thread_churn.err")"
else
	expect_site "... and the exit's scan classifies the heap while they go on" \
		"$work/thread_churn.pb.gz" lost_in_churn heap/definite "1 73"
fi

# File size limits (`ulimit -f`): ward's writes raise no SIGXFSZ (the
# program ends with its own status) and leave nothing behind. ward writes
# past the soft limit (its helper raises its own copy up to the hard one),
# and past the hard one with CAP_SYS_RESOURCE; a limit it cannot raise
# leaves one whole line saying why there is no profile, never a part of
# one in the program's standard error file.
if [ $(( 0x$(awk '/^CapEff/ { print $2 }' /proc/self/status) >> 24 & 1 )) = 1 ]; then
	raise_hard=yes
else
	raise_hard=no
fi
rm -f "$work"/fsize*
"$ward" run --quiet -o "$work/fsize.pb.gz" -- "$leaks" file_size_limit soft \
	>/dev/null 2>"$work/fsize.err"
st=$?
if [ "$st" = 0 ] && [ -f "$work/fsize.pb.gz" ]; then
	expect_site "a program that limits its files' size (soft): the profile is written past it" \
		"$work/fsize.pb.gz" lost_before_file_size_limit heap "1 47"
else
	bad "a program that limits its files' size (soft): the profile is written past it" \
		"status $st" "$(cat "$work/fsize.err")"
fi
rm -f "$work/fsize.pb.gz"
"$ward" run --quiet -o "$work/fsize.pb.gz" -- "$leaks" file_size_limit hard \
	>/dev/null 2>"$work/fsize.err"
st=$?
name="... and (hard, CAP_SYS_RESOURCE: $raise_hard) the profile, or one whole line in its standard error file"
line="ward: no profile from $leaks: its file size limit (RLIMIT_FSIZE, \`ulimit -f\`) was 10 bytes, which neither the profile nor the tracer's line fits; with CAP_SYS_RESOURCE ward writes past it"
if [ $raise_hard = yes ] && [ "$st" = 0 ] && [ -f "$work/fsize.pb.gz" ]; then
	expect_site "$name" "$work/fsize.pb.gz" lost_before_file_size_limit heap "1 47"
elif [ $raise_hard = no ] && [ "$st" = 0 ] && [ "$(cat "$work/fsize.err")" = "$line" ]; then
	ok "$name"
else
	bad "$name" "status $st" "$(cat "$work/fsize.err")"
fi
rm -f "$work"/fsize*
got=$( (ulimit -S -f 0; "$ward" run --quiet -o "$work/fsize.pb.gz" -- "$leaks" malloc_loop >/dev/null
	echo "status $?") 2>&1)
if [ "$got" = "status 0" ] && [ -f "$work/fsize.pb.gz" ]; then
	expect_site "run under a soft limit of none (ulimit -S -f 0): the profile" \
		"$work/fsize.pb.gz" leak_malloc_loop heap "1000 48000"
else
	bad "run under a soft limit of none (ulimit -S -f 0): the profile" "$got"
fi
rm -f "$work"/fsize*
got=$( (ulimit -f 0; "$ward" run --quiet -o "$work/fsize.pb.gz" -- "$leaks" malloc_loop >/dev/null
	echo "status $?") 2>&1)
name="... and under a hard one (ulimit -f 0, CAP_SYS_RESOURCE: $raise_hard): the profile, or the program's status and one line"
if [ $raise_hard = yes ] && [ "$got" = "status 0" ] && [ -f "$work/fsize.pb.gz" ]; then
	expect_site "$name" "$work/fsize.pb.gz" leak_malloc_loop heap "1000 48000"
elif [ $raise_hard = no ] && [ "$got" = "ward: no profile: cannot write $work/fsize.pb.gz: File too large
status 0" ]; then
	ok "$name"
else
	bad "$name" "$got"
fi
rm -f "$work"/fsize*
got=$( (ulimit -f 0; LD_PRELOAD="$build/libward_preload.so" WARD_OUTPUT="$work/fsize2.pb.gz" WARD_SUMMARY=none \
	"$leaks" malloc_loop >/dev/null; echo "status $?") 2>&1)
name="... and traced without ward run, the same, with no temporary file left"
if ls "$work"/fsize*.tmp.* >/dev/null 2>&1; then
	bad "$name" "$(ls "$work"/fsize*)"
elif [ $raise_hard = yes ] && [ "$got" = "status 0" ] && [ -f "$work/fsize2.pb.gz" ]; then
	ok "$name"
elif [ $raise_hard = no ] && [ "$got" = "ward: no profile: cannot write $work/fsize2.pb.gz: File too large
status 0" ]; then
	ok "$name"
else
	bad "$name" "$got"
fi

# The report where WARD_SUMMARY names it: a file whole (past a soft file
# size limit too); what standard error's link names (/dev/stderr) added
# to, never truncated; a FIFO nobody reads no hang, one line and the
# report on standard error.
summary_to() { # SUMMARY SCENARIO [ARGS]: the program's status
	s=$1
	shift
	timeout 60 env LD_PRELOAD="$build/libward_preload.so" WARD_OUTPUT="$work/summary.pb.gz" \
		WARD_SUMMARY="$s" "$leaks" "$@" >/dev/null 2>>"$work/summary.err"
}
rm -f "$work"/summary*
echo "the program's own" >"$work/summary.txt"
summary_to "$work/summary.txt" file_size_limit soft
st=$?
if [ "$st" = 0 ] && grep -q "^    definitely lost  *1 blocks  *47 bytes" "$work/summary.txt" &&
	! grep -q "the program's own" "$work/summary.txt" && [ ! -s "$work/summary.err" ]; then
	ok "WARD_SUMMARY names a file: the report replaces it whole, past a soft file size limit"
else
	bad "WARD_SUMMARY names a file: the report replaces it whole, past a soft file size limit" \
		"status $st" "$(cat "$work/summary.txt" "$work/summary.err")"
fi
rm -f "$work"/summary*
echo "the program's own" >"$work/summary.err"
summary_to /dev/stderr malloc_loop
st=$?
if [ "$st" = 0 ] && [ "$(head -1 "$work/summary.err")" = "the program's own" ] &&
	grep -q "^    definitely lost  *1000 blocks  *48000 bytes" "$work/summary.err"; then
	ok "... names /dev/stderr, a file: the report is added to it, nothing of it lost"
else
	bad "... names /dev/stderr, a file: the report is added to it, nothing of it lost" \
		"status $st" "$(cat "$work/summary.err")"
fi
rm -f "$work"/summary*
mkfifo "$work/summary.fifo"
summary_to "$work/summary.fifo" malloc_loop
st=$?
if [ "$st" = 0 ] &&
	[ "$(head -1 "$work/summary.err")" = "ward: cannot write the report to $work/summary.fifo: No such device or address; it goes to standard error" ] &&
	grep -q "^    definitely lost  *1000 blocks  *48000 bytes" "$work/summary.err"; then
	ok "... names a FIFO nobody reads: no hang, one line, the report on standard error"
else
	bad "... names a FIFO nobody reads: no hang, one line, the report on standard error" \
		"status $st" "$(cat "$work/summary.err")"
fi
rm -f "$work"/summary*
timeout 60 env LD_PRELOAD="$build/libward_preload.so" WARD_OUTPUT="$work/summary.pb.gz" \
	WARD_SUMMARY="$work/./summary.pb.gz" "$leaks" malloc_loop >/dev/null 2>"$work/summary.err"
if [ "$(head -1 "$work/summary.err")" = "ward: WARD_SUMMARY names the profile's own file, $work/./summary.pb.gz: the report goes to standard error" ] &&
	grep -q "^    definitely lost  *1000 blocks  *48000 bytes" "$work/summary.err"; then
	expect_site "... names the profile's own file: one line, the report on standard error, the profile kept" \
		"$work/summary.pb.gz" leak_malloc_loop heap "1000 48000"
else
	bad "... names the profile's own file: one line, the report on standard error, the profile kept" \
		"$(cat "$work/summary.err")"
fi
rm -f "$work"/summary*

# A background job on a terminal with `stty tostop` is stopped by SIGTTOU
# when it writes there: a program that writes nothing to it must not be
# stopped because ward wrote its report (script(1) gives the terminal).
if need script bsdutils; then
	got=$(timeout 20 script -qec "stty tostop; set -m; LD_PRELOAD='$build/libward_preload.so' \
		WARD_OUTPUT='$work/tostop.pb.gz' '$leaks' malloc_loop >/dev/null & wait \$!; echo \"status \$?\"" \
		/dev/null </dev/null | tr -d '\r' | grep '^status ')
	if [ "$got" = "status 0" ]; then
		ok "a background job under stty tostop is not stopped by ward's report on its terminal"
	else
		bad "a background job under stty tostop is not stopped by ward's report on its terminal" "${got:-no status}"
	fi
	got=$(timeout 20 script -qec "stty tostop; set -m; '$ward' run -o '$work/tostop.pb.gz' -- \
		'$leaks' malloc_loop >/dev/null & wait \$!; echo \"status \$?\"" \
		/dev/null </dev/null | tr -d '\r' | grep '^status ')
	if [ "$got" = "status 0" ]; then
		ok "... nor is ward run, by its own lines"
	else
		bad "... nor is ward run, by its own lines" "${got:-no status}"
	fi
fi

# At RLIMIT_NOFILE the profile is still written.
run_leaks fdlimit
n=$(sed -n 's/^opened //p' "$work/fdlimit.out")
expect_site "at the descriptor limit the profile is written" "$work/fdlimit.pb.gz" \
	leak_fdlimit fd "${n:-none} 0"
expect_site "... and the heap classified: the block it lost" "$work/fdlimit.pb.gz" \
	lost_at_fdlimit heap/definite "1 72"
expect_site "... and the block a global holds" "$work/fdlimit.pb.gz" \
	held_at_fdlimit heap/reachable "1 71"

# Signals that end the program: the profile is written, the status is the
# same as without ward (a stack overflow too: the handler runs on an
# alternate stack of ward's). Every signal whose default ends it: a
# timeout's alarm, a user signal nobody handles, a CPU time limit, a
# seccomp filter's trap, a breakpoint with no debugger; and every exit.
for how in term:143 segv:139 overflow:139 abort:134 quick_exit:3 _Exit:3 \
	alarm:142 usr1:138 xcpu:152 sys:159 trap:133; do
	h=${how%:*}
	run_leaks_to "$work/die_$h.pb.gz" die "$h"
	status_is "killed by $h: same status" "${how#*:}" $?
	expect_site "killed by $h: the profile is written" "$work/die_$h.pb.gz" \
		leak_before_signal heap "4 444"
done
"$leaks" sigquery >"$work/q1" 2>&1
run_leaks sigquery
if cmp -s "$work/q1" "$work/sigquery.out"; then
	ok "the program sees its signals at their default"
else
	bad "the program sees its signals at their default" "$(cat "$work/q1")" "$(cat "$work/sigquery.out")"
fi

# SIGTERM to ward run reaches the program, which writes its profile; a
# signal that lands inside malloc waits for it to return.
"$ward" run --quiet -o "$work/spin.pb.gz" -- "$leaks" spin >"$work/spin.out" 2>"$work/spin.err" &
wpid=$!
for i in $(seq 1 100); do grep -q spinning "$work/spin.out" 2>/dev/null && break; sleep 0.05; done
sleep 0.2
kill -TERM $wpid
wait $wpid
st=$?
# A ward run that did not pass the signal on left the program running.
if pkill -KILL -f "$leaks spin"; then
	bad "SIGTERM to ward run ends the program by SIGTERM" "the program was left running"
else
	status_is "SIGTERM to ward run ends the program by SIGTERM" 143 $st "$(cat "$work/spin.err")"
fi
expect_site "SIGTERM to ward run: the program's profile is written" "$work/spin.pb.gz" \
	leak_before_signal heap "4 444"

# A signal a service is sent to act on (USR1, USR2, ALRM), sent to ward
# run's pid: it reaches the program, as it would without ward; ward run
# does not end by it and leave the program running on.
for sig_num in USR1:10 USR2:12; do
	sig=${sig_num%:*}
	rm -f "$work/spin.pb.gz" "$work/spin.out"
	"$ward" run --quiet -o "$work/spin.pb.gz" -- "$leaks" spin >"$work/spin.out" 2>"$work/spin.err" &
	wpid=$!
	for i in $(seq 1 100); do grep -q spinning "$work/spin.out" 2>/dev/null && break; sleep 0.05; done
	kill -s "$sig" $wpid
	wait $wpid
	st=$?
	if pkill -KILL -f "$leaks spin"; then
		bad "SIG$sig to ward run reaches the program, which ends by it with its profile" "the program was left running (status $st)"
	elif [ "$st" != $((128 + ${sig_num#*:})) ] || [ "$(site "$work/spin.pb.gz" leak_before_signal heap)" != "4 444" ]; then
		bad "SIG$sig to ward run reaches the program, which ends by it with its profile" "status $st" "$(cat "$work/spin.err")"
	else
		ok "SIG$sig to ward run reaches the program, which ends by it with its profile"
	fi
done

# A signal sent to ward run's whole process group (`timeout`, `kill %1`,
# a service manager's stop) reaches the program twice: itself, and as
# ward run passes its own copy on. The second, on any thread, must not
# cut short the report the first began (it did, about one run in two).
need setsid util-linux
for spin in spin "spin threads"; do
	lost=
	for round in 1 2 3 4 5; do
		rm -f "$work/group.pb.gz" "$work/group.out"
		# shellcheck disable=SC2086
		setsid "$ward" run --quiet -o "$work/group.pb.gz" -- "$leaks" $spin \
			>"$work/group.out" 2>"$work/group.err" &
		wpid=$!
		for i in $(seq 1 100); do grep -q spinning "$work/group.out" 2>/dev/null && break; sleep 0.05; done
		sleep 0.1
		env kill -s TERM -- "-$wpid" # procps kill: a process group
		wait $wpid
		st=$?
		if [ "$st" != 143 ] || [ "$(site "$work/group.pb.gz" leak_before_signal heap 2>/dev/null)" != "4 444" ]; then
			lost="round $round: status $st: $(cat "$work/group.err")"
			pkill -KILL -f "$leaks $spin" 2>/dev/null
			break
		fi
	done
	if [ -z "$lost" ]; then
		ok "SIGTERM to ward run's process group ($spin), five times: the program ends by it, its profile written"
	else
		bad "SIGTERM to ward run's process group ($spin), five times: the program ends by it, its profile written" "$lost"
	fi
done

# An ending signal while the exit's report is written (the program had
# ended; the report is ward's time): the report goes on and the program
# ends as it asked, sent to ward run alone or to its process group.
for to in "ward run" "its process group"; do
	rm -f "$work/exit_busy.pb.gz" "$work/exit_busy.out"
	setsid "$ward" run --quiet -o "$work/exit_busy.pb.gz" -- "$leaks" exit_busy \
		>"$work/exit_busy.out" 2>"$work/exit_busy.err" &
	wpid=$!
	for i in $(seq 1 200); do grep -q exiting "$work/exit_busy.out" 2>/dev/null && break; sleep 0.05; done
	sleep 0.05
	if [ "$to" = "ward run" ]; then
		kill -TERM "$wpid"
	else
		env kill -s TERM -- "-$wpid"
	fi
	wait $wpid
	st=$?
	if [ "$st" = 3 ] && [ -s "$work/exit_busy.pb.gz" ] &&
		grep -q "^ward: signal 15 while the exit's report is written: the report goes on" "$work/exit_busy.err"; then
		ok "SIGTERM to $to while the exit's report is written: the report goes on, the program's status"
	else
		bad "SIGTERM to $to while the exit's report is written: the report goes on, the program's status" \
			"status $st" "$(cat "$work/exit_busy.err")"
	fi
done

# No profile: one line says why, and --fail-on-leak does not pass.
one_why() { # FILE PATTERN: exactly one "no profile" line, and it matches
	[ "$(grep -c "no profile" "$1")" = 1 ] && grep -q "$2" "$1"
}
"$ward" run -o "$work/asan.pb.gz" -- "$build/asan_hello" >/dev/null 2>"$work/e1"
if one_why "$work/e1" "no profile from $build/asan_hello: it is built with AddressSanitizer, whose runtime must load first"; then
	ok "a program built with AddressSanitizer: one line says why there is no profile"
else
	bad "a program built with AddressSanitizer: one line says why there is no profile" "$(cat "$work/e1")"
fi
# Linked in, its runtime is the program's own malloc, its leak check ends
# the program with _exit, and it intercepts what ward calls: ward says what
# it cannot see, and adds nothing of the runtime's to the program's output.
ASAN_OPTIONS=detect_leaks=0 "$ward" run -o "$work/asan.pb.gz" -- "$build/asan_linked" \
	>"$work/o1" 2>"$work/e1"
st=$?
if [ "$st" = 0 ] && grep -q '^hello ' "$work/o1" && [ -s "$work/asan.pb.gz" ] &&
	grep -q "heap not traced: malloc is defined by $build/asan_linked" "$work/e1" &&
	! grep -q '==[0-9]*==' "$work/e1"; then
	ok "AddressSanitizer linked in: the heap is said untraced, the runtime adds no line"
else
	bad "AddressSanitizer linked in: the heap is said untraced, the runtime adds no line" \
		"status $st: $(cat "$work/e1")"
fi
"$ward" run -o "$work/asan.pb.gz" -- "$build/asan_linked" >/dev/null 2>"$work/e1"
if one_why "$work/e1" "no profile from $build/asan_linked: it \(is built with AddressSanitizer linked in, whose leak check ends\|ended without running its exit handlers.*a sanitizer's leak check\)"; then
	ok "AddressSanitizer's leak check ends it: one line says so"
else
	bad "AddressSanitizer's leak check ends it: one line says so" "$(cat "$work/e1")"
fi
"$ward" run --fail-on-leak -o "$work/static.pb.gz" -- "$build/static_hello" >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 3 ] && grep -q "no profile from .*statically linked" "$work/e1"; then
	ok "a static program: one line why there is no profile, --fail-on-leak exits 3"
else
	bad "a static program: one line why there is no profile, --fail-on-leak exits 3" "status $st: $(cat "$work/e1")"
fi
# A program the dynamic loader cannot start (a library it needs is not
# found): its status, the loader's message, and the line names the loader,
# not an exit that bypassed the exit handlers.
"$ward" run -o "$work/needs.pb.gz" -- "$build/needs_plugin" >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 127 ] && grep -q "error while loading shared libraries: libleakplugin.so" "$work/e1" &&
	one_why "$work/e1" "no profile from $build/needs_plugin: the dynamic loader ended it (status 127) before ward's library ran: a library it needs is missing or cannot be loaded (the loader's message is above)"; then
	ok "a program the loader cannot start: its status, and the line names the loader"
else
	bad "a program the loader cannot start: its status, and the line names the loader" "status $st: $(cat "$work/e1")"
fi
# One the loader ends later, at a call of a function no library has (bound
# lazily, its library replaced by one without it): status 127, and the
# line names the loader's way of ending it beside a raw exit.
mkdir -p "$work/lazy/full" "$work/lazy/thin"
printf 'int f(void) { return 1; }\nint g(void) { return 2; }\n' >"$work/lazy/full/two.c"
printf 'int f(void) { return 1; }\n' >"$work/lazy/thin/two.c"
printf 'int f(void);\nint g(void);\nint main(void) { return f() + g(); }\n' >"$work/lazy/main.c"
for v in full thin; do
	cc -shared -fPIC -Wl,-soname,libtwo.so -o "$work/lazy/$v/libtwo.so" "$work/lazy/$v/two.c"
done
cc -o "$work/lazy/main" "$work/lazy/main.c" -L"$work/lazy/full" -ltwo \
	-Wl,-z,lazy -Wl,-rpath,"$work/lazy/thin"
"$ward" run -o "$work/lazy.pb.gz" -- "$work/lazy/main" >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 127 ] && grep -q "symbol lookup error" "$work/e1" &&
	one_why "$work/e1" "no profile from $work/lazy/main: it ended with status 127 without running its exit handlers, as the dynamic loader ends a program that calls a function no library has"; then
	ok "a program the loader ends at a missing function: the line names the loader's way"
else
	bad "a program the loader ends at a missing function: the line names the loader's way" "status $st: $(cat "$work/e1")"
fi
# A program that runs another in its place without LD_PRELOAD: the line
# names the exec, as the tracer told it before; without the tracer's note
# (no directory to make it in), the program it ended as; not a raw exit.
# One that makes the raw exit system call itself is told apart.
"$ward" run -o "$work/exec.pb.gz" -- env -i "$(command -v true)" 2>"$work/e1"
st=$?
if [ "$st" = 0 ] && one_why "$work/e1" "no profile from env: it ran $(command -v true) in its place (exec) without ward's library"; then
	ok "an exec that drops LD_PRELOAD: the line names the exec"
else
	bad "an exec that drops LD_PRELOAD: the line names the exec" "status $st: $(cat "$work/e1")"
fi
TMPDIR="$work/no such dir" "$ward" run -o "$work/exec.pb.gz" -- env -i "$(command -v true)" 2>"$work/e1"
st=$?
if [ "$st" = 0 ] && one_why "$work/e1" "no profile from env: it ended as true: a program run in its place (exec)"; then
	ok "... and without the tracer's note, the program it ended as"
else
	bad "... and without the tracer's note, the program it ended as" "status $st: $(cat "$work/e1")"
fi
"$ward" run -o "$work/raw.pb.gz" -- "$leaks" die raw_exit >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 5 ] && grep -q "no profile from .*: it ended without running its exit handlers" "$work/e1"; then
	ok "a raw exit system call: the line says so"
else
	bad "a raw exit system call: the line says so" "status $st: $(cat "$work/e1")"
fi
# One that named itself first (PR_SET_NAME) ends as another name, which
# an exec would give it too: the line names both ways (before, an exec
# alone).
"$ward" run -o "$work/raw.pb.gz" -- "$leaks" die renamed_raw_exit >/dev/null 2>"$work/e1"
st=$?
if [ "$st" = 5 ] && one_why "$work/e1" "no profile from $leaks: it ended as renamed: a program run in its place (exec) that ward did not reach (its environment dropped LD_PRELOAD, or it is static or setuid), or it gave itself that name and ended without running its exit handlers (a raw exit system call)$"; then
	ok "a program that named itself, then a raw exit: the line names both ways"
else
	bad "a program that named itself, then a raw exit: the line names both ways" "status $st: $(cat "$work/e1")"
fi

# A program's name, or a path, that holds a newline or a terminal's
# escape is printed with '?' for it: the line stays one line, and says
# nothing to the terminal (the tracer's lines and ward run's alike).
nl="$work/raw
exit$(printf '\033')[2J"
cp "$leaks" "$nl"
"$ward" run -o "$work/raw.pb.gz" -- "$nl" die raw_exit >/dev/null 2>"$work/e1"
st=$?
WARD_OUTPUT="$work/no
such/x.pb.gz" WARD_SUMMARY=none LD_PRELOAD="$build/libward_preload.so" "$leaks" malloc_loop >/dev/null 2>>"$work/e1"
rm -f "$nl"
if [ "$st" = 5 ] && [ "$(wc -l <"$work/e1")" = 2 ] && ! grep -q "$(printf '\033')" "$work/e1" &&
	grep -q "^ward: no profile from $work/raw?exit?\[2J: it ended without running its exit handlers" "$work/e1" &&
	grep -q "^ward: no profile: cannot write $work/no?such/x.pb.gz: " "$work/e1"; then
	ok "a name or a path with a newline or an escape: one printable line each"
else
	bad "a name or a path with a newline or an escape: one printable line each" "status $st: $(cat -A "$work/e1")"
fi
# Output paths: resolved once, before the program can chdir(); '%' taken
# as it is; long paths whole.
(cd "$work" && "$ward" run --quiet -o rel.pb.gz -- "$leaks" chdir >/dev/null 2>&1)
expect_site "a relative -o is where ward run was, after the program's chdir()" \
	"$work/rel.pb.gz" leak_in_new_dir heap "1 55"
(cd "$work" && LD_PRELOAD="$build/libward_preload.so" WARD_OUTPUT=rel2.pb.gz \
	WARD_SUMMARY=rel2.txt "$leaks" chdir >/dev/null 2>&1)
if [ -f "$work/rel2.txt" ] && [ ! -e /rel2.pb.gz ] && [ ! -e /rel2.txt ]; then
	expect_site "... and traced without ward run, WARD_OUTPUT and WARD_SUMMARY too, nothing written in /" \
		"$work/rel2.pb.gz" leak_in_new_dir heap "1 55"
else
	bad "... and traced without ward run, WARD_OUTPUT and WARD_SUMMARY too, nothing written in /" \
		"$(ls /rel2.* "$work"/rel2.* 2>&1)"
	rm -f /rel2.pb.gz /rel2.txt
fi
run_leaks_to "$work/pct%p.pb.gz" malloc_loop
expect_site "-o with a '%' is the file named" "$work/pct%p.pb.gz" leak_malloc_loop heap "1000 48000"
long="$work"
for i in $(seq 1 12); do long="$long/$(printf 'd%0100d' $i)"; done
mkdir -p "$long"
run_leaks_to "$long/long.pb.gz" malloc_loop
expect_site "a path over 1024 bytes is written whole" "$long/long.pb.gz" leak_malloc_loop heap "1000 48000"

# Snapshots have their final names while the program still runs.
run_leaks_to "$work/live.pb.gz" snapshot_live "$work/live.pb.gz"
if [ "$(head -1 "$work/snapshot_live.out")" = seen ]; then
	ok "FILE.snap1 exists while the program runs"
else
	bad "FILE.snap1 exists while the program runs" "$(cat "$work/snapshot_live.out")"
fi

# A profile whose mapping names a FIFO: the reader opens regular files only.
cp "$leaks" "$work/leakcopy"
"$ward" run --quiet -o "$work/copy.pb.gz" -- "$work/leakcopy" malloc_loop >/dev/null 2>&1
rm -f "$work/leakcopy" && mkfifo "$work/leakcopy"
timeout 20 "$ward" report "$work/copy.pb.gz" >/dev/null 2>&1
st=$?
if [ "$st" = 0 ]; then
	ok "a mapping naming a FIFO does not hang ward report"
else
	bad "a mapping naming a FIFO does not hang ward report" "status $st"
fi

: >"$work/empty.pb.gz"
"$ward" report "$work/empty.pb.gz" >/dev/null 2>"$work/e1"
st=$?
"$ward" report "$work" >/dev/null 2>"$work/e2"
st2=$?
if [ "$st" = 2 ] && [ "$st2" = 2 ] && grep -q "empty.pb.gz: empty file, not a profile" "$work/e1" &&
	grep -q ": is a directory" "$work/e2"; then
	ok "an empty file and a directory are refused with their reasons"
else
	bad "an empty file and a directory are refused with their reasons" "$(cat "$work/e1" "$work/e2")"
fi

# A profile piped in reads as the file does ("-": standard input); an
# empty pipe and a device are refused with their reasons, not waited on.
"$ward" report "$work/malloc_loop.pb.gz" >"$work/r1" 2>&1
cat "$work/malloc_loop.pb.gz" | "$ward" report - >"$work/r2" 2>&1
st=$?
if [ "$st" = 0 ] && [ -s "$work/r1" ] && cmp -s "$work/r1" "$work/r2"; then
	ok "ward report - reads a profile piped to it as it reads the file"
else
	bad "ward report - reads a profile piped to it as it reads the file" "status $st" "$(diff "$work/r1" "$work/r2" | head -5)"
fi
: | "$ward" report - >/dev/null 2>"$work/e1"
st=$?
timeout 10 "$ward" report /dev/zero >/dev/null 2>"$work/e2"
st2=$?
if [ "$st" = 2 ] && [ "$st2" = 2 ] && grep -q ": empty, not a profile" "$work/e1" &&
	grep -q "/dev/zero: not a regular file or a pipe" "$work/e2"; then
	ok "an empty pipe and a device are refused with their reasons"
else
	bad "an empty pipe and a device are refused with their reasons" "status $st $st2" "$(cat "$work/e1" "$work/e2")"
fi

# ---- 3. Real programs: same output, same status ----------------------------

# COMMAND started by LAUNCHER alone, in sandbox, and under ward run
# (profile PROFILE), in sandbox2: whether both ended with the same
# status ($s1, $s2), output and error output. ward's caveats on its
# classification are ward's (a thread caught with its signals blocked, a
# scan that could not run under load): the program's lines are compared,
# and any other line of ward's (a wrong "heap not traced", say) makes
# them differ.
runs_the_same() { # LAUNCHER PROFILE COMMAND...
	launch=$1 profile=$2
	shift 2
	rm -f "$profile"
	(cd "$work/sandbox" && $launch "$@") >"$work/plain.out" 2>"$work/plain.err"
	s1=$?
	(cd "$work/sandbox2" && $launch "$ward" run --quiet -o "$profile" -- "$@") \
		>"$work/ward.out" 2>"$work/ward.all"
	s2=$?
	grep -v -e '^ward: heap classified without the registers' \
		-e '^ward: heap not classified: ' "$work/ward.all" >"$work/ward.err"
	[ "$s1" = "$s2" ] && cmp -s "$work/plain.out" "$work/ward.out" &&
		cmp -s "$work/plain.err" "$work/ward.err"
}
as_is() { "$@"; }

same() { # NAME COMMAND...
	name=$1
	shift
	if runs_the_same as_is "$work/real.pb.gz" "$@"; then
		ok "$name: same output and status ($s1)"
	else
		bad "$name: same output and status" "status $s1 vs $s2" \
			"$(diff "$work/plain.out" "$work/ward.out" | head -5)" \
			"$(diff "$work/plain.err" "$work/ward.err" | head -5)"
	fi
}

fresh() { rm -rf "$work/sandbox" "$work/sandbox2"; mkdir -p "$work/sandbox" "$work/sandbox2"; }

export GIT_AUTHOR_NAME=ward GIT_AUTHOR_EMAIL=ward@example.org \
	GIT_COMMITTER_NAME=ward GIT_COMMITTER_EMAIL=ward@example.org \
	GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" \
	GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

# Workloads some checks below share: 300k Python objects, 100k rows.
py_objects='d = [{"k": i, "v": str(i)} for i in range(300000)]; print(len(d), sum(x["k"] for x in d))'
sql_rows='create table t(a integer, b text);
	 with recursive c(x) as (select 1 union all select x + 1 from c where x < 100000)
	 insert into t select x, hex(x) from c;
	 select count(*), sum(a), max(b) from t;'

if need python3 python3; then
	fresh
	same "python3 (300k objects)" /usr/bin/python3 -c "$py_objects"
fi
if need git git; then
	fresh
	same "git init/add/commit/log" sh -c \
		'git init -q -b main r && cd r && echo hello >f && git add f &&
		 git commit -q -m first && git log --format="%H %s"'
fi
if need sqlite3 sqlite3; then
	fresh
	same "sqlite3 (100k inserts, a query)" sqlite3 :memory: "$sql_rows"
fi
if need gcc gcc; then
	fresh
	cp "$(dirname "$0")/leaks.c" "$work/sandbox/" && cp "$work/sandbox/leaks.c" "$work/sandbox2/"
	same "gcc -O2 compiling a C file" sh -c \
		'gcc -O2 -c leaks.c -o leaks.o && ls -l leaks.o | cut -d" " -f5'
fi
if need make make; then
	fresh
	printf 'all: a b\n\t@echo done\na:\n\t@echo made a\nb: a\n\t@echo made b\n' >"$work/sandbox/Makefile"
	cp "$work/sandbox/Makefile" "$work/sandbox2/"
	same "make" make -s
fi
if need perl perl; then
	fresh
	same "perl (100k hash entries)" perl -e \
		'my %h; $h{$_} = $_ * 2 for 1 .. 100000; print scalar(keys %h), " ", $h{777}, "\n"'
fi
if need bash bash; then
	fresh
	same "bash (loops, subshells)" bash -c \
		'x=; for i in $(seq 1 3000); do x="$x$i"; done; echo ${#x} $(echo sub | tr a-z A-Z)'
fi
if need xz xz-utils; then
	fresh
	seq 1 400000 >"$work/sandbox/data" && cp "$work/sandbox/data" "$work/sandbox2/"
	same "xz -T2 (threads)" sh -c 'xz -T2 -c data | xz -dc | md5sum'
fi

# A service hardened as systemd hardens one (SystemCallFilter=@system-service:
# any other system call kills the process) runs under ward as it runs
# alone, with ward run inside the filter too, as in a unit's ExecStart=,
# and its profile is written: ward makes no call outside that set (its
# exit scan asked mincore() which pages were touched, and python3 ended
# by SIGSYS, without a profile). The set is systemd's own.
service_calls() { # GROUP: the calls systemd's syscall group names, nested groups expanded
	systemd-analyze syscall-filter "$1" | sed -n '2,$p' | while read -r c rest; do
		case $c in
		'#'* | '') ;;
		@*) service_calls "$c" ;;
		*) echo "$c" ;;
		esac
	done
}
filtered() { "$build/syscall_filter" "$nrs" "$@"; }
filtered_same() { # NAME COMMAND...
	name=$1
	shift
	# The scan must have run inside the filter too.
	if runs_the_same filtered "$work/svc.pb.gz" "$@" &&
		! grep -q '^ward: heap not classified: ' "$work/ward.all" &&
		"$ward" report "$work/svc.pb.gz" >"$work/svc.report" 2>&1 &&
		grep -q '^ward: live: ' "$work/svc.report"; then
		ok "under systemd's @system-service filter, $name: same output and status ($s1), a profile"
	else
		bad "under systemd's @system-service filter, $name: same output and status, a profile" \
			"status $s1 vs $s2" "$(diff "$work/plain.out" "$work/ward.out" | head -5)" \
			"$(diff "$work/plain.err" "$work/ward.err" | head -5)" \
			"$(grep '^ward: heap not classified' "$work/ward.all")" \
			"$(head -3 "$work/svc.report" 2>/dev/null)"
	fi
}
nrs=
if need systemd-analyze systemd; then
	printf '#include <sys/syscall.h>\n' | cc -dM -E - |
		awk '$1 == "#define" && $2 ~ /^__NR_/ && $3 ~ /^[0-9]+$/ {
			sub(/^__NR_/, "", $2); print $2, $3 }' | LC_ALL=C sort >"$work/nr.txt"
	service_calls @system-service | LC_ALL=C sort -u >"$work/svc.txt"
	nrs=$(LC_ALL=C join "$work/svc.txt" "$work/nr.txt" | awk '{ print $2 }' | paste -sd, -)
	n=$(printf '%s' "$nrs" | tr ',' '\n' | grep -c .)
	if [ "$n" -lt 200 ]; then
		bad "systemd's @system-service set has its calls" "$n calls: $(head -c 300 "$work/svc.txt")"
		nrs=
	fi
fi
if [ -n "$nrs" ]; then
	fresh
	filtered_same "python3 (300k objects)" /usr/bin/python3 -c "$py_objects"
	fresh
	seq 1 400000 >"$work/sandbox/data" && cp "$work/sandbox/data" "$work/sandbox2/"
	filtered_same "xz -T2 (threads)" sh -c 'xz -T2 -c data | xz -dc | md5sum'
	fresh
	filtered_same "sqlite3 (100k rows)" sqlite3 :memory: "$sql_rows"
	fresh
	filtered_same "threads still running at exit" "$leaks" running_threads
else
	for w in python3 "xz -T2" sqlite3 "threads running at exit"; do
		bad "under systemd's @system-service filter, $w" "no filter: install systemd (sudo apt-get install -y systemd)"
	done
fi

# A process that is not dumpable and not root, under that filter (no
# mincore()): no page of its memory can be told touched or not. The scan
# reads what /proc/self/smaps shows is all there, and a reservation with
# little to fault in; not a shared segment, whose every page reading
# would allocate (before: all 256 MiB of it, kept after the run), nor a
# 1 GiB reservation (before: a second and more of faults). The report
# says what it left unread.
untold_checks="profile segment segment-block written small reserved caveat"
if [ -n "$nrs" ]; then
	u=$(mktemp -d /tmp/ward-untold-XXXXXX)
	chmod 755 "$u" && mkdir "$u/out" && chmod 777 "$u/out"
	cp "$ward" "$build/libward_preload.so" "$leaks" "$build/syscall_filter" "$u/"
	as_user=
	[ "$(id -u)" = 0 ] && as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
	$as_user "$u/syscall_filter" "$nrs" "$u/ward" run -o "$u/out/untold.pb.gz" -- \
		"$u/leaks" untold >"$work/untold.out" 2>"$work/untold.err"
	st=$?
	seg=$(awk '/^segment / { print $2 }' "$work/untold.out")
	rss=$(awk -v id="$seg" '$2 == id { print $15 }' /proc/sysvipc/shm)
	[ -n "$seg" ] && ipcrm -m "$seg"
	# The report names functions from the copied program: kept until the
	# checks are done.
	cp "$u/out/untold.pb.gz" "$work/" 2>/dev/null
	if [ "$st" = 0 ] && [ -s "$work/untold.pb.gz" ]; then
		ok "not dumpable, not root, filtered: the program's status, a profile"
	else
		bad "not dumpable, not root, filtered: the program's status, a profile" \
			"status $st" "$(tail -3 "$work/untold.err")"
	fi
	if [ -n "$rss" ] && [ "$rss" -le 1048576 ]; then
		ok "... the scan allocates no page of a shared segment it cannot tell ($rss bytes resident)"
	else
		bad "... the scan allocates no page of a shared segment it cannot tell" \
			"segment '$seg': $rss bytes resident"
	fi
	expect_site "... a block held only in that segment shows as lost" \
		"$work/untold.pb.gz" untold_in_segment heap/definite "1 401"
	expect_site "... private memory every page of which is there is read" \
		"$work/untold.pb.gz" untold_in_written heap/reachable "1 402"
	expect_site "... a 16 MiB reservation with one page written is read" \
		"$work/untold.pb.gz" untold_in_small heap/reachable "1 403"
	expect_site "... a 1 GiB reservation with one page written is not" \
		"$work/untold.pb.gz" untold_in_reserved heap/definite "1 404"
	if grep -q '^ward: heap classified without [0-9]* KiB of memory whose touched pages' "$work/untold.err"; then
		ok "... and the summary says what it left unread"
	else
		bad "... and the summary says what it left unread" "$(head -12 "$work/untold.err")"
	fi
	rm -rf "$u"
else
	for w in $untold_checks; do
		bad "not dumpable, not root, filtered: $w" "no filter: install systemd (sudo apt-get install -y systemd)"
	done
fi

# ward report --by owner on the owner-tree example (examples/request_owner.c).
if "$build/request_owner" "$work/owners.pb.gz" >"$work/owners.out" 2>&1 &&
	"$ward" report --by owner "$work/owners.pb.gz" >"$work/byowner.txt" 2>&1; then
	got=$(awk '/^[^ ]/ { o = $0 } /^  .* heap / { print o "|" $1 "|" $3 "|" $5 }' "$work/byowner.txt" |
		sed 's/+0x[0-9a-f]*//' | tr '\n' ';')
	want="server/conn 2/request 9: heap 1 (2048 bytes), fd 1|2048|1|handle_request;(no owner): heap 5 (20480 bytes), owner 1|20480|5|slow_reply;"
	if [ "$got" = "$want" ]; then ok "report --by owner groups by owner path"; else
		bad "report --by owner groups by owner path" "got  $got" "want $want"; fi
	if grep -q '^server: owner 1$' "$work/byowner.txt" &&
		grep -q '^server/conn 2: owner 1$' "$work/byowner.txt"; then
		ok "report --by owner: an owner is held by its parent"
	else
		bad "report --by owner: an owner is held by its parent" "$(cat "$work/byowner.txt")"
	fi
else
	bad "report --by owner groups by owner path" "$(cat "$work/owners.out" "$work/byowner.txt" 2>/dev/null)"
	bad "report --by owner: an owner is held by its parent" "no report"
fi
# Every command is listed by ward --help, and each describes itself.
listed=$("$ward" --help | awk '/^Commands:/ { on = 1; next } on && NF { print $1 } on && !NF { exit }' |
	tr '\n' ' ')
helped=0
for c in $listed; do "$ward" "$c" --help >/dev/null 2>&1 && helped=$((helped + 1)); done
if [ "$listed" = "run report diff flame watch top " ] && [ "$helped" = 6 ]; then
	ok "ward --help lists every command, and each has its --help"
else
	bad "ward --help lists every command, and each has its --help" "listed: $listed; $helped answered --help"
fi
"$ward" report --by color "$work/owners.pb.gz" >/dev/null 2>"$work/bycolor.err"
status_is "report --by refuses what it does not know" 2 $? "$(cat "$work/bycolor.err")"

# A worker blocked on a pipe, leaked and then fixed (examples/blocked_worker.c).
"$build/blocked_worker" leaky >"$work/blocked.out" 2>"$work/blocked.err"
st=$?
if [ "$st" = 1 ] && grep -q 'did not end within 200 ms after its owner "server/conn 1"' "$work/blocked.err" &&
	grep -q '^	  worker_leaky+0x[0-9a-f]* (blocked_worker) blocked_worker.c:' "$work/blocked.out" &&
	grep -q 'read' "$work/blocked.out" && grep -q '^	serve+0x' "$work/blocked.out"; then
	ok "a leaked worker is reported blocked in read, with where it was started"
else
	bad "a leaked worker is reported blocked in read, with where it was started" "status $st" \
		"$(cat "$work/blocked.out" "$work/blocked.err")"
fi
"$build/blocked_worker" fixed >"$work/fixed.out" 2>"$work/fixed.err"
st=$?
if [ "$st" = 0 ] && [ ! -s "$work/fixed.err" ] && grep -q '^leaked: 0 threads$' "$work/fixed.out"; then
	ok "the worker that watches its context ends with its owner"
else
	bad "the worker that watches its context ends with its owner" "status $st" \
		"$(cat "$work/fixed.out" "$work/fixed.err")"
fi

# The live endpoint in an unmodified program (ward run --http).
if need go golang-go && need curl curl; then
	cp "$leaks" "$work/leaks_moved"
	"$ward" run --quiet --http 127.0.0.1:0 -o "$work/http.pb.gz" -- "$work/leaks_moved" spin \
		>"$work/http.out" 2>"$work/http.err" &
	for i in $(seq 1 100); do grep -q spinning "$work/http.out" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/^ward: serving .* on port \([0-9]*\) .*/\1/p' "$work/http.err")
	got=$(HOME=${HOME:-/tmp} go tool pprof -top "http://127.0.0.1:$port/debug/pprof/heap" 2>&1)
	case $got in
	*"leak_before_signal"*) ok "go tool pprof reads a traced program's live heap over HTTP" ;;
	*) bad "go tool pprof reads a traced program's live heap over HTTP" "port '$port'" "$got" "$(cat "$work/http.err")" ;;
	esac
	got=$(curl -s "http://127.0.0.1:$port/metrics" | grep -c '^ward_live{kind="heap"} [0-9]')
	if [ "$got" = 1 ]; then ok "a traced program serves /metrics"; else
		bad "a traced program serves /metrics" "$(curl -s "http://127.0.0.1:$port/metrics" | head -5)"; fi
	curl -s -o "$work/served.pb.gz" "http://127.0.0.1:$port/debug/pprof/heap"
	pkill -TERM -f "$work/leaks_moved spin"
	wait
	# The served profile names its frames itself: the binary can go.
	rm -f "$work/leaks_moved"
	got=$("$ward" report "$work/served.pb.gz" 2>&1)
	case $got in
	*"leak_before_signal (leaks_moved)"*) ok "a served profile keeps its names when the binary is gone" ;;
	*) bad "a served profile keeps its names when the binary is gone" "$got" ;;
	esac
fi

# ward's threads have stacks of their own size: under `ulimit -s 64`
# (the default stack of every thread the program starts) the endpoint's
# thread serves a profile, and the program lives on.
if need curl curl; then
	(ulimit -s 64 && exec "$ward" run --quiet --http 127.0.0.1:0 -o "$work/http64.pb.gz" -- "$leaks" spin) \
		>"$work/http64.out" 2>"$work/http64.err" &
	for i in $(seq 1 100); do grep -q spinning "$work/http64.out" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/^ward: serving .* on port \([0-9]*\) .*/\1/p' "$work/http64.err")
	curl -s -o "$work/served64.pb.gz" "http://127.0.0.1:$port/debug/pprof/heap"
	sleep 0.2
	alive=$(pgrep -f "$leaks spin" | head -1)
	pkill -TERM -f "$leaks spin"
	wait
	if [ -n "$alive" ] && "$ward" report "$work/served64.pb.gz" 2>&1 | grep -q leak_before_signal; then
		ok "under ulimit -s 64 the endpoint serves the heap profile, and the program lives on"
	else
		bad "under ulimit -s 64 the endpoint serves the heap profile, and the program lives on" \
			"alive '$alive'" "$(cat "$work/http64.err")"
	fi
fi

# Only the program ward run started serves: the programs it runs do not
# each open a port (or fail to take the same one, a line each).
"$ward" run --http 127.0.0.1:0 -o "$work/http_kids.pb.gz" -- sh -c '/bin/true; /bin/true' \
	>/dev/null 2>"$work/http_kids.err"
if [ "$(grep -c '^ward: serving ' "$work/http_kids.err")" = 1 ] &&
	! grep -q '^ward: no endpoint' "$work/http_kids.err"; then
	ok "ward run --http: the program serves, the programs it runs do not"
else
	bad "ward run --http: the program serves, the programs it runs do not" "$(cat "$work/http_kids.err")"
fi

# Asking for every thread's stack (threads?debug=2) does not end a sleep
# or a poll early: those threads are read where they sleep, not sent a
# signal, and still shown there.
if need curl curl; then
	"$ward" run --quiet --http 127.0.0.1:0 -o "$work/naps.pb.gz" -- "$leaks" naps \
		>"$work/naps.out" 2>"$work/naps.err" &
	for i in $(seq 1 100); do grep -q ready "$work/naps.out" 2>/dev/null && break; sleep 0.05; done
	sleep 0.3
	port=$(sed -n 's/^ward: serving .* on port \([0-9]*\) .*/\1/p' "$work/naps.err")
	curl -s -o "$work/naps.threads" "http://127.0.0.1:$port/debug/pprof/threads?debug=2"
	curl -s -o /dev/null "http://127.0.0.1:$port/debug/pprof/threads?debug=2"
	wait
	if grep -q '^slept 2$' "$work/naps.out" && grep -q '^poll 0$' "$work/naps.out"; then
		ok "every thread's stack asked for: a sleep and a poll run their whole time"
	else
		bad "every thread's stack asked for: a sleep and a poll run their whole time" \
			"$(cat "$work/naps.out" "$work/naps.err")"
	fi
	if grep -q 'naps_sleeper+' "$work/naps.threads" && grep -q 'naps_poller+' "$work/naps.threads"; then
		ok "... and the stack of each is shown where it sleeps"
	else
		bad "... and the stack of each is shown where it sleeps" "$(cat "$work/naps.threads")"
	fi
fi

# ... nor a wait with a timeout, asked for again and again: a recv() on a
# socket with SO_RCVTIMEO and a sem_timedwait() are read where they wait,
# not sent the signal, and end at their timeout (before, each failed
# with EINTR at the first ask).
if need curl curl; then
	"$ward" run --quiet --http 127.0.0.1:0 -o "$work/timed.pb.gz" -- "$leaks" timed_waits \
		>"$work/timed.out" 2>"$work/timed.err" &
	for i in $(seq 1 100); do grep -q ready "$work/timed.out" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/^ward: serving .* on port \([0-9]*\) .*/\1/p' "$work/timed.err")
	asked=0
	while [ "$(grep -c ' after ' "$work/timed.out")" -lt 2 ] && [ "$asked" -lt 60 ]; do
		curl -s -o "$work/timed.threads" "http://127.0.0.1:$port/debug/pprof/threads?debug=2" &&
			asked=$((asked + 1))
		sleep 0.1
	done
	wait
	waits_ok=$(awk '$2 == "timed" && $3 == "out" && $5 >= 0.95 && $5 < 3 { n++ } END { print n + 0 }' "$work/timed.out")
	if [ "$waits_ok" = 2 ] && [ "$asked" -ge 3 ]; then
		ok "every thread's stack asked for again and again: a recv() with SO_RCVTIMEO and a sem_timedwait() end at their timeout, no EINTR"
	else
		bad "every thread's stack asked for again and again: a recv() with SO_RCVTIMEO and a sem_timedwait() end at their timeout, no EINTR" \
			"asked $asked times" "$(cat "$work/timed.out" "$work/timed.err")"
	fi
fi

# Threads asleep when the program ends: the exit's scan stops each to read
# its registers, and none wakes early for it (each would print so), nor is
# the classification partial for them.
run_leaks sleepers
st=$?
if [ "$st" = 0 ] && [ "$(cat "$work/sleepers.out")" = "$(printf 'done\ndone sleepers')" ] &&
	! grep -q "heap classified without the registers" "$work/sleepers.err"; then
	ok "the exit's scan wakes no thread asleep in sleep, usleep, poll, epoll_wait, select, pause, sem_timedwait, recv, connect"
else
	bad "the exit's scan wakes no thread asleep in sleep, usleep, poll, epoll_wait, select, pause, sem_timedwait, recv, connect" \
		"status $st: $(cat "$work/sleepers.out" "$work/sleepers.err")"
fi
# Leak checks asked for every 150 ms stop every thread each time: a wait
# whose timeout the kernel does not count down goes back with what is
# left of it, and ends within twice its timeout (before, sent back whole
# each time, each waited as long as the checks went on: 6 s and more).
run_leaks checked_waits
st=$?
waits_ok=$(awk '$2 == "timed" && $3 == "out" && $4 == "after" && $5 >= 0.95 && $5 < 4 { n++ }
	END { print n + 0 }' "$work/checked_waits.out")
# io_uring_enter is waited on where the kernel has io_uring (a sandbox
# may turn it off): the line names it either way.
uring="io_uring_enter"
if grep -q "^io_uring_enter unavailable" "$work/checked_waits.out"; then
	waits_ok=$((waits_ok + 1))
	uring="io_uring_enter ($(sed -n 's/^io_uring_enter //p' "$work/checked_waits.out"), not checked)"
fi
if [ "$st" = 0 ] && [ "$waits_ok" = 9 ] && grep -q "^checks 3 or more$" "$work/checked_waits.out"; then
	ok "leak checks every 150 ms: poll, epoll_wait, epoll_pwait, a futex wait, a bare nanosleep, semtimedop, io_getevents, a recv with SO_RCVTIMEO and $uring of 1 s each end in 1 to 4 s (within twice the timeout and a loaded machine's slack)"
else
	bad "leak checks every 150 ms: poll, epoll_wait, epoll_pwait, a futex wait, a bare nanosleep, semtimedop, io_getevents, a recv with SO_RCVTIMEO and $uring of 1 s each end in 1 to 4 s (within twice the timeout and a loaded machine's slack)" \
		"status $st: $(cat "$work/checked_waits.out" "$work/checked_waits.err")"
fi
# ... and a call a handler ends with EINTR, SA_RESTART or not, goes back
# in: the program never sees an EINTR of ward's making (before, msgsnd(),
# semop(), recvmmsg(), sendmmsg() and sendfile() with a timeout saw one).
run_leaks checked_ipc
st=$?
if [ "$st" = 0 ] && [ "$(grep -c ' went on$' "$work/checked_ipc.out")" = 5 ]; then
	ok "leak checks every 100 ms: msgsnd, semop, recvmmsg, sendmmsg and sendfile blocked meanwhile go on, with no EINTR"
else
	bad "leak checks every 100 ms: msgsnd, semop, recvmmsg, sendmmsg and sendfile blocked meanwhile go on, with no EINTR" \
		"status $st: $(cat "$work/checked_ipc.out" "$work/checked_ipc.err")"
fi
# The scan's signal is a real-time one, which the kernel queues within
# the user's limit of pending signals (RLIMIT_SIGPENDING, counted over
# every process of the user's): at 1, in a user namespace of its own,
# the threads are stopped one after another; at 0 the line says so.
if unshare --user --map-root-user true 2>/dev/null; then
	userns="a user namespace of its own"
	(exec unshare --user --map-root-user prlimit --sigpending=1 "$ward" run --quiet -o "$work/sigq1.pb.gz" -- \
		"$leaks" sleepers) >"$work/sigq1.out" 2>"$work/sigq1.err"
	st=$?
	classified() { ! grep -q "not classified" "$work/sigq1.err"; }
else
	# Shared with the user's other processes, whose pending signals
	# may hold the one place: stopped, or the line naming the limit.
	userns="this user namespace (unshare --user is not allowed here): stopped, or the limit named"
	(exec prlimit --sigpending=1 "$ward" run --quiet -o "$work/sigq1.pb.gz" -- "$leaks" sleepers) >"$work/sigq1.out" 2>"$work/sigq1.err"
	st=$?
	classified() {
		! grep -q "not classified" "$work/sigq1.err" ||
			grep -q "^ward: heap not classified: .*could not be queued .*RLIMIT_SIGPENDING or .ulimit -i., is 1 and was reached" "$work/sigq1.err"
	}
fi
if [ "$st" = 0 ] && classified && [ -s "$work/sigq1.pb.gz" ]; then
	ok "nine threads running at exit, a queue of one pending signal ($userns): the scan stops them one after another"
else
	bad "nine threads running at exit, a queue of one pending signal ($userns): the scan stops them one after another" \
		"status $st: $(cat "$work/sigq1.err")"
fi
(exec prlimit --sigpending=0 "$ward" run --quiet -o "$work/sigq0.pb.gz" -- "$leaks" sleepers) >"$work/sigq0.out" 2>"$work/sigq0.err"
st=$?
if [ "$st" = 0 ] && [ "$(cat "$work/sigq0.out")" = "$(printf 'done\ndone sleepers')" ] && [ -s "$work/sigq0.pb.gz" ] &&
	grep -q "^ward: heap not classified: .*could not be queued .*RLIMIT_SIGPENDING or .ulimit -i., is 0 and was reached" "$work/sigq0.err"; then
	ok "... with none: the profile, and the line names the limit"
else
	bad "... with none: the profile, and the line names the limit" "status $st: $(cat "$work/sigq0.out" "$work/sigq0.err")"
fi

# A binary rebuilt at the same path has another build id: the profile's
# frames are not named from it (every name would be wrong), and ward says so.
rebuilt() { # NAME SIZE (a change in code: names alone leave the build id)
	printf '#include <stdlib.h>\n__attribute__((noinline)) void *%s(void) { return malloc(%s); }\nvoid *volatile kept;\nint main(void) { kept = %s(); kept = 0; return 0; }\n' \
		"$1" "$2" "$1" >"$work/rebuilt.c"
	cc -O0 -g0 -Wl,--build-id -o "$work/rebuilt" "$work/rebuilt.c"
}
rebuilt first_version_leak 100
"$ward" run --quiet -o "$work/rebuilt.pb.gz" -- "$work/rebuilt"
got=$("$ward" report "$work/rebuilt.pb.gz" 2>&1)
case $got in
*"first_version_leak+"*) ok "a profile is named from the binary it was written from" ;;
*) bad "a profile is named from the binary it was written from" "$got" ;;
esac
# The C library's static functions are named from its separate debug file
# (libc6-dbg), found by build id.
if dpkg -s libc6-dbg >/dev/null 2>&1; then
	case $got in
	*"__libc_start_call_main+"*"(libc.so.6)"*) ok "libc's static functions are named from its separate debug file" ;;
	*) bad "libc's static functions are named from its separate debug file" "$got" ;;
	esac
else
	bad "libc6-dbg is missing" "install it with: sudo apt-get install -y libc6-dbg"
fi
rebuilt other_version_name 101
got=$("$ward" report "$work/rebuilt.pb.gz" 2>&1)
case $got in
*other_version_name*) bad "a rebuilt binary does not name an older profile's frames" "$got" ;;
*"rebuilt is not the file the profile was written from (build id"*"its frames are left unnamed"*)
	ok "a rebuilt binary does not name an older profile's frames, and ward says why" ;;
*) bad "a rebuilt binary does not name an older profile's frames, and ward says why" "$got" ;;
esac

# examples/growing_cache.c in the background for SECONDS; $port is where
# it serves.
start_growing_cache() { # OUT SECONDS
	"$build/growing_cache" 0 "$2" >"$1" 2>&1 &
	for i in $(seq 1 50); do grep -q 'serving on port' "$1" 2>/dev/null && break; sleep 0.05; done
	port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$1")
}

# ward watch names the cache that grows, not the sites that stay level.
start_growing_cache "$work/gc.out" 8
"$ward" watch "http://127.0.0.1:$port/debug/pprof/heap" --every 1 --window 3 --count 4 \
	>"$work/watch.out" 2>&1
wait
growing=$(grep -c '^  growing: heap' "$work/watch.out")
first=$(grep -A1 '^  growing:' "$work/watch.out" | grep -v '^  growing:' | grep -v '^--' | sort -u | tr -d '\t')
if [ "$growing" = 2 ] && [ "$first" = cache_insert ]; then
	ok "ward watch names the growing cache and nothing else"
else
	bad "ward watch names the growing cache and nothing else" "$(cat "$work/watch.out")"
fi
# ward top: the sites largest first, with what each gained since the last
# fetch: the cache climbs, the level site stays at +0.
start_growing_cache "$work/gc2.out" 6
"$ward" top "http://127.0.0.1:$port/debug/pprof/heap" --every 1 --count 3 --lines 5 \
	>"$work/top.out" 2>&1
wait
# (A request's scratch block, live for a moment every 10 ms, may be
# caught by a fetch: only the two sites compared are looked at.)
last=$(awk '/^ward top:/ { n++ } n == 3 && / heap (cache_insert|serve)$/ { print $6, ($2 > 0 ? "up" : $2) }' "$work/top.out" | tr '\n' ' ')
if [ "$last" = "cache_insert up serve +0 " ]; then
	ok "ward top lists the sites largest first, with the cache's climb since the last fetch"
else
	bad "ward top lists the sites largest first, with the cache's climb since the last fetch" "$(cat "$work/top.out")"
fi
"$ward" watch "http://127.0.0.1:1/debug/pprof/heap" --count 1 >/dev/null 2>"$work/watch.err"
status_is "ward watch: an endpoint that does not answer is one line, status 2" 2 $? \
	"$(cat "$work/watch.err")"
# An endpoint that stalls, or answers without end: one line and status 2,
# within --timeout, holding no more than a bounded answer.
for how in stall endless; do
	"$leaks" bad_endpoint $how >"$work/bad_endpoint.port" 2>/dev/null &
	ep=$!
	port=
	for i in 1 2 3 4 5 6 7 8 9 10; do
		port=$(head -1 "$work/bad_endpoint.port")
		[ -n "$port" ] && break
		sleep 0.1
	done
	"$ward" watch "http://127.0.0.1:$port/debug/pprof/heap" --count 1 --timeout 2 >/dev/null 2>"$work/watch_bad.err"
	st=$?
	kill $ep 2>/dev/null
	wait $ep 2>/dev/null
	case $how in
	stall) want="did not finish its answer within 2 seconds" ;;
	*) want="sent more than 256 MiB: not a profile\|did not finish its answer within 2 seconds" ;;
	esac
	if [ "$st" = 2 ] && [ "$(wc -l <"$work/watch_bad.err")" = 1 ] && grep -q "$want" "$work/watch_bad.err"; then
		ok "ward watch: an endpoint that answers ($how) is one line, status 2"
	else
		bad "ward watch: an endpoint that answers ($how) is one line, status 2" "status $st: $(cat "$work/watch_bad.err")"
	fi
done

# The ward command runs where the program does: under a `ulimit -s` as
# small as the program's own needs (it reads debug information, which
# takes tens of kilobytes of stack, on a stack of its own). The limit is
# the least the program runs under alone (the environment counts), and 8
# KiB more for the tracer's frames in it.
least=
for kib in $(seq 16 8 256); do
	(ulimit -s $kib && exec "$leaks" malloc_loop) >/dev/null 2>&1 && { least=$kib; break; }
done
if [ -z "$least" ]; then
	bad "ward run and ward report under a small ulimit -s: the case ran" "the program did not run alone under any limit up to 256 KiB"
else
	small=$((least + 8))
	(ulimit -s $small && exec "$ward" run --fail-on-leak -o "$work/small_stack_run.pb.gz" -- "$leaks" malloc_loop) \
		>/dev/null 2>"$work/small_stack_run.err"
	st=$?
	(ulimit -s $small && exec "$ward" report "$work/small_stack_run.pb.gz") >"$work/small_stack_report.out" 2>>"$work/small_stack_run.err"
	st2=$?
	if [ "$st" = 1 ] && [ "$st2" = 0 ] && grep -q "leak_malloc_loop" "$work/small_stack_report.out"; then
		ok "ward run --fail-on-leak and ward report under ulimit -s $small ($least alone)"
	else
		bad "ward run --fail-on-leak and ward report under ulimit -s $small ($least alone)" "status $st $st2: $(cat "$work/small_stack_run.err")"
	fi
fi

# Every check above ran (one that did not is a failure too).
planned=471
ran=$((pass + fail))
[ "$ran" -eq "$planned" ] || bad "every check ran" "$ran of $planned"
if [ "$fail" -gt 0 ]; then
	echo "preload: what failed, once more:"
	cat "$work/failures"
fi
echo "preload: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
