// Go anchors for bench/run.sh: the same workloads as bench/bench_defer.c,
// written the way Go code writes them. acquire/release are not inlined, so
// only the arrangement of the release differs between variants.
package anchors

import (
	"sync"
	"testing"
)

var slots [64]int64
var released int64

//go:noinline
func acquire(i int) *int64 { return &slots[i&63] }

//go:noinline
func release(p *int64) { *p++; released++ }

//go:noinline
func use(p *int64) int64 { return *p }

// One resource per call: Go's open-coded defer.
//
//go:noinline
func oneDefer(i int) int64 {
	p := acquire(i)
	defer release(p)
	return use(p)
}

//go:noinline
func oneHand(i int) int64 {
	p := acquire(i)
	r := use(p)
	release(p)
	return r
}

// Sixteen resources acquired in a loop, released when the function returns:
// defers in a loop are heap- or stack-allocated records, not open-coded.
//
//go:noinline
func loopDefer(i int) int64 {
	var r int64
	for k := 0; k < 16; k++ {
		p := acquire(i + k)
		defer release(p)
		r += use(p)
	}
	return r
}

// A panic through ten frames, each holding a defer, recovered at the top.
//
//go:noinline
func level(n int) {
	defer release(acquire(n))
	if n == 0 {
		panic("deep")
	}
	level(n - 1)
}

//go:noinline
func panic10() (r int64) {
	defer func() {
		if recover() != nil {
			r = 1
		}
	}()
	level(9)
	return 0
}

var sink int64

func BenchmarkOneHand(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += oneHand(i)
	}
}

func BenchmarkOneDefer(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += oneDefer(i)
	}
}

func BenchmarkLoop16Defer(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += loopDefer(i)
	}
}

func BenchmarkPanic10(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += panic10()
	}
}

// sync.Pool Get+Put of a 64-byte object, reset by hand as ward's reset
// hook does: the anchor for bench/bench_pool.c's pool_pair.
var pool64 = sync.Pool{New: func() any { return new([8]int64) }}

func BenchmarkPoolPair(b *testing.B) {
	for i := 0; i < b.N; i++ {
		o := pool64.Get().(*[8]int64)
		o[0] = 0
		pool64.Put(o)
	}
}
