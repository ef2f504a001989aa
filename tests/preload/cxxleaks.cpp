// cxxleaks.cpp — C++ leaks for the preload tests: names in the report are
// demangled, and the "acquired at" column starts at the program's own
// frame, above operator new and strdup.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define NOINLINE __attribute__((noinline))

namespace shop {
struct Basket {
	std::vector<int> *items;
};

NOINLINE Basket *fill_basket(int n)
{
	Basket *b = new Basket;
	b->items = new std::vector<int>(n, 7);
	return b;
}
} // namespace shop

NOINLINE char *copy_name(const char *s)
{
	return strdup(s);
}

int main()
{
	for (int i = 0; i < 3; i++)
		shop::fill_basket(10 + i); // dropped: lost
	char *volatile kept = copy_name("ward");
	(void)kept;
	std::printf("done\n");
	return 0;
}
