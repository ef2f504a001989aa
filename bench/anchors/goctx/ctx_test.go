// Go anchor for bench/bench_owner.c's ctx_cancel_10k_ms: a root context
// with 10,000 children made by context.WithCancel, then the root
// cancelled. Only the cancel is timed (ns per cancel of the whole tree).
package goctx

import (
	"context"
	"testing"
)

func BenchmarkCancel10k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root, cancel := context.WithCancel(context.Background())
		kids := make([]context.CancelFunc, 0, 10000)
		for k := 0; k < 10000; k++ {
			_, c := context.WithCancel(root)
			kids = append(kids, c)
		}
		b.StartTimer()
		cancel()
		b.StopTimer()
		for _, c := range kids {
			c()
		}
		b.StartTimer()
	}
}
