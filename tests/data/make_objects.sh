#!/bin/sh
# Rebuild the small prebuilt objects the fast ET_REL tests read (tests/test_elf_object.py):
# little-endian ELF64 RELA (x86_64), big-endian ELF64 (ppc64) and ELF32 REL (i386), each with
# -g, COMDAT groups, debug type units and .llvm_addrsig. Run from anywhere; needs clang-19.
set -eu
cd "$(dirname "$0")"
for target in x86_64 powerpc64 i686; do
    clang-19 --target="$target-linux-gnu" -O1 -g -gdwarf-4 -fdebug-types-section -ffunction-sections \
        -fPIC -ffile-prefix-map="$PWD"=. -c object.cc -o "object-$target.o"
done
