/* Source of the prebuilt ELF shared objects of the fast rewriter tests (make.sh): exported
   data and functions for .dynsym, a static function for the local symbols of .symtab and the
   MiniDebugInfo, no libc (the cross targets have no sysroot). */
static int counter;
int api_value = 7;

__attribute__((noinline)) static int helper(int x) { return x * 3 + counter; }

int api_add(int a, int b) {
    counter++;
    return helper(a) + b + api_value;
}

long api_count(void) { return counter; }
