/* Source of the prebuilt PE DLLs of the fast rewriter tests (make.sh): built without the C
   runtime, whose own debug info would make the DLL eight times larger; dll_entry is the entry
   point, fast_add and fast_value are exported. */
static int counter;

__attribute__((noinline)) static int helper(int x) { return x * 3 + counter; }

__declspec(dllexport) int fast_add(int a, int b) {
    counter++;
    return helper(a) + b;
}

__declspec(dllexport) int fast_value = 7;

int dll_entry(void *module, unsigned reason, void *reserved) {
    (void)module, (void)reason, (void)reserved;
    return 1;
}
