# SPDX-License-Identifier: MIT
"""_capi.py — the ctypes view of libonnxgrad: struct layouts and function
prototypes, mirroring include/onnxgrad/*.h (keep them in step; the test
tests/python/test_abi.py compares every struct's size and field offsets
with the C compiler's).

Why ctypes and not cffi: ctypes is in the standard library, so the module
needs no package beyond python3-numpy and nothing compiled to install;
cffi's ABI mode would do the same through one more Debian package
(python3-cffi) for no gain here.

The GIL: the library is loaded with ctypes.CDLL, which releases the GIL
for the duration of every foreign call (ctypes.PyDLL would keep it), so
other Python threads run while onnxgrad plans, runs or differentiates a
graph. Nothing in onnxgrad calls back into Python.
"""
import ctypes
import ctypes.util
import os

from ctypes import (POINTER, Structure, c_bool, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint64,
                    c_void_p)

OG_MAX_RANK = 32


def _find_library():
    """ONNXGRAD_LIBRARY, else the path the build or the install wrote into
    _libpath.py (relative paths are relative to this package), else the
    system's search (ldconfig, LD_LIBRARY_PATH)."""
    env = os.environ.get("ONNXGRAD_LIBRARY")
    if env:
        return env, "ONNXGRAD_LIBRARY"
    try:
        from . import _libpath
        path = _libpath.LIBRARY
        if not os.path.isabs(path):
            path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), path))
        if os.path.exists(path):
            return path, "_libpath.py"
    except ImportError:
        pass
    found = ctypes.util.find_library("onnxgrad")
    return found or "libonnxgrad.so.0", "the library search path"


LIBRARY_PATH, LIBRARY_SOURCE = _find_library()
try:
    # CDLL, not PyDLL: the GIL is released during each call (see above).
    lib = ctypes.CDLL(LIBRARY_PATH)
except OSError as e:
    raise ImportError(f"onnxgrad: cannot load libonnxgrad ({LIBRARY_PATH}, from {LIBRARY_SOURCE}): {e}; "
                      "set ONNXGRAD_LIBRARY to the path of libonnxgrad.so") from None


# ---- structs (field for field as in the headers) ------------------------------

class og_tensor(Structure):
    _fields_ = [("dtype", c_int), ("rank", c_int), ("dims", c_int64 * OG_MAX_RANK), ("numel", c_int64),
                ("data", c_void_p), ("name", c_char_p)]


class og_value_info(Structure):
    _fields_ = [("name", c_char_p), ("dtype", c_int), ("rank", c_int), ("dims", POINTER(c_int64)),
                ("dim_params", POINTER(c_char_p))]


class og_plan_options(Structure):
    _fields_ = [("n_threads", c_int)]


class og_save_options(Structure):
    _fields_ = [("struct_size", c_size_t), ("external_data_file", c_char_p), ("external_min_bytes", c_size_t)]


class og_grad_options(Structure):
    _fields_ = [("loss", c_char_p), ("n_seeded", c_int), ("seeded", POINTER(c_char_p)), ("n_wrt", c_int),
                ("wrt", POINTER(c_char_p)), ("allow_unused", c_bool)]


PROGRESS_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int64, c_int64)


class og_gradcheck_options(Structure):
    _fields_ = [("n_wrt", c_int), ("wrt", POINTER(c_char_p)), ("order", c_int), ("eps", c_double),
                ("atol", c_double), ("rtol", c_double), ("fast", c_bool), ("seed", c_uint64),
                ("max_elements", c_int64), ("n_inputs", c_int), ("inputs", POINTER(POINTER(og_tensor))),
                ("progress", PROGRESS_FN), ("user", c_void_p), ("n_seeds", c_int),
                ("seeds", POINTER(POINTER(og_tensor))), ("interrupt", POINTER(c_int))]


class og_gradcheck_entry(Structure):
    _fields_ = [("name", c_char_p), ("numel", c_int64), ("checked", c_int64), ("max_abs_err", c_double),
                ("max_rel_err", c_double), ("worst_index", c_int64), ("worst_analytic", c_double),
                ("worst_numeric", c_double), ("pass_", c_bool)]


class og_gradcheck_report(Structure):
    _fields_ = [("n", c_int), ("entries", POINTER(og_gradcheck_entry)), ("pass_", c_bool), ("interrupted", c_bool),
                ("done", c_int64), ("total", c_int64)]


class og_train_options(Structure):
    _fields_ = [("struct_size", c_size_t), ("loss_fn", c_int), ("loss", c_char_p), ("input_name", c_char_p),
                ("output_name", c_char_p), ("label_name", c_char_p), ("label_dtype", c_int),
                ("n_trainable", c_int), ("trainable", POINTER(c_char_p)), ("optimizer", c_int),
                ("lr", c_double), ("momentum", c_double), ("nesterov", c_bool), ("weight_decay", c_double),
                ("beta1", c_double), ("beta2", c_double), ("epsilon", c_double), ("clip_norm", c_double),
                ("schedule", c_int), ("step_epochs", c_int), ("gamma", c_double), ("epochs", c_int)]


def padded(struct):
    """A copy of an options struct with zeroed room after it, passed by
    pointer: options structs without a struct_size field grow by fields
    appended at the end whose zero is the default, so a library newer than
    these declarations reads zeros there rather than past the Python
    object (test_abi.py still flags the missing fields). The caller keeps
    the second value alive for as long as the pointer is used: it holds
    the struct too, whose fields' objects (the bytes behind c_char_p
    fields) the copy points into; dropping the struct early let another
    thread's allocation overwrite a name (a loss of '' seen in CI)."""
    n = ctypes.sizeof(struct)
    buf = (ctypes.c_char * (n + 256))()
    ctypes.memmove(buf, ctypes.byref(struct), n)
    return ctypes.cast(buf, POINTER(type(struct))), (buf, struct)


# ---- functions ------------------------------------------------------------------

P = c_void_p               # opaque handles: og_graph*, og_plan*, og_trainer*
PP = POINTER(c_void_p)
T = POINTER(og_tensor)
TT = POINTER(T)            # og_tensor ** / const og_tensor *const *
S = c_int                  # og_status


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


og_version = _fn("og_version", c_char_p) if hasattr(lib, "og_version") else None
og_status_name = _fn("og_status_name", c_char_p, c_int)
og_errmsg = _fn("og_errmsg", c_char_p)
og_errcode = _fn("og_errcode", c_int)
og_dtype_name = _fn("og_dtype_name", c_char_p, c_int)
og_dtype_size = _fn("og_dtype_size", c_size_t, c_int)

og_tensor_free = _fn("og_tensor_free", None, T)
og_free = _fn("og_free", None, c_void_p)

og_model_load_file = _fn("og_model_load_file", S, c_char_p, PP)
og_model_load_memory = _fn("og_model_load_memory", S, c_void_p, c_size_t, PP)
og_model_save_file = _fn("og_model_save_file", S, P, c_char_p)
og_model_save_file_ex = _fn("og_model_save_file_ex", S, P, c_char_p, POINTER(og_save_options))
og_model_save_memory = _fn("og_model_save_memory", S, P, PP, POINTER(c_size_t))
og_tensor_load_pb = _fn("og_tensor_load_pb", S, c_char_p, TT)

og_graph_free = _fn("og_graph_free", None, P)
og_graph_num_inputs = _fn("og_graph_num_inputs", c_int, P)
og_graph_num_outputs = _fn("og_graph_num_outputs", c_int, P)
og_graph_num_initializers = _fn("og_graph_num_initializers", c_int, P)
og_graph_num_nodes = _fn("og_graph_num_nodes", c_int, P)
og_graph_num_warnings = _fn("og_graph_num_warnings", c_int, P)
og_graph_warning = _fn("og_graph_warning", c_char_p, P, c_int)
og_graph_input = _fn("og_graph_input", S, P, c_int, POINTER(og_value_info))
og_graph_output = _fn("og_graph_output", S, P, c_int, POINTER(og_value_info))
og_graph_initializer = _fn("og_graph_initializer", S, P, c_int, TT)
og_graph_num_training_infos = _fn("og_graph_num_training_infos", c_int, P)

og_plan_create_ex = _fn("og_plan_create_ex", S, P, POINTER(og_plan_options), PP)
og_plan_free = _fn("og_plan_free", None, P)
og_plan_num_threads = _fn("og_plan_num_threads", c_int, P)
og_plan_run = _fn("og_plan_run", S, P, c_int, TT, TT)

og_graph_simplify = _fn("og_graph_simplify", S, P, PP) if hasattr(lib, "og_graph_simplify") else None
og_graph_build_gradient = _fn("og_graph_build_gradient", S, P, POINTER(og_grad_options), PP)
og_grad_wrt_count = _fn("og_grad_wrt_count", S, P, POINTER(og_grad_options), POINTER(c_int))
og_grad_wrt_name = _fn("og_grad_wrt_name", S, P, POINTER(og_grad_options), c_int, POINTER(c_char_p))
og_gradcheck = _fn("og_gradcheck", S, P, POINTER(og_gradcheck_options), POINTER(POINTER(og_gradcheck_report)))
og_gradcheck_report_free = _fn("og_gradcheck_report_free", None, POINTER(og_gradcheck_report))

og_trainer_create = _fn("og_trainer_create", S, P, POINTER(og_train_options), c_int, PP)
og_trainer_free = _fn("og_trainer_free", None, P)
og_trainer_options = _fn("og_trainer_options", POINTER(og_train_options), P)
og_trainer_set_epoch = _fn("og_trainer_set_epoch", None, P, c_int)
og_trainer_step = _fn("og_trainer_step", S, P, T, T, POINTER(c_double))
og_trainer_num_steps = _fn("og_trainer_num_steps", c_int64, P)
og_trainer_predict = _fn("og_trainer_predict", S, P, T, TT)
og_trainer_export = _fn("og_trainer_export", S, P, PP)
og_train_lr = _fn("og_train_lr", c_double, POINTER(og_train_options), c_int)
