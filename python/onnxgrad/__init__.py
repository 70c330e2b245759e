# SPDX-License-Identifier: MIT
"""onnxgrad — an ONNX runtime with reverse-mode autodiff, from Python.

    import onnxgrad, numpy as np
    m = onnxgrad.load("model.onnx")
    y = m.run(x=x)                                     # {output name: ndarray}
    g = m.grad(loss="loss", wrt=["conv1.weight"], x=x, labels=labels)
    m.gradient_graph(loss="loss").save("train.onnx")
    onnxgrad.gradcheck(m, order=2)
    t = onnxgrad.Trainer(m, loss_fn="softmax-cross-entropy", optimizer="adam", lr=1e-3)
    t.step(x, labels); t.predict(x); t.export("trained.onnx")

A thin layer over libonnxgrad (include/onnxgrad/*.h) through ctypes
(_capi.py): nothing compiled, the GIL released while the library works.
Inputs: numpy arrays (or anything np.asarray takes), passed to the library
without a copy when C-contiguous, aligned and native-endian (the og_tensor
handed in points at the array's buffer), else copied once. Outputs: the
tensor the library returns, exposed as an ndarray without a further copy
(the array's base owns the og_tensor and frees it with the array).
Inputs are named by keyword, or by a dict as the first argument when a name
is not a Python identifier or clashes with a keyword of the call
(m.run({"input.1": x})). Failures raise onnxgrad.Error with the library's
message and status.
"""
import ctypes
import signal
import threading
import warnings

import numpy as np

from . import _capi as C

__all__ = ["Error", "Model", "ValueInfo", "Trainer", "GradcheckReport", "GradcheckEntry", "load", "gradcheck",
           "load_tensor", "__version__"]

# ---- errors ---------------------------------------------------------------------

class Error(Exception):
    """A failed onnxgrad call: str(e) is onnxgrad's message (what was wrong
    and where), e.status the og_status code, e.status_name its name
    ("OG_ERR_SHAPE", ...)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = int(status)
        self.status_name = C.og_status_name(self.status).decode()
        self.message = message

    def __repr__(self):
        return f"onnxgrad.Error({self.status_name}: {self.message!r})"


OG_ERR_INVALID_ARG = 1
OG_ERR_UNSUPPORTED = 6


def _check(status):
    """Raises onnxgrad.Error for a failed status. og_errmsg is per thread,
    and ctypes makes the call on this thread, so it is this call's message."""
    if status:
        raise Error(status, C.og_errmsg().decode(errors="replace"))


def _invalid(message):
    return Error(OG_ERR_INVALID_ARG, message)


# ---- version --------------------------------------------------------------------

try:
    from ._libpath import VERSION as _PACKAGE_VERSION
except ImportError:
    _PACKAGE_VERSION = None
__version__ = C.og_version().decode() if C.og_version else (_PACKAGE_VERSION or "unknown")
if _PACKAGE_VERSION and __version__ != _PACKAGE_VERSION:
    warnings.warn(f"onnxgrad: the Python module is {_PACKAGE_VERSION} but {C.LIBRARY_PATH} is {__version__}",
                  RuntimeWarning)

# ---- dtypes and tensors ---------------------------------------------------------

# og_dtype (= ONNX TensorProto.DataType) <-> numpy
_NP_OF = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
          9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64, 14: np.complex64,
          15: np.complex128}
_NP_OF = {k: np.dtype(v) for k, v in _NP_OF.items()}
_OG_OF = {v: k for k, v in _NP_OF.items()}


def _np_dtype(og_dtype):
    return _NP_OF.get(og_dtype)


def _as_array(value, what):
    """value as an ndarray the library can read in place: the array itself
    when it is C-contiguous, aligned and native-endian, else one copy."""
    a = np.asarray(value)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if not (a.flags.c_contiguous and a.flags.aligned):
        a = np.ascontiguousarray(a)
    if a.dtype not in _OG_OF:
        raise Error(OG_ERR_UNSUPPORTED, f"{what}: numpy dtype {a.dtype} has no onnxgrad element type "
                       "(float32/64, int8..64, uint8..64, bool)")
    if a.ndim > C.OG_MAX_RANK:
        raise _invalid(f"{what}: rank {a.ndim} is more than onnxgrad's {C.OG_MAX_RANK}")
    return a


def _tensor_view(a, name):
    """An og_tensor whose data is a's buffer (no copy). The caller keeps a
    (and the name's bytes, referenced by the struct) alive while the
    library uses it."""
    t = C.og_tensor()
    t.dtype = _OG_OF[a.dtype]
    t.rank = a.ndim
    for d, n in enumerate(a.shape):
        t.dims[d] = n
    t.numel = a.size
    t.data = a.ctypes.data
    t.name = name.encode() if isinstance(name, str) else name
    return t


class _OwnedTensor:
    """The base of an output ndarray: holds a tensor the library handed
    over and frees it when the last array viewing it goes."""
    __slots__ = ("_t", "__array_interface__")

    def __init__(self, t):
        self._t = t
        c = t.contents
        dt = _NP_OF[c.dtype]
        self.__array_interface__ = {"shape": tuple(c.dims[d] for d in range(c.rank)), "typestr": dt.str,
                                    "data": (c.data, False), "version": 3}

    def __del__(self):
        if self._t and C.og_tensor_free:
            C.og_tensor_free(self._t)
            self._t = None


def _take_tensor(t):
    """An ndarray over tensor t, which the caller hands over (og_tensor *):
    zero-copy, freed with the array."""
    c = t.contents
    dt = _NP_OF.get(c.dtype)
    if dt is None:
        C.og_tensor_free(t)
        raise Error(OG_ERR_UNSUPPORTED, f"onnxgrad returned a {C.og_dtype_name(c.dtype).decode()} tensor, which numpy cannot hold")
    if c.numel == 0 or not c.data:
        shape = tuple(c.dims[d] for d in range(c.rank))
        C.og_tensor_free(t)
        return np.empty(shape, dt)
    return np.asarray(_OwnedTensor(t))


def _copy_tensor(t):
    """A copy of a tensor that stays the library's (const og_tensor *)."""
    c = t.contents
    dt = _NP_OF.get(c.dtype)
    if dt is None:
        raise Error(OG_ERR_UNSUPPORTED, f"tensor of type {C.og_dtype_name(c.dtype).decode()}: numpy cannot hold it")
    shape = tuple(c.dims[d] for d in range(c.rank))
    if c.numel == 0 or not c.data:
        return np.empty(shape, dt)
    buf = (ctypes.c_char * (c.numel * dt.itemsize)).from_address(c.data)
    return np.frombuffer(buf, dt).reshape(shape).copy()


def load_tensor(path):
    """One TensorProto file (.pb, as `onnxgrad run` writes) as an ndarray."""
    t = C.T()
    _check(C.og_tensor_load_pb(str(path).encode(), ctypes.byref(t)))
    return _take_tensor(t)


# ---- models ---------------------------------------------------------------------

class ValueInfo(tuple):
    """(name, dtype, shape) of a graph input or output: dtype a numpy dtype
    (None when unknown or not numpy's), shape a tuple of ints, dim names
    (str) for symbolic dims and None for unknown ones (None for an unknown
    rank)."""
    __slots__ = ()

    def __new__(cls, name, dtype, shape, onnx_type):
        return super().__new__(cls, (name, dtype, shape, onnx_type))

    name = property(lambda s: s[0])
    dtype = property(lambda s: s[1])
    shape = property(lambda s: s[2])
    onnx_type = property(lambda s: s[3], doc="the ONNX element type name ('float', 'int64', ...)")

    def __repr__(self):
        return f"ValueInfo(name={self.name!r}, dtype={self.onnx_type}, shape={self.shape})"


def _value_info(vi):
    if vi.rank < 0:
        shape = None
    else:
        shape = []
        for d in range(vi.rank):
            p = vi.dim_params[d] if vi.dim_params else None
            shape.append(vi.dims[d] if vi.dims[d] >= 0 else (p.decode() if p else None))
        shape = tuple(shape)
    return ValueInfo(vi.name.decode(), _np_dtype(vi.dtype), shape, C.og_dtype_name(vi.dtype).decode())


def _names(seq, what):
    """A list of names (a str alone is one name) and a C array of them."""
    if seq is None:
        return [], None
    if isinstance(seq, str):
        seq = [seq]
    seq = list(seq)
    for s in seq:
        if not isinstance(s, str):
            raise TypeError(f"{what}: names are str, got {type(s).__name__}")
    enc = [s.encode() for s in seq]
    return seq, (ctypes.c_char_p * max(1, len(enc)))(*enc)


class Model:
    """A loaded, finalized ONNX graph (og_graph). Runs, differentiates and
    saves it. Plans are made on first use and kept; one Model runs one call
    at a time (a lock), several Models run concurrently."""

    def __init__(self, handle, name="model"):
        """Takes ownership of an og_graph * (use onnxgrad.load)."""
        self._g = C.c_void_p(handle) if not isinstance(handle, C.c_void_p) else handle
        self._name = name
        self._threads = 0
        self._plan = None
        self._grads = {}       # (loss, seeded, wrt, allow_unused) -> (Model of the gradient graph, wrt names)
        self._lock = threading.RLock()
        for k in range(C.og_graph_num_warnings(self._g)):
            warnings.warn(f"onnxgrad: {name}: {C.og_graph_warning(self._g, k).decode()}", RuntimeWarning,
                          stacklevel=3)

    def __del__(self):
        self._free_plans()
        if getattr(self, "_g", None) and C.og_graph_free:
            C.og_graph_free(self._g)
            self._g = None

    def _free_plans(self):
        if getattr(self, "_plan", None):
            C.og_plan_free(self._plan)
            self._plan = None
        for gm, _ in getattr(self, "_grads", {}).values():
            gm._free_plans()

    def __repr__(self):
        ins = ", ".join(f"{v.name}: {v.onnx_type}{list(v.shape) if v.shape is not None else '[?]'}"
                        for v in self.inputs)
        outs = ", ".join(v.name for v in self.outputs)
        return f"<onnxgrad.Model {self._name}: ({ins}) -> ({outs}), {C.og_graph_num_nodes(self._g)} nodes>"

    # -- inspection
    @property
    def inputs(self):
        """Graph inputs, in order, as ValueInfo(name, dtype, shape); those
        with an initializer (defaults a run may override) included."""
        out = []
        for k in range(C.og_graph_num_inputs(self._g)):
            vi = C.og_value_info()
            _check(C.og_graph_input(self._g, k, ctypes.byref(vi)))
            out.append(_value_info(vi))
        return out

    @property
    def outputs(self):
        out = []
        for k in range(C.og_graph_num_outputs(self._g)):
            vi = C.og_value_info()
            _check(C.og_graph_output(self._g, k, ctypes.byref(vi)))
            out.append(_value_info(vi))
        return out

    # A Model's graph never changes after loading: its names are kept.
    def _input_names(self):
        if getattr(self, "_in_names", None) is None:
            self._in_names = [v.name for v in self.inputs]
        return self._in_names

    def _output_names(self):
        if getattr(self, "_out_names", None) is None:
            self._out_names = [v.name for v in self.outputs]
        return self._out_names

    @property
    def initializers(self):
        """{name: ndarray}: copies of the graph's initializers (weights)."""
        out = {}
        for k in range(C.og_graph_num_initializers(self._g)):
            t = C.T()
            _check(C.og_graph_initializer(self._g, k, ctypes.byref(t)))
            out[t.contents.name.decode()] = _copy_tensor(t)
        return out

    @property
    def num_nodes(self):
        return C.og_graph_num_nodes(self._g)

    # -- threads
    @property
    def threads(self):
        """Kernel threads of this model's runs (results do not depend on
        it). Setting 0 means OG_NUM_THREADS, else every core."""
        with self._lock:
            return C.og_plan_num_threads(self._get_plan())

    @threads.setter
    def threads(self, n):
        n = int(n)
        if n < 0:
            raise _invalid(f"threads must be >= 0, got {n}")
        with self._lock:
            self._free_plans()
            self._threads = n
            for gm, _ in self._grads.values():
                gm._threads = n

    def _get_plan(self):
        if self._plan is None:
            p = C.c_void_p()
            o = C.og_plan_options(self._threads)
            _check(C.og_plan_create_ex(self._g, ctypes.byref(o), ctypes.byref(p)))
            self._plan = p
        return self._plan

    # -- saving
    def save(self, path, external_data=None, external_min_bytes=1024):
        """Writes the model as .onnx (inferred shapes as value_info). With
        external_data (a file name beside path), initializers of at least
        external_min_bytes go to that file."""
        if external_data is None:
            _check(C.og_model_save_file(self._g, str(path).encode()))
        else:
            o = C.og_save_options(ctypes.sizeof(C.og_save_options), str(external_data).encode(),
                                  int(external_min_bytes))
            _check(C.og_model_save_file_ex(self._g, str(path).encode(), ctypes.byref(o)))

    def to_bytes(self):
        """The model's ONNX bytes (every tensor inline)."""
        data, size = C.c_void_p(), C.c_size_t()
        _check(C.og_model_save_memory(self._g, ctypes.byref(data), ctypes.byref(size)))
        try:
            return ctypes.string_at(data, size.value)
        finally:
            C.og_free(data)

    # -- running
    def _feeds(self, inputs, named, extra=()):
        """The og_tensor views of the inputs (a dict and keywords), checked
        by name: the library binds an unknown name to the next free input,
        so a misspelt name is refused here. extra: (name, array) pairs for
        inputs of this graph added by the caller (seeds)."""
        given = dict(inputs or {})
        for k, v in named.items():
            if k in given:
                raise _invalid(f"{self._name}: input '{k}' given twice")
            given[k] = v
        known = self._input_names()
        for k in given:
            if not isinstance(k, str):
                raise TypeError(f"input names are str, got {type(k).__name__}")
            if k not in known:
                raise _invalid(f"{self._name}: '{k}' is not a graph input (inputs: {', '.join(known) or 'none'})")
        keep, views = [], []
        for k, v in list(given.items()) + list(extra):
            a = _as_array(v, f"input '{k}'")
            t = _tensor_view(a, k)
            keep.append((a, t))
            views.append(t)
        arr = (C.T * max(1, len(views)))(*[ctypes.pointer(t) for t in views])
        return len(views), arr, keep

    def _run_raw(self, n, arr):
        """Runs the plan; the outputs as (name, ndarray) pairs."""
        n_out = C.og_graph_num_outputs(self._g)
        outs = (C.T * max(1, n_out))()
        with self._lock:
            _check(C.og_plan_run(self._get_plan(), n, arr, outs))   # GIL released in here
        names = self._output_names()
        return [(names[k], _take_tensor(outs[k])) for k in range(n_out)]

    def run(self, inputs=None, /, **named):
        """Runs the model: inputs by keyword (or a dict), every graph input
        without an initializer given, dtypes and known dims as the graph
        says. Returns {output name: ndarray} in graph-output order."""
        n, arr, keep = self._feeds(inputs, named)
        res = self._run_raw(n, arr)
        del keep
        return dict(res)

    __call__ = run

    def simplify(self):
        """A simpler copy computing the same outputs (og_graph_simplify)."""
        g = C.c_void_p()
        _check(_need_simplify()(self._g, ctypes.byref(g)))
        m = Model(g, f"simplified {self._name}")
        m._threads = self._threads
        return m

    # -- gradients
    def gradient_graph(self, loss=None, seeded=None, wrt=None, allow_unused=False, simplify=False):
        """The gradient graph (og_graph_build_gradient) as a Model: its
        outputs are this model's outputs then "<tensor>_grad" per wrt
        tensor; seeded outputs' upstream gradients become inputs
        "<output>_grad". wrt None: every float input, then initializer.
        allow_unused: a wrt tensor the outputs do not depend on gets zeros
        (else it is an error). simplify: og_graph_simplify it (constants
        folded, Identity nodes and dead nodes dropped), as
        `onnxgrad gradient-graph --simplify`."""
        seeded_l, seeded_c = _names(seeded, "seeded")
        wrt_l, wrt_c = _names(wrt, "wrt")
        if loss is None and not seeded_l:
            raise _invalid("gradient_graph: name what to differentiate: loss=NAME and/or seeded=[NAMES]")
        o, _buf = C.padded(C.og_grad_options(loss.encode() if loss else None, len(seeded_l), seeded_c, len(wrt_l),
                                             wrt_c, bool(allow_unused)))
        gg = C.c_void_p()
        _check(C.og_graph_build_gradient(self._g, o, ctypes.byref(gg)))
        try:
            n = C.c_int()
            _check(C.og_grad_wrt_count(self._g, o, ctypes.byref(n)))
            names = []
            for k in range(n.value):
                s = C.c_char_p()
                _check(C.og_grad_wrt_name(self._g, o, k, ctypes.byref(s)))
                names.append(s.value.decode())
            if simplify:
                gg = _simplified(gg)
        except BaseException:
            C.og_graph_free(gg)
            raise
        m = Model(gg, f"gradient graph of {self._name}")
        m._threads = self._threads
        m._wrt_names = names
        return m

    def grad(self, inputs=None, /, *, loss=None, wrt=None, seeds=None, allow_unused=False, simplify=False,
             with_outputs=False, **named):
        """Forward and backward: the gradients of the one-element output
        `loss` (seeded with 1) and/or of outputs with upstream gradients
        `seeds` ({output name: ndarray}) with respect to `wrt` (names of
        graph inputs and initializers; None: every float input, then
        initializer). Returns {wrt name: gradient}; with_outputs, also
        the forward outputs (a second dict). The gradient graph is built
        once per (loss, seeded outputs, wrt) and kept."""
        seeds = dict(seeds or {})
        seeded_l, _ = _names(list(seeds), "seeds")
        wrt_l, _ = _names(wrt, "wrt")
        key = (loss, tuple(seeded_l), tuple(wrt_l), bool(allow_unused), bool(simplify))
        with self._lock:
            if key not in self._grads:
                gm = self.gradient_graph(loss=loss, seeded=seeded_l, wrt=wrt_l or None, allow_unused=allow_unused,
                                         simplify=simplify)
                self._grads[key] = (gm, gm._wrt_names)
            gm, names = self._grads[key]
        # Seeds bind to the gradient graph's new inputs, in `seeded` order after this graph's inputs.
        n_in = C.og_graph_num_inputs(self._g)
        gins = gm.inputs
        extra = [(gins[n_in + k].name, seeds[s]) for k, s in enumerate(seeded_l)]
        given = dict(inputs or {})
        given.update(named)
        known = self._input_names()
        for k in given:
            if k not in known:
                raise _invalid(f"{self._name}: '{k}' is not a graph input (inputs: {', '.join(known)})")
        n, arr, keep = gm._feeds(given, {}, extra)
        res = gm._run_raw(n, arr)
        del keep
        n_fwd = len(res) - len(names)
        grads = {names[k]: res[n_fwd + k][1] for k in range(len(names))}
        if with_outputs:
            return grads, dict(res[:n_fwd])
        return grads


def _need_simplify():
    if C.og_graph_simplify is None:
        raise Error(OG_ERR_UNSUPPORTED, f"{C.LIBRARY_PATH} has no og_graph_simplify (an older library)")
    return C.og_graph_simplify


def _simplified(g):
    """og_graph_simplify of g, which it frees."""
    s = C.c_void_p()
    st = _need_simplify()(g, ctypes.byref(s))
    C.og_graph_free(g)
    _check(st)
    return s


def load(source, threads=0):
    """Loads and finalizes a model: a path, or the ONNX bytes themselves
    (bytes/bytearray/memoryview: external data is then refused)."""
    g = C.c_void_p()
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf = bytes(source)
        _check(C.og_model_load_memory(buf, len(buf), ctypes.byref(g)))
        name = "<memory>"
    else:
        name = str(source)
        _check(C.og_model_load_file(name.encode(), ctypes.byref(g)))
    m = Model(g, name)
    m._threads = int(threads)
    return m


# ---- gradcheck ------------------------------------------------------------------

class GradcheckEntry(tuple):
    """One wrt tensor's result (og_gradcheck_entry)."""
    __slots__ = ()
    _FIELDS = ("name", "numel", "checked", "max_abs_err", "max_rel_err", "worst_index", "worst_analytic",
               "worst_numeric", "passed")

    def __getattr__(self, k):
        try:
            return self[self._FIELDS.index(k)]
        except ValueError:
            raise AttributeError(k) from None

    def __repr__(self):
        return ("GradcheckEntry(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._FIELDS, self)) + ")")


class GradcheckReport:
    """og_gradcheck's report: .passed, .entries (GradcheckEntry per wrt
    tensor), .done/.total finite differences, .interrupted (Ctrl-C: the
    entries are partial); true when every element passed."""

    def __init__(self, passed, entries, order, interrupted=False, done=0, total=0):
        self.passed, self.entries, self.order = passed, entries, order
        self.interrupted, self.done, self.total = interrupted, done, total

    def __bool__(self):
        return self.passed

    def __repr__(self):
        verdict = "PASS" if self.passed else "FAIL"
        if self.interrupted:
            verdict += f" so far (interrupted after {self.done} of {self.total} finite differences)"
        lines = [f"gradcheck order {self.order}: {verdict}"]
        for e in self.entries:
            lines.append(f"  {e.name}: {e.checked}/{e.numel} checked, max abs error {e.max_abs_err:.3g}, "
                         f"max rel error {e.max_rel_err:.3g}  {'PASS' if e.passed else 'FAIL'}")
        return "\n".join(lines)


def gradcheck(model, order=1, wrt=None, eps=1e-6, atol=1e-5, rtol=1e-3, fast=False, seed=0, max_elements=0,
              inputs=None, seeds=None, progress=None, raise_on_failure=False):
    """Analytic gradients (order 1, or 2: the gradient graph's own) against
    central finite differences in float64 (og_gradcheck, as `onnxgrad
    gradcheck`). inputs: {name: ndarray}; inputs not given are random in
    [-1, 1]. seeds: {float output: upstream gradient} (torch's
    grad_outputs); outputs not given get random ones. progress: called as
    progress(done, total) after each finite difference, on this thread.
    Ctrl-C stops the check after the finite difference under way and raises
    KeyboardInterrupt carrying the partial report as .report. Returns a
    GradcheckReport; raise_on_failure raises onnxgrad.Error instead of
    returning a failed one."""
    if order not in (1, 2):
        raise _invalid(f"gradcheck: order must be 1 or 2, got {order}")
    wrt_l, wrt_c = _names(wrt, "wrt")
    n, arr, keep = model._feeds(inputs, {})
    seed_keep, seed_views = [], []
    for k, v in (seeds or {}).items():
        a = _as_array(v, f"seed '{k}'")
        t = _tensor_view(a, k)
        seed_keep.append((a, t))
        seed_views.append(ctypes.pointer(t))
    seed_arr = (C.T * max(1, len(seed_views)))(*seed_views)
    # A tolerance of 0 means "the default" to the library; an explicit 0
    # asks for exact agreement, which the smallest positive double gives (as the CLI does).
    tiny = 5e-324
    o = C.og_gradcheck_options(len(wrt_l), wrt_c, int(order), float(eps), float(atol) if atol > 0 else tiny,
                               float(rtol) if rtol > 0 else tiny, bool(fast), int(seed), int(max_elements), n,
                               arr, C.PROGRESS_FN(), None, len(seed_views), seed_arr)
    # The library runs the check with the GIL released, so a Ctrl-C only
    # sets Python's flag; Python code runs on this thread in the progress
    # callback after each finite difference, and there the signal handler
    # runs: while the check runs, SIGINT's default handler is replaced by
    # one that raises og_gradcheck_options.interrupt (the check then stops
    # and returns what it has compared), and KeyboardInterrupt is raised
    # once the call is back, carrying the partial report.
    stop = ctypes.c_int(0)
    raised = []

    def on_progress(user, done, total):
        try:
            if progress is not None:
                progress(done, total)
        except BaseException as e:   # KeyboardInterrupt included: re-raised when the call returns
            raised.append(e)
            stop.value = 1

    def on_sigint(signum, frame):
        raised.append(KeyboardInterrupt())
        stop.value = 1

    cb = C.PROGRESS_FN(on_progress)   # kept alive until the call returns
    o.progress = cb
    o.interrupt = ctypes.pointer(stop)
    r = ctypes.POINTER(C.og_gradcheck_report)()
    po, _buf = C.padded(o)
    old_handler = None
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        old_handler = signal.signal(signal.SIGINT, on_sigint)
    try:
        st = C.og_gradcheck(model._g, po, ctypes.byref(r))   # GIL released
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
    del keep, seed_keep
    if st and raised:
        raise raised[0]
    _check(st)
    try:
        rc = r.contents
        entries = []
        for k in range(rc.n):
            e = rc.entries[k]
            entries.append(GradcheckEntry((e.name.decode(), e.numel, e.checked, e.max_abs_err, e.max_rel_err,
                                           e.worst_index, e.worst_analytic, e.worst_numeric, bool(e.pass_))))
        report = GradcheckReport(bool(rc.pass_), entries, order, bool(rc.interrupted), rc.done, rc.total)
    finally:
        C.og_gradcheck_report_free(r)
    if raised:
        raised[0].report = report
        raise raised[0]
    if raise_on_failure and not report.passed:
        bad = [e.name for e in report.entries if not e.passed]
        raise _invalid(f"gradcheck failed: {len(bad)} of {len(entries)} tensors do not match their finite "
                       f"differences ({', '.join(bad)})")
    return report


# ---- training -------------------------------------------------------------------

_LOSS_FNS = {None: 0, "model": 0, "softmax-cross-entropy": 1, "mse": 2}
_OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2, "adagrad": 3}
_SCHEDULES = {"constant": 0, "step": 1, "cosine": 2}


def _choice(table, value, what):
    if value not in table:
        raise _invalid(f"{what} must be one of {', '.join(k for k in table if k)}, got {value!r}")
    return table[value]


class Trainer:
    """og_trainer: the model's training step as one compiled plan
    (include/onnxgrad/train.h). The settings are og_train_options':

        Trainer(m, loss_fn="softmax-cross-entropy", optimizer="adam", lr=1e-3)
        Trainer(m, loss="loss")          # the model computes its loss
        Trainer.resume(checkpoint)       # a model a Trainer exported

    loss_fn: "softmax-cross-entropy" (int64 labels) or "mse"; loss: the
    name of the model's own loss output (then loss_fn is not used).
    optimizer: sgd, momentum (momentum defaults to 0.9, as the CLI),
    adam, adagrad. schedule: constant, step (step_epochs, gamma), cosine
    (epochs). The model is copied: it may be freed afterwards."""

    def __init__(self, model, loss_fn="softmax-cross-entropy", loss=None, optimizer="sgd", lr=0.01, momentum=None,
                 nesterov=False, weight_decay=0.0, beta1=0.9, beta2=0.999, epsilon=0.0, clip_norm=0.0,
                 schedule="constant", step_epochs=1, gamma=0.1, epochs=1, input_name=None, output_name=None,
                 label_name=None, label_dtype=np.int64, trainable=None, threads=0, _resume=False):
        self._t = None
        self._lock = threading.RLock()
        self._out = {}
        h = C.c_void_p()
        if _resume:
            _check(C.og_trainer_create(model._g, None, int(threads), ctypes.byref(h)))
            self._t = h
            return
        o = C.og_train_options()
        o.struct_size = ctypes.sizeof(C.og_train_options)
        o.loss_fn = 0 if loss is not None else _choice(_LOSS_FNS, loss_fn, "loss_fn")
        o.optimizer = _choice(_OPTIMIZERS, optimizer, "optimizer")
        o.schedule = _choice(_SCHEDULES, schedule, "schedule")
        ldt = np.dtype(label_dtype)
        if ldt not in _OG_OF:
            raise _invalid(f"label_dtype {ldt} has no onnxgrad element type")
        o.label_dtype = _OG_OF[ldt]
        keep = []

        def s(v):
            if v is None:
                return None
            b = str(v).encode()
            keep.append(b)
            return b

        o.loss, o.input_name, o.output_name, o.label_name = s(loss), s(input_name), s(output_name), s(label_name)
        tl, tc = _names(trainable, "trainable")
        o.n_trainable, o.trainable = len(tl), tc
        o.lr = float(lr)
        o.momentum = float(momentum) if momentum is not None else (0.9 if optimizer == "momentum" else 0.0)
        o.nesterov = bool(nesterov)
        o.weight_decay, o.beta1, o.beta2 = float(weight_decay), float(beta1), float(beta2)
        o.epsilon, o.clip_norm = float(epsilon), float(clip_norm)
        o.step_epochs, o.gamma, o.epochs = int(step_epochs), float(gamma), int(epochs)
        _check(C.og_trainer_create(model._g, ctypes.byref(o), int(threads), ctypes.byref(h)))
        self._t = h

    @classmethod
    def resume(cls, model, threads=0):
        """Continues the training step a model carries (one a Trainer
        exported, or `onnxgrad train` saved): its weights, optimiser state
        and step count."""
        return cls(model, threads=threads, _resume=True)

    def __del__(self):
        if getattr(self, "_t", None) and C.og_trainer_free:
            C.og_trainer_free(self._t)
            self._t = None

    @property
    def num_steps(self):
        return C.og_trainer_num_steps(self._t)

    def set_epoch(self, epoch):
        """The epoch (0-based) whose learning rate the next steps use."""
        C.og_trainer_set_epoch(self._t, int(epoch))

    def lr(self, epoch):
        """The learning rate of `epoch` under the schedule."""
        return C.og_train_lr(C.og_trainer_options(self._t), int(epoch))

    @property
    def options(self):
        """The settings in force, as a dict."""
        o = C.og_trainer_options(self._t).contents
        inv = lambda table, v: next(k for k, x in table.items() if x == v and k)  # noqa: E731
        d = lambda b: b.decode() if b else None  # noqa: E731
        return {"loss_fn": inv({"model": 0, "softmax-cross-entropy": 1, "mse": 2}, o.loss_fn), "loss": d(o.loss),
                "input_name": d(o.input_name), "output_name": d(o.output_name), "label_name": d(o.label_name),
                "optimizer": inv(_OPTIMIZERS, o.optimizer), "lr": o.lr, "momentum": o.momentum,
                "nesterov": o.nesterov, "weight_decay": o.weight_decay, "beta1": o.beta1, "beta2": o.beta2,
                "epsilon": o.epsilon, "clip_norm": o.clip_norm, "schedule": inv(_SCHEDULES, o.schedule),
                "step_epochs": o.step_epochs, "gamma": o.gamma, "epochs": o.epochs}

    def step(self, x, labels=None):
        """One training step on a batch (dim 0 of x and labels); returns
        the batch's loss. A failed step changes nothing."""
        xa = _as_array(x, "x")
        xt = _tensor_view(xa, None)
        lt, la = None, None
        if labels is not None:
            la = _as_array(labels, "labels")
            lt = _tensor_view(la, None)
        loss = ctypes.c_double()
        with self._lock:
            _check(C.og_trainer_step(self._t, ctypes.byref(xt), ctypes.byref(lt) if lt is not None else None,
                                     ctypes.byref(loss)))   # GIL released
        del xa, la
        return loss.value

    def predict(self, x):
        """The model's output for x with the current weights (inference
        behaviour), as a new ndarray."""
        xa = _as_array(x, "x")
        xt = _tensor_view(xa, None)
        out = C.T()
        with self._lock:
            _check(C.og_trainer_predict(self._t, ctypes.byref(xt), ctypes.byref(out)))
            return _copy_tensor(out)   # the trainer's tensor, valid until its next call: copied

    def export(self, path=None):
        """The model with the current weights and its training step, as a
        Model; with path, also saved there."""
        g = C.c_void_p()
        with self._lock:
            _check(C.og_trainer_export(self._t, ctypes.byref(g)))
        m = Model(g, "trained model")
        if path is not None:
            m.save(path)
        return m
