/* A shared library loaded with ctypes by the tests. Built with -g3: the headers' macros
   make the debug info span several pages, so that a patchelf'ed copy, whose new segments
   lie after it, has something to move down over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int twice(int x) { return 2 * x; }

int helper_mul(int a, int b) { return twice(a * b) / 2; }
