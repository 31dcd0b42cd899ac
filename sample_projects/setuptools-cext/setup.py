from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "cext_demo._speedups",
            sources=["src/cext_demo/_speedups.c"],
            extra_compile_args=["-g", "-O1"],
        )
    ],
)
