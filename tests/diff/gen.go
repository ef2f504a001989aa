// gen writes random programs made of nested calls, defers (including defers
// registered by deferred functions), conditional defers, defers in loops,
// block-scoped frames, panics, direct and indirect recovers, re-panics and
// Goexit — each program twice, once as Go and once as C with ward. The two
// must print the same trace, end with the same status and report the same
// panic chain; run.sh builds both, runs them and compares.
//
// All programs of a batch go into one Go file and one C file; the program
// to run is chosen by its number on the command line.
//
//	go run gen.go -seed 1 -count 300 -out DIR   # writes DIR/progs.go, DIR/progs.c
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
)

type kind int

const (
	kSay kind = iota
	kCall
	kDefer
	kCondDefer
	kLoopDefer
	kPanic
	kRecover
	kHelperRecover
	kRepanic
	kGoexit
	kBlock
	kReturn
)

type stmt struct {
	k      kind
	id     int    // unique label within the program
	target int    // function called or deferred
	arg    int    // argument of a defer, loop count, or flag index
	body   []stmt // for kBlock
}

type fn struct {
	deferred bool // takes an int argument and is only ever deferred
	body     []stmt
}

type prog struct {
	fns   []fn
	flags []bool
}

type gen struct {
	r    *rand.Rand
	next int
}

func (g *gen) pick(weights map[kind]int) kind {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.r.Intn(total)
	// Iterate in a fixed order so a seed always gives the same program.
	for k := kSay; k <= kReturn; k++ {
		w := weights[k]
		if n < w {
			return k
		}
		n -= w
	}
	panic("unreachable")
}

// body returns statements for function i of p; functions may only reference
// functions after them, so every program terminates.
func (g *gen) body(p *prog, i int, inBlock bool) []stmt {
	var out []stmt
	n := 1 + g.r.Intn(5)
	self := p.fns[i]
	for len(out) < n {
		w := map[kind]int{kSay: 3, kPanic: 1, kBlock: 1, kGoexit: 0}
		if self.deferred {
			w[kRecover] = 3
			w[kRepanic] = 2
			w[kHelperRecover] = 1
			w[kPanic] = 2
		} else {
			w[kRecover] = 1
			w[kHelperRecover] = 1
		}
		if g.r.Intn(25) == 0 {
			w[kGoexit] = 2
		}
		if inBlock {
			// A C block is not a function: a recover in it is called
			// by the enclosing function, unlike in a Go closure
			// (docs/semantics.md). Blocks hold no recovers, returns
			// or nested blocks.
			w[kBlock] = 0
			w[kRecover] = 0
			w[kRepanic] = 0
		} else {
			w[kReturn] = 1
		}
		var calls, defers []int
		for j := i + 1; j < len(p.fns); j++ {
			if p.fns[j].deferred {
				defers = append(defers, j)
			} else {
				calls = append(calls, j)
			}
		}
		if len(calls) > 0 {
			w[kCall] = 2
		}
		if len(defers) > 0 {
			w[kDefer] = 4
			w[kCondDefer] = 1
			w[kLoopDefer] = 1
		}
		s := stmt{k: g.pick(w), id: g.next}
		g.next++
		switch s.k {
		case kCall:
			s.target = calls[g.r.Intn(len(calls))]
		case kDefer:
			s.target = defers[g.r.Intn(len(defers))]
			s.arg = g.r.Intn(10)
		case kCondDefer:
			s.target = defers[g.r.Intn(len(defers))]
			s.arg = g.r.Intn(len(p.flags))
		case kLoopDefer:
			s.target = defers[g.r.Intn(len(defers))]
			s.arg = 1 + g.r.Intn(3)
		case kReturn:
			s.arg = g.r.Intn(len(p.flags))
		case kBlock:
			s.body = g.body(p, i, true)
		}
		out = append(out, s)
		// Nothing after an unconditional panic or Goexit would run.
		if s.k == kPanic || s.k == kGoexit {
			break
		}
	}
	return out
}

func (g *gen) program() *prog {
	p := &prog{}
	nf := 3 + g.r.Intn(6)
	p.fns = make([]fn, nf)
	for i := 1; i < nf; i++ {
		p.fns[i].deferred = g.r.Intn(3) > 0
	}
	for i := 0; i < 6; i++ {
		p.flags = append(p.flags, g.r.Intn(2) == 0)
	}
	g.next = 0
	for i := range p.fns {
		p.fns[i].body = g.body(p, i, false)
	}
	return p
}

// ---- Go ----------------------------------------------------------------

func goStmts(w *strings.Builder, pi int, ss []stmt, ind string) {
	for _, s := range ss {
		switch s.k {
		case kSay:
			fmt.Fprintf(w, "%ssay(\"s%d\")\n", ind, s.id)
		case kCall:
			fmt.Fprintf(w, "%sp%d_f%d(%d)\n", ind, pi, s.target, s.id)
		case kDefer:
			fmt.Fprintf(w, "%sdefer p%d_f%d(%d)\n", ind, pi, s.target, s.arg)
		case kCondDefer:
			fmt.Fprintf(w, "%sif p%d_flags[%d] {\n%s\tdefer p%d_f%d(%d)\n%s}\n",
				ind, pi, s.arg, ind, pi, s.target, 100+s.id, ind)
		case kLoopDefer:
			fmt.Fprintf(w, "%sfor i := 0; i < %d; i++ {\n%s\tdefer p%d_f%d(i)\n%s}\n",
				ind, s.arg, ind, pi, s.target, ind)
		case kPanic:
			fmt.Fprintf(w, "%spanic(\"p%d\")\n", ind, s.id)
		case kRecover:
			fmt.Fprintf(w, "%sif r := recover(); r != nil {\n%s\tsay(fmt.Sprint(\"r%d:\", r))\n%s} else {\n%s\tsay(\"r%d:nil\")\n%s}\n",
				ind, ind, s.id, ind, ind, s.id, ind)
		case kHelperRecover:
			fmt.Fprintf(w, "%shelper(%d)\n", ind, s.id)
		case kRepanic:
			fmt.Fprintf(w, "%sif r := recover(); r != nil {\n%s\tpanic(fmt.Sprint(\"re%d:\", r))\n%s}\n",
				ind, ind, s.id, ind)
		case kGoexit:
			fmt.Fprintf(w, "%sruntime.Goexit()\n", ind)
		case kReturn:
			fmt.Fprintf(w, "%sif p%d_flags[%d] {\n%s\tsay(\"ret%d\")\n%s\treturn\n%s}\n",
				ind, pi, s.arg, ind, s.id, ind, ind)
		case kBlock:
			fmt.Fprintf(w, "%sfunc() {\n", ind)
			goStmts(w, pi, s.body, ind+"\t")
			fmt.Fprintf(w, "%s}()\n", ind)
		}
	}
}

func writeGo(path string, progs []*prog) error {
	var w strings.Builder
	w.WriteString("// Generated by tests/diff/gen.go. Do not edit.\npackage main\n\n")
	w.WriteString("import (\n\t\"fmt\"\n\t\"os\"\n\t\"runtime\"\n\t\"strconv\"\n)\n\n")
	w.WriteString("var _ = runtime.Goexit\n\n")
	w.WriteString("func say(s string) { fmt.Println(s) }\n\n")
	w.WriteString("//go:noinline\nfunc helper(id int) {\n\tif r := recover(); r != nil {\n\t\tsay(fmt.Sprint(\"h\", id, \":\", r))\n\t} else {\n\t\tsay(fmt.Sprint(\"h\", id, \":nil\"))\n\t}\n}\n\n")
	for pi, p := range progs {
		fmt.Fprintf(&w, "var p%d_flags = []bool{", pi)
		for i, f := range p.flags {
			if i > 0 {
				w.WriteString(", ")
			}
			fmt.Fprintf(&w, "%v", f)
		}
		w.WriteString("}\n\n")
		for fi, f := range p.fns {
			fmt.Fprintf(&w, "func p%d_f%d(a int) {\n", pi, fi)
			fmt.Fprintf(&w, "\tsay(fmt.Sprint(\"f%d:\", a))\n", fi)
			goStmts(&w, pi, f.body, "\t")
			w.WriteString("}\n\n")
		}
	}
	w.WriteString("var progs = []func(int){\n")
	for pi := range progs {
		fmt.Fprintf(&w, "\tp%d_f0,\n", pi)
	}
	w.WriteString("}\n\n")
	w.WriteString("func main() {\n\tn, _ := strconv.Atoi(os.Args[1])\n\tprogs[n](0)\n\tsay(\"end\")\n}\n")
	return os.WriteFile(path, []byte(w.String()), 0o644)
}

// ---- C -----------------------------------------------------------------

func cStmts(w *strings.Builder, pi int, ss []stmt, ind string) {
	for _, s := range ss {
		switch s.k {
		case kSay:
			fmt.Fprintf(w, "%ssay(\"s%d\");\n", ind, s.id)
		case kCall:
			fmt.Fprintf(w, "%sp%d_f%d((void *)(intptr_t)%d);\n", ind, pi, s.target, s.id)
		case kDefer:
			fmt.Fprintf(w, "%sward_defer(p%d_f%d, (void *)(intptr_t)%d);\n", ind, pi, s.target, s.arg)
		case kCondDefer:
			fmt.Fprintf(w, "%sif (p%d_flags[%d])\n%s\tward_defer(p%d_f%d, (void *)(intptr_t)%d);\n",
				ind, pi, s.arg, ind, pi, s.target, 100+s.id)
		case kLoopDefer:
			fmt.Fprintf(w, "%sfor (int i = 0; i < %d; i++)\n%s\tward_defer(p%d_f%d, (void *)(intptr_t)i);\n",
				ind, s.arg, ind, pi, s.target)
		case kPanic:
			fmt.Fprintf(w, "%sward_panic(0, \"p%d\");\n", ind, s.id)
		case kRecover:
			fmt.Fprintf(w, "%s{\n%s\tconst ward_panic_t *r = ward_recover();\n%s\tsayf(\"r%d:%%s\", r ? r->message : \"nil\");\n%s}\n",
				ind, ind, ind, s.id, ind)
		case kHelperRecover:
			fmt.Fprintf(w, "%shelper(%d);\n", ind, s.id)
		case kRepanic:
			fmt.Fprintf(w, "%s{\n%s\tconst ward_panic_t *r = ward_recover();\n%s\tif (r)\n%s\t\tward_panic(0, \"re%d:%%s\", r->message);\n%s}\n",
				ind, ind, ind, ind, s.id, ind)
		case kGoexit:
			fmt.Fprintf(w, "%sward_goexit();\n", ind)
		case kReturn:
			fmt.Fprintf(w, "%sif (p%d_flags[%d]) {\n%s\tsay(\"ret%d\");\n%s\treturn;\n%s}\n",
				ind, pi, s.arg, ind, s.id, ind, ind)
		case kBlock:
			fmt.Fprintf(w, "%sdo {\n%s\tWARD_FRAME_RESUMABLE(break);\n", ind, ind)
			cStmts(w, pi, s.body, ind+"\t")
			fmt.Fprintf(w, "%s} while (0);\n", ind)
		}
	}
}

func writeC(path string, progs []*prog) error {
	var w strings.Builder
	w.WriteString("/* Generated by tests/diff/gen.go. Do not edit. */\n")
	w.WriteString("#include <pthread.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <ward.h>\n\n")
	w.WriteString("static void say(const char *s) { printf(\"%s\\n\", s); }\n")
	w.WriteString("#define sayf(...) (printf(__VA_ARGS__), printf(\"\\n\"))\n\n")
	w.WriteString("static __attribute__((noinline)) void helper(int id)\n{\n\tconst ward_panic_t *r = ward_recover();\n\tprintf(\"h%d:%s\\n\", id, r ? r->message : \"nil\");\n}\n\n")
	for pi, p := range progs {
		fmt.Fprintf(&w, "static const int p%d_flags[] = {", pi)
		for i, f := range p.flags {
			if i > 0 {
				w.WriteString(", ")
			}
			if f {
				w.WriteString("1")
			} else {
				w.WriteString("0")
			}
		}
		w.WriteString("};\n")
		for fi := range p.fns {
			fmt.Fprintf(&w, "static void p%d_f%d(void *a);\n", pi, fi)
		}
		w.WriteString("\n")
		for fi, f := range p.fns {
			fmt.Fprintf(&w, "static void p%d_f%d(void *a)\n{\n", pi, fi)
			w.WriteString("\tWARD_FRAME_RESUMABLE(return);\n")
			fmt.Fprintf(&w, "\tsayf(\"f%d:%%d\", (int)(intptr_t)a);\n", fi)
			cStmts(&w, pi, f.body, "\t")
			w.WriteString("}\n\n")
		}
	}
	w.WriteString("static void (*const progs[])(void *) = {\n")
	for pi := range progs {
		fmt.Fprintf(&w, "\tp%d_f0,\n", pi)
	}
	w.WriteString("};\n\n")
	w.WriteString(`/* Go runs main() on the main goroutine; a Goexit there ends the process
 * with Go's fatal error. The C program runs it on a thread to see that. */
static void *run(void *n)
{
	progs[(intptr_t)n](0);
	return (void *)1;
}

int main(int argc, char **argv)
{
	pthread_t th;
	void *ret;

	(void)argc;
	pthread_create(&th, NULL, run, (void *)(intptr_t)atoi(argv[1]));
	pthread_join(th, &ret);
	if (!ret) {
		fflush(stdout);
		fprintf(stderr, "fatal error: no goroutines (main called runtime.Goexit) - deadlock!\n");
		exit(2);
	}
	say("end");
	return 0;
}
`)
	return os.WriteFile(path, []byte(w.String()), 0o644)
}

func main() {
	seed := flag.Int64("seed", 1, "seed of the batch")
	count := flag.Int("count", 300, "programs in the batch")
	out := flag.String("out", ".", "directory for progs.go and progs.c")
	flag.Parse()

	g := &gen{r: rand.New(rand.NewSource(*seed))}
	progs := make([]*prog, *count)
	for i := range progs {
		progs[i] = g.program()
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := writeGo(filepath.Join(*out, "progs.go"), progs); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := writeC(filepath.Join(*out, "progs.c"), progs); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	bw := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(bw, "gen: %d programs, seed %d, in %s\n", *count, *seed, *out)
	bw.Flush()
}
