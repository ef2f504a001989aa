#!/bin/sh
# The include rules of docs/layout.md: each folder of the pipeline includes
# headers only from the stages before it, its own, and the public ward/.
# A folder the table below does not know, a source file outside the
# folders, or an include the table does not allow fails, naming the file
# and line. The check counts the files it read and fails when it read none.
#
#   sh tests/layout/check.sh [SOURCE_DIR]
set -u
cd "${1:-$(dirname "$0")/../..}" || exit 2

# The stages a folder's files may include.
allowed() {
	case $1 in
	src/core) echo "" ;;
	src/capture) echo "core" ;;
	src/registry) echo "core capture" ;;
	src/lifetime) echo "core capture registry scan" ;;
	src/scan) echo "core capture registry" ;;
	src/snapshot) echo "core registry scan" ;;
	src/export) echo "core snapshot" ;;
	src/serve) echo "core scan snapshot export" ;;
	src/trace) echo "core capture registry lifetime scan snapshot export serve" ;;
	preload) echo "core capture registry lifetime snapshot trace" ;;
	tools/ward) echo "core" ;; # its own path, text, stacks; the rest is ward/
	*) echo "?" ;;
	esac
}

# Lines "file:line: message" for every include of f its folder may not make.
check_file() { # dir own ok f
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' "$4" |
	while IFS= read -r line; do
		inc=${line#*\"}
		inc=${inc%%\"*}
		stage=${inc%%/*}
		case " ward $2 $3 " in
		*" $stage "*) ;;
		*) echo "$4:${line%%:*}: includes \"$inc\"; $1 may include ward/, its own${3:+, }$3" ;;
		esac
	done
}

out=""
files=0
for f in src/*.c src/*.h; do
	[ -e "$f" ] && out="$out$f: every source file lives in a stage folder
"
done
for dir in src/* preload tools/ward; do
	[ -d "$dir" ] || continue
	ok=$(allowed "$dir")
	if [ "$ok" = "?" ]; then
		out="$out$dir: a folder the include rules do not know (add it to tests/layout/check.sh and docs/layout.md)
"
		continue
	fi
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -e "$f" ] || continue
		files=$((files + 1))
		out="$out$(check_file "$dir" "${dir#src/}" "$ok" "$f")"
		[ -n "$out" ] && [ "${out%?}" != "$out" ] && case $out in *"
") ;; *) out="$out
" ;; esac
	done
done
# The version is set in include/ward/core.h; the manual page names it.
v=$(sed -n 's/^#define WARD_VERSION_\(MAJOR\|MINOR\|PATCH\) *\([0-9]*\).*/\2/p' include/ward/core.h | paste -sd.)
grep -q "\"ward $v\"" docs/ward.1 || out="${out}docs/ward.1: does not name version $v (include/ward/core.h)
"
if [ "$files" -lt 20 ]; then
	echo "layout: read $files source files; expected the whole tree (is this the source directory?)"
	exit 1
fi
if [ -n "$out" ]; then
	printf '%s' "$out" | sed 's/^/layout: /'
	echo "layout: $(printf '%s' "$out" | grep -c .) violations in $files files (docs/layout.md)"
	exit 1
fi
echo "layout: $files files follow the include rules"
