#!/bin/sh
# The frame/defer/panic tests and the differential batch against Go, built
# another way: with clang (its optimiser breaks assumptions gcc happens to
# keep), or with -fexceptions (unwinding through C frames). A tree of its
# own under BUILD_DIR/variant-NAME.
#
#   run.sh SRC_DIR BUILD_DIR NAME CC CFLAGS SANITIZERS(ON|OFF) [BATCH(ON|OFF)] [all]
#
# BATCH OFF leaves out the differential batch (the unit tests only). "all"
# builds the whole tree and runs every test it has (the tracer on real
# programs, the CLI, the library's modules), the other variants aside.
set -u
src=$1 build=$2 name=$3 cc=$4 cflags=$5 san=$6 batch=${7:-ON} what=${8:-}
dir="$build/variant-$name"
mkdir -p "$dir" || exit 1
command -v "$cc" >/dev/null 2>&1 ||
	{ echo "variant $name: $cc is missing; install it with: sudo apt-get install -y $cc" >&2; exit 1; }
cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARD_WERROR=ON \
	-DWARD_SANITIZER_TESTS="$san" -DWARD_VALGRIND_TESTS=OFF \
	-DWARD_TSAN_TESTS=OFF -DWARD_GO_TESTS="$batch" -DWARD_VARIANT_TESTS=OFF >"$dir.log" 2>&1 ||
	{ tail -20 "$dir.log"; exit 1; }
targets="test_defer test_conformance ward_static"
[ "$san" = ON ] && targets="$targets test_defer_asan test_conformance_asan ward_asan"
[ "$what" = all ] && targets=all
cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" --target $targets >>"$dir.log" 2>&1 ||
	{ grep -E "error|warning" "$dir.log" | head -20; exit 1; }
suites="defer|conformance|go_differential"
[ "$batch" = OFF ] && suites="defer|conformance"
tests="^($suites)\$"
[ "$san" = ON ] && tests="^($suites)(_asan)?\$"
# (prometheus aside: one scraping server at a time is enough)
exclude='^$'
[ "$what" = all ] && tests=. exclude='^prometheus$'
# The differential batch compiles its C programs with $CC.
cd "$dir" && CC="$cc $cflags" ctest --output-on-failure -R "$tests" -E "$exclude"
