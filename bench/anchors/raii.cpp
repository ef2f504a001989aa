// C++ anchors for bench/run.sh: the workloads of bench/bench_defer.c with
// RAII destructors doing the release, and a throw/catch through ten frames
// that each hold one. Prints "ANCHOR <name> <ns>" lines.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <thread>

#define NOINLINE __attribute__((noinline))

static long slots[64];
static long released;

static NOINLINE long *acquire(int i)
{
	return &slots[i & 63];
}

static NOINLINE void release(long *p)
{
	++*p;
	released++;
}

static NOINLINE long use(long *p)
{
	return *p;
}

struct guard {
	long *p;
	explicit guard(long *q) : p(q) {}
	~guard() { release(p); }
	guard(const guard &) = delete;
	guard &operator=(const guard &) = delete;
};

static NOINLINE long one_raii(int i)
{
	guard g(acquire(i));
	return use(g.p);
}

static NOINLINE void level(int n)
{
	guard g(acquire(n));
	if (n == 0)
		throw std::runtime_error("deep");
	level(n - 1);
}

static NOINLINE long throw10(int)
{
	try {
		level(9);
	} catch (const std::exception &) {
		return 1;
	}
	return 0;
}

static volatile long sink;

template <typename F> static double pass(F f, long iters)
{
	auto t0 = std::chrono::steady_clock::now();
	long s = 0;
	for (long i = 0; i < iters; i++)
		s += f((int)i);
	sink = s;
	auto t1 = std::chrono::steady_clock::now();
	return std::chrono::duration<double, std::nano>(t1 - t0).count() /
	       (double)iters;
}

// A shared_ptr copied and the copy destroyed: the anchor for ward_ref
// retain+release (bench/bench_pool.c).
static std::shared_ptr<long> shared = std::make_shared<long>(1);

__attribute__((noinline)) static long shared_copy(int i)
{
	std::shared_ptr<long> copy = shared;
	return *copy + i;
}

// The same on two threads at once, on the one shared_ptr: its count is
// contended (the anchor for ward_ref's contended retain+release).
static double shared_copy_two_threads(long iters)
{
	double ta = 0, tb = 0;
	std::thread a([&] { ta = pass(shared_copy, iters); });
	std::thread b([&] { tb = pass(shared_copy, iters); });
	a.join();
	b.join();
	return ta > tb ? ta : tb;
}

int main(int argc, char **argv)
{
	long scale = argc > 1 ? std::atol(argv[1]) : 1;
	double one = 1e30, thr = 1e30;

	if (scale < 1)
		scale = 1;
	throw10(0); // warm the unwinder's caches
	for (int r = 0; r < 15; r++) {
		double a = pass(one_raii, 1000000 * scale);
		double b = pass(throw10, 2000 * scale);
		one = a < one ? a : one;
		thr = b < thr ? b : thr;
	}
	double sp = 1e30;
	for (int r = 0; r < 5; r++) {
		double c = pass(shared_copy, 2000000 * scale);
		sp = c < sp ? c : sp;
	}
	// Threads only now: once one started, libstdc++ counts atomically.
	double sp2 = 1e30;
	for (int r = 0; r < 5; r++) {
		double c = shared_copy_two_threads(1000000 * scale);
		sp2 = c < sp2 ? c : sp2;
	}
	std::printf("ANCHOR shared_ptr_copy %.3f\n", sp);
	std::printf("ANCHOR shared_ptr_copy_2threads %.3f\n", sp2);
	std::printf("ANCHOR one_cxx_raii %.3f\n", one);
	std::printf("ANCHOR panic10_cxx_throw %.3f\n", thr);
	return 0;
}
