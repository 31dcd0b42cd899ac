#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long square_long(long x) { return x * x; }

static PyObject *square(PyObject *self, PyObject *arg) {
    long x = PyLong_AsLong(arg);
    if (x == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromLong(square_long(x));
}

static PyMethodDef methods[] = {
    {"square", square, METH_O, "Square an integer."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
