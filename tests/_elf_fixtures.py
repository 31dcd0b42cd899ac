"""Real ELF files for the ELF rewriter tests, compiled at test time.

Every tool is required: a missing compiler or binutils fails the tests instead of skipping them.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

EXT_SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long calls;

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    calls++;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "Add two integers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_swdemo", NULL, -1, methods};

PyMODINIT_FUNC PyInit__swdemo(void) { return PyModule_Create(&module); }
"""

LIB_SOURCE = r"""
static int hidden_counter;
int demo_value = 35;

static int helper(int x) { return x * 2; }

int demo_mul(int a, int b) {
    hidden_counter++;
    return a * b;
}

int demo_twice_value(void) { return helper(demo_value) + hidden_counter * 0; }
"""

EXE_SOURCE = r"""
#include <stdio.h>
static int answer(void) { return 6 * 7; }
int main(void) {
    printf("hello %d\n", answer());
    return 0;
}
"""

# No headers and no libc: cross targets have no sysroot here.
CROSS_SOURCE = r"""
static int counter;
int api_value = 7;
int api_add(int a, int b) { counter++; return a + b + api_value; }
long api_count(void) { return counter; }
"""

#: clang target triple -> architecture name expected from ``inspect``
CROSS_TARGETS = {
    "aarch64-linux-gnu": "aarch64",
    "s390x-linux-gnu": "s390x",
    "powerpc-linux-gnu": "ppc",
    "i686-linux-gnu": "i386",
    "armv7-linux-gnueabihf": "arm",
    "riscv64-linux-gnu": "riscv64",
    "powerpc64le-linux-gnu": "ppc64le",
}

#: Long enough that patchelf cannot rewrite .dynstr in place and appends a PT_LOAD.
LONG_RPATH = "$ORIGIN/" + "/".join(["a-rather-long-directory-name"] * 12)


def tool(name: str) -> str:
    """The path of a required tool; fails the test when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"required tool {name!r} is not installed")
    return path


def run(*cmd: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; fail with its output if it fails."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass(frozen=True)
class Native:
    """Binaries built with the host gcc (x86_64 or whatever the host is), with -g."""

    ext: Path  # a Python extension module named _swdemo
    lib: Path  # libdemo.so: demo_mul, demo_value
    pie: Path  # PIE executable printing "hello 42"
    exe: Path  # non-PIE executable printing "hello 42"
    patched: Path  # libdemo.so after patchelf: a PT_LOAD after the debug sections
    patched_pie: Path  # the PIE executable after the same patchelf runs (PT_INTERP moves)
    obj: Path  # a relocatable object (gcc -c)
    many: Path  # a shared object with more than 0xff00 sections (extended numbering)


def build_native(root: Path) -> Native:
    gcc = tool("gcc")
    patchelf = tool("patchelf")
    src = root / "src"
    src.mkdir()
    (src / "ext.c").write_text(EXT_SOURCE)
    (src / "lib.c").write_text(LIB_SOURCE)
    (src / "exe.c").write_text(EXE_SOURCE)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    include = sysconfig.get_paths()["include"]

    ext = root / f"_swdemo{suffix}"
    run(
        gcc,
        "-g",
        "-O1",
        "-shared",
        "-fPIC",
        f"-I{include}",
        "-Wl,--build-id",
        src / "ext.c",
        "-o",
        ext,
    )
    lib = root / "libdemo.so"
    run(
        gcc,
        "-g",
        "-O1",
        "-shared",
        "-fPIC",
        "-Wl,--build-id",
        "-Wl,-soname,libdemo.so",
        src / "lib.c",
        "-o",
        lib,
    )
    pie = root / "hello-pie"
    run(gcc, "-g", "-O1", "-fPIE", "-pie", "-Wl,--build-id", src / "exe.c", "-o", pie)
    exe = root / "hello-exe"
    run(gcc, "-g", "-O1", "-fno-pie", "-no-pie", "-Wl,--build-id", src / "exe.c", "-o", exe)
    obj = root / "lib.o"
    run(gcc, "-g", "-c", "-fPIC", src / "lib.c", "-o", obj)

    patched_dir = root / "patched"
    patched_dir.mkdir()
    patched = patched_dir / "libdemo.so"
    shutil.copyfile(lib, patched)
    # Two runs, as auditwheel does: each appends a PT_LOAD (and one call doing both
    # operations mixes up the two strings in some patchelf releases).
    run(patchelf, "--set-rpath", LONG_RPATH, patched)
    run(patchelf, "--add-needed", "libz.so.1", patched)
    patched_pie = patched_dir / "hello-pie"
    shutil.copyfile(pie, patched_pie)
    patched_pie.chmod(0o755)
    run(patchelf, "--set-rpath", LONG_RPATH, patched_pie)
    run(patchelf, "--add-needed", "libz.so.1", patched_pie)

    # 65400 tiny non-allocated sections push the count past SHN_LORESERVE (0xff00).
    (src / "many.s").write_text(
        "".join(f'.section .sw.{i},"",@progbits\n.byte 1\n' for i in range(65400))
        + '.section .note.GNU-stack,"",@progbits\n'
    )
    many = root / "libmany.so"
    run(gcc, "-g", "-shared", "-fPIC", src / "lib.c", src / "many.s", "-o", many)
    return Native(ext, lib, pie, exe, patched, patched_pie, obj, many)


def build_cross(root: Path) -> dict[str, Path]:
    """One -g shared object per cross target, linked with lld (no libc)."""
    clang = tool("clang-19")
    tool("ld.lld-19")
    (root / "x.c").write_text(CROSS_SOURCE)
    out: dict[str, Path] = {}
    for target in CROSS_TARGETS:
        path = root / f"{target}.so"
        run(
            clang,
            f"--target={target}",
            "-g",
            "-O1",
            "-fPIC",
            "-shared",
            "-nostdlib",
            "-fuse-ld=lld",
            "-Wl,--build-id",
            root / "x.c",
            "-o",
            path,
        )
        out[target] = path
    return out
