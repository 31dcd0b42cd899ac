#!/bin/sh
# Rebuild the small prebuilt binaries of the fast rewriter tests (tests/test_*_fast.py) and
# record what the real tools say about them in expected.json (record.py).
#
#   tests/data/binaries/make.sh [OUTPUT-DIRECTORY]     (default: this directory)
#
# (PYTHON names the interpreter that runs record.py, python3 by default: any Python 3.9+.)
#
# The toolchains are those CI installs (.ci/run): gcc, patchelf, clang-19 with lld-19 (ELF for
# other machines, and ld64.lld-19 for Mach-O), llvm-19 (llvm-lipo, and llvm-strip, llvm-nm and
# llvm-readobj for the record), mingw-w64, binutils (readelf). The committed files were built
# on Debian 12 with gcc 12.2.0, clang/lld/llvm 19.1.7, patchelf 0.14.3, binutils 2.40 and
# mingw-w64 gcc 12 (the versions are also recorded in expected.json).
#
# What is built, from the sources beside this script:
#   elf-x86_64.so            gcc -g shared object with a build-id (a C extension's shape)
#   elf-x86_64-pie           gcc -g PIE executable, without a build-id
#   elf-x86_64-patchelf.so   elf-x86_64.so after patchelf --set-rpath and --add-needed, as
#                            auditwheel leaves it: PT_LOADs appended after the debug sections
#   elf-i686.so              clang/lld ELF32 little-endian shared object
#   elf-ppc.so               clang/lld ELF32 big-endian (ppc32) shared object
#   elf-ppc64.so             clang/lld ELF64 big-endian (ppc64) shared object with a build-id
#   macho-arm64.so           arm64 bundle, linker-signed ad hoc by lld, __TEXT and __LINKEDIT
#   macho-x86_64.so          x86_64 bundle with an import (stubs, indirect symbols), unsigned
#   macho-universal2.so      fat: an x86_64 bundle without the import (unsigned) and arm64
#   macho-x86_64-exe         x86_64 executable, linker-signed ad hoc
#   pe-x86_64.dll            MinGW x86_64 DLL with -g: DWARF sections and a COFF symbol table
#   pe-i686.dll              MinGW i686 DLL with -g (PE32, a long section name: .eh_frame)
#
# The builds are reproducible (no paths, times or stamps of the build machine end up in them),
# so a rebuild with the same tool versions gives the same bytes.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cp "$here"/*.c "$here"/libSystem.tbd "$build"/
cd "$build"
export ZERO_AR_DATE=1 # ld64.lld: no object modification times in the STABS debug map
map="-ffile-prefix-map=$build=."

# --- ELF
gcc -g -O1 -fPIC -shared "$map" -Wl,--build-id -Wl,-soname,libfast.so elf_lib.c -o elf-x86_64.so
gcc -g -O1 -fPIE -pie "$map" -Wl,--build-id=none elf_tool.c -o elf-x86_64-pie
cp elf-x86_64.so elf-x86_64-patchelf.so
# Two calls, as auditwheel makes them (patchelf 0.14 mixes up the strings of one call doing both).
patchelf --set-rpath '$ORIGIN/../fast.libs' elf-x86_64-patchelf.so
patchelf --add-needed libz.so.1 elf-x86_64-patchelf.so
for target in i686:i686-linux-gnu ppc:powerpc-linux-gnu ppc64:powerpc64-linux-gnu; do
    name="${target%%:*}"
    build_id=none
    [ "$name" = ppc64 ] && build_id=sha1
    clang-19 --target="${target#*:}" -g -O1 -fPIC -shared -nostdlib -fuse-ld=lld "$map" \
        -Wl,--build-id="$build_id" elf_lib.c -o "elf-$name.so"
done

# --- Mach-O
macho() { # ARCH KIND OUTPUT OBJECT [LINKER OPTIONS...]
    arch="$1" kind="$2" output="$3" object="$4"
    shift 4
    ld64.lld-19 -arch "$arch" -platform_version macos 11.0 11.0 "$kind" -oso_prefix "$build/" "$@" \
        "$object" libSystem.tbd -o "$output"
}
for arch in arm64 x86_64; do
    clang-19 -target "$arch-apple-macos11" -g -O1 -nostdinc -fPIC "$map" -c macho_lib.c -o "lib-$arch.o"
done
clang-19 -target x86_64-apple-macos11 -g -O1 -nostdinc -fPIC "$map" -DIMPORT -c macho_lib.c -o import-x86_64.o
clang-19 -target x86_64-apple-macos11 -g -O1 -nostdinc "$map" -c macho_tool.c -o tool-x86_64.o
macho arm64 -bundle macho-arm64.so lib-arm64.o # lld signs arm64 output ad hoc by itself
macho x86_64 -bundle macho-x86_64.so import-x86_64.o
macho x86_64 -bundle universal-x86_64.so lib-x86_64.o
macho x86_64 -execute macho-x86_64-exe tool-x86_64.o -adhoc_codesign
llvm-lipo-19 -create universal-x86_64.so macho-arm64.so -output macho-universal2.so

# --- PE
x86_64-w64-mingw32-gcc -g -O1 -shared -nostdlib "$map" -Wl,-e,dll_entry -Wl,--no-insert-timestamp \
    pe_lib.c -o pe-x86_64.dll
i686-w64-mingw32-gcc -g -O1 -shared -nostdlib "$map" -Wl,-e,_dll_entry -Wl,--no-insert-timestamp \
    pe_lib.c -o pe-i686.dll

binaries="elf-x86_64.so elf-x86_64-pie elf-x86_64-patchelf.so elf-i686.so elf-ppc.so elf-ppc64.so
macho-arm64.so macho-x86_64.so macho-universal2.so macho-x86_64-exe pe-x86_64.dll pe-i686.dll"
# shellcheck disable=SC2086
cp $binaries "$out"/
# shellcheck disable=SC2086
"${PYTHON:-python3}" "$here/record.py" "$out" $binaries
