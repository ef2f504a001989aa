// goprof writes Go's own heap and CPU profiles, for the reader's tests:
// the heap profile must read, the CPU profile must be refused by name.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

var keep [][]byte

//go:noinline
func leakyAllocations() {
	for i := 0; i < 2000; i++ {
		keep = append(keep, make([]byte, 4096))
	}
}

func main() {
	runtime.MemProfileRate = 1
	cpu, err := os.Create(os.Args[1] + "/cpu.pb.gz")
	if err != nil {
		panic(err)
	}
	pprof.StartCPUProfile(cpu)
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	pprof.StopCPUProfile()
	cpu.Close()
	leakyAllocations()
	runtime.GC()
	heap, err := os.Create(os.Args[1] + "/heap.pb.gz")
	if err != nil {
		panic(err)
	}
	pprof.WriteHeapProfile(heap)
	heap.Close()
	if x < 0 {
		println(x)
	}
}
