/* Source of the prebuilt Mach-O bundles of the fast rewriter tests (make.sh). Built twice: with
   IMPORT an import (stubs, indirect symbols, a __DATA segment), without it a bundle of __TEXT
   and __LINKEDIT alone, which keeps an arm64 file (16 KiB pages) small. No SDK: the one libc
   function is declared here and libSystem.tbd stands in for the library. */
#ifdef IMPORT
int printf(const char *, ...);
#endif

__attribute__((noinline)) static int helper(int x) { return x * 2 + 1; }

const int global_value = 42;

int compute(int a) {
#ifdef IMPORT
    printf("%d\n", a);
#endif
    return helper(a) + global_value;
}
