#!/bin/sh
# `make install` gives a working ward: headers, libraries, ward.pc, the CMake
# package and the ward command, used from a temporary prefix the way a
# consumer would.
#
#   run.sh SOURCE_DIR BUILD_DIR
set -u
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/ward-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; shift; for l in "$@"; do echo "  $l"; done; }

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
	bad "cmake --install" "$(tail -5 "$work/install.log")"
cat >"$work/app.c" <<'C'
#include <ward.h>
#include <stdio.h>
static void say(void *s) { puts(s); }
static void boom(void *unused) { (void)unused; ward_panic(3, "boom"); }
int main(void)
{
	WARD_FRAME;
	ward_defer(say, "deferred");
	const ward_panic_t *p = ward_pcall(boom, NULL);
	printf("recovered %s %d\n", p ? p->message : "nothing", p ? p->code : 0);
	return 0;
}
C
want="recovered boom 3
deferred"

pc="$work/prefix/lib/pkgconfig"
if command -v pkg-config >/dev/null 2>&1; then
	if cc "$work/app.c" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs ward) \
		-Wl,-rpath,"$work/prefix/lib" -o "$work/app-pc" 2>"$work/pc.err" &&
		[ "$("$work/app-pc")" = "$want" ]; then
		ok "pkg-config --cflags --libs ward"
	else
		bad "pkg-config --cflags --libs ward" "$(cat "$work/pc.err")"
	fi
else
	bad "pkg-config is missing" "install it with: sudo apt-get install -y pkg-config"
fi

mkdir -p "$work/cm"
cat >"$work/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(ward REQUIRED)
add_executable(app $work/app.c)
target_link_libraries(app ward::ward)
CM
if cmake -S "$work/cm" -B "$work/cm/b" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/cm.log" 2>&1 &&
	cmake --build "$work/cm/b" >>"$work/cm.log" 2>&1 &&
	[ "$("$work/cm/b/app")" = "$want" ]; then
	ok "find_package(ward) and ward::ward"
else
	bad "find_package(ward) and ward::ward" "$(tail -5 "$work/cm.log")"
fi

out=$("$work/prefix/bin/ward" run --quiet -o "$work/p.pb.gz" -- /bin/echo hello 2>&1)
if [ "$out" = hello ] && [ -s "$work/p.pb.gz" ]; then
	ok "the installed ward finds its preload library"
else
	bad "the installed ward finds its preload library" "$out"
fi
[ -f "$work/prefix/share/man/man1/ward.1" ] && ok "man page installed" ||
	bad "man page installed"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
