#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gen_cases.py OUTDIR — writes the hostile-input catalogue.

Every file named in tests/hostile/expect.txt is produced here, at test time,
so nothing binary is committed. Models start as valid ones built with
onnx.helper (opset 17, ir_version 8) and are then corrupted, either through
the protobuf objects (graph/attribute/tensor cases) or byte by byte (wire
cases). onnx.checker is never called: the inputs are invalid on purpose.

A model case may come with a sidecar `<case>.input.pb`; the runner then
expects the model to load and the run with that input to fail.

Run with Debian's /usr/bin/python3 (python3-onnx 1.12, numpy).
"""
import os
import stat
import random
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


# ---- protobuf wire helpers ------------------------------------------------

def varint(n):
    """Unsigned LEB128; negative numbers as 10-byte two's complement."""
    if n < 0:
        n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(field, wt):
    return varint((field << 3) | wt)


def ld(field, payload):
    """A length-delimited field (wire type 2)."""
    return tag(field, 2) + varint(len(payload)) + payload


def vint(field, value):
    return tag(field, 0) + varint(value)


# ---- valid starting points ------------------------------------------------

def model(graph, opset=17, ir=8, domains=()):
    ops = [helper.make_opsetid("", opset)] if opset is not None else []
    ops += [helper.make_opsetid(d, 1) for d in domains]
    m = helper.make_model(graph, opset_imports=ops, producer_name="hostile")
    m.ir_version = ir
    if opset is None:
        del m.opset_import[:]
    return m


def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def relu_graph(nodes=None, inputs=None, outputs=None, inits=(), value_info=()):
    nodes = nodes if nodes is not None else [helper.make_node("Relu", ["x"], ["y"], name="relu0")]
    inputs = inputs if inputs is not None else [vi("x", [1, 3])]
    outputs = outputs if outputs is not None else [vi("y", [1, 3])]
    return helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits),
                             value_info=list(value_info))


def relu_model(**kw):
    return model(relu_graph(**kw))


def conv_model(x_shape=(1, 3, 5, 5), w_shape=(2, 3, 3, 3), w_dtype=np.float32, attrs=None,
               extra_attrs=(), name="conv0"):
    w = numpy_helper.from_array(np.ones(w_shape, dtype=w_dtype), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name=name, **(attrs or {}))
    node.attribute.extend(extra_attrs)
    g = helper.make_graph([node], "g", [vi("x", list(x_shape))], [vi("y", None)], initializer=[w])
    return model(g)


def gemm_model(a_shape, b_shape, c_shape=None, name="gemm0"):
    inputs = [vi("a", list(a_shape))]
    inits = [numpy_helper.from_array(np.ones(b_shape, np.float32), "b")]
    names = ["a", "b"]
    if c_shape is not None:
        inits.append(numpy_helper.from_array(np.ones(c_shape, np.float32), "c"))
        names.append("c")
    node = helper.make_node("Gemm", names, ["y"], name=name)
    return model(helper.make_graph([node], "g", inputs, [vi("y", None)], initializer=inits))


def with_init(t):
    """A Relu model that also carries initializer t (consumed by a second Relu,
    so no loader can skip it as unused)."""
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu0"),
             helper.make_node("Relu", [t.name], ["z"], name="relu1")]
    return relu_model(nodes=nodes, inits=[t], outputs=[vi("y", [1, 3]), vi("z", None)])


def raw_tensor(name, dtype, dims, raw):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = raw
    return t


# ---- the catalogue --------------------------------------------------------

CASES = {}


def case(name):
    def reg(fn):
        assert name not in CASES, name
        CASES[name] = fn
        return fn
    return reg


def b(m):
    return m.SerializeToString()


BASE = None  # bytes of a valid Relu model, set in main()

# -- wire level --

case("w_empty.onnx")(lambda: b"")
# ModelProto.model_version (field 5) = 300 needs two varint bytes; stop after the first.
case("w_trunc_varint.onnx")(lambda: BASE + tag(5, 0) + b"\xac")
# Cut the file in the middle of ModelProto.graph.
case("w_trunc_len.onnx")(lambda: BASE[:len(BASE) - 7])
case("w_random.onnx")(lambda: bytes(random.Random(20240611).getrandbits(8) for _ in range(4096)))
case("w_png.onnx")(lambda: bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                        "1f15c4890000000d49444154789c6360000002000001e221bc330000"
                                        "000049454e44ae426082"))
# ir_version whose varint runs to 11 bytes.
case("w_varint_11.onnx")(lambda: tag(1, 0) + b"\xff" * 10 + b"\x01" + BASE)
case("w_field_0.onnx")(lambda: b"\x00\x08" + BASE)
case("w_tag_6_bytes.onnx")(lambda: b"\xff\xff\xff\xff\xff\x01" + BASE)
for _wt in (3, 4, 6, 7):
    case(f"w_wiretype_{_wt}.onnx")(lambda wt=_wt: tag(5, wt) + BASE)


def _len_past_end():
    # graph.node[0].name "relu0": raise its length byte from 5 to 100
    # without touching the enclosing lengths.
    i = BASE.index(b"\x1a\x05relu0")
    return BASE[:i + 1] + b"\x64" + BASE[i + 2:]


case("w_len_past_end.onnx")(_len_past_end)
# ModelProto.graph (field 7) sent as a varint.
case("w_graph_as_varint.onnx")(lambda: tag(7, 0) + varint(1) + BASE)


def _packed_float_len():
    # An initializer's packed float_data (field 4) of 3 bytes. The fourth
    # byte, 0x3f, is left in place: as a tag it is field 7 (int64_data) with
    # wire type 7, so the packed length must be caught first.
    t = TensorProto()
    t.name = "k"
    t.data_type = F
    t.dims.extend([1])
    t.float_data.append(1.0)
    data = b(with_init(t))
    i = data.index(b"\x22\x04\x00\x00\x80\x3f")
    return data[:i] + b"\x22\x03" + data[i + 2:]


# TensorProto.float_data (packed floats) whose length is not a multiple of 4.
case("w_packed_float_len.onnx")(_packed_float_len)


def _deep_nesting(levels=10000):
    # value_info { name "deep" type { sequence_type { elem_type { sequence_type ... }}}}
    # 5,000 sequence_type links, 10,000 nested messages: protobuf-c alone
    # would recurse once per message.
    inner = ld(1, vint(1, F))          # TypeProto.tensor_type { elem_type FLOAT }
    for _ in range(levels // 2):
        inner = ld(4, ld(1, inner))    # TypeProto.sequence_type.elem_type
    value_info = ld(1, b"deep") + ld(2, inner)
    g = relu_graph()
    gb = g.SerializeToString() + ld(13, value_info)
    m = model(relu_graph())
    m.ClearField("graph")
    return m.SerializeToString() + ld(7, gb)


case("w_deep_nesting.onnx")(_deep_nesting)

# -- graph level --


def _no_graph():
    m = relu_model()
    m.ClearField("graph")
    return b(m)


case("g_no_graph.onnx")(_no_graph)
case("g_no_outputs.onnx")(lambda: b(relu_model(outputs=[])))
case("g_no_opset.onnx")(lambda: b(model(relu_graph(), opset=None)))
case("g_opset_99.onnx")(lambda: b(model(relu_graph(), opset=99)))
case("g_unknown_op.onnx")(lambda: b(relu_model(nodes=[helper.make_node("Frobnicate", ["x"], ["y"], name="frob0")])))
case("g_unknown_domain.onnx")(lambda: b(model(relu_graph(
    nodes=[helper.make_node("Relu", ["x"], ["y"], name="relu0", domain="com.evil")]), domains=["com.evil"])))
case("g_dangling_input.onnx")(lambda: b(relu_model(nodes=[helper.make_node("Relu", ["ghost"], ["y"], name="relu0")])))
case("g_produced_twice.onnx")(lambda: b(relu_model(nodes=[
    helper.make_node("Relu", ["x"], ["y"], name="relu0"),
    helper.make_node("Relu", ["x"], ["y"], name="relu1")])))
case("g_output_is_input.onnx")(lambda: b(relu_model(nodes=[helper.make_node("Relu", ["y"], ["x"], name="relu0")],
                                                    inputs=[vi("x", [1, 3]), vi("y", [1, 3])])))
case("g_cycle.onnx")(lambda: b(relu_model(nodes=[
    helper.make_node("Relu", ["x"], ["a"], name="relu0"),
    helper.make_node("Gemm", ["a", "c"], ["b"], name="gemm_c"),
    helper.make_node("Gemm", ["b", "w"], ["c"], name="gemm_b"),
    helper.make_node("Relu", ["c"], ["y"], name="relu1")],
    inits=[numpy_helper.from_array(np.eye(3, dtype=np.float32), "w")])))
case("g_self_loop.onnx")(lambda: b(relu_model(nodes=[
    helper.make_node("Relu", ["t"], ["t"], name="selfish"),
    helper.make_node("Relu", ["x"], ["y"], name="relu0")], outputs=[vi("y", [1, 3]), vi("t", None)])))
case("g_dup_outputs.onnx")(lambda: b(relu_model(outputs=[vi("y", [1, 3]), vi("y", [1, 3])])))
case("g_dup_inputs.onnx")(lambda: b(relu_model(inputs=[vi("x", [1, 3]), vi("x", [1, 3])])))
case("g_relu_2_inputs.onnx")(lambda: b(relu_model(nodes=[helper.make_node("Relu", ["x", "x"], ["y"], name="relu0")])))
case("g_empty_node_output.onnx")(lambda: b(relu_model(nodes=[helper.make_node("Relu", ["x"], [""], name="relu0")])))
case("g_value_info_clash.onnx")(lambda: b(relu_model(
    nodes=[helper.make_node("Relu", ["x"], ["h"], name="relu0"), helper.make_node("Relu", ["h"], ["y"], name="relu1")],
    value_info=[vi("h", [7, 7])])))
case("g_output_type_clash.onnx")(lambda: b(relu_model(outputs=[vi("y", [1, 3], TensorProto.DOUBLE)])))
case("g_17_inputs.onnx")(lambda: b(relu_model(nodes=[helper.make_node("Relu", ["x"] * 17, ["y"], name="wide0")])))

case("g_relu_0_outputs.onnx")(lambda: b(relu_model(nodes=[helper.make_node("Relu", ["x"], [], name="relu0")],
                                                   outputs=[vi("x", [1, 3])])))
case("g_negative_input_dim.onnx")(lambda: b(relu_model(inputs=[vi("x", [1, -3])])))
case("g_sequence_input.onnx")(lambda: b(relu_model(inputs=[helper.make_tensor_sequence_value_info("x", F, [1, 3])])))
case("g_unnamed_input.onnx")(lambda: b(relu_model(inputs=[vi("", [1, 3])])))


def _nul_in_name():
    # Node input "x\0zz": a C string reads it as "x", the graph input, while
    # every other ONNX reader sees a dangling input. Must not load.
    m = relu_model(nodes=[helper.make_node("Relu", ["xQzz"], ["y"], name="relu0")])
    return b(m).replace(b"xQzz", b"x\x00zz")


case("g_nul_in_name.onnx")(_nul_in_name)

# -- size: a linear loader answers each in a few ms; a quadratic one in seconds.
# (20,000 graph outputs would show og_graph_add_output's quadratic duplicate
# check too, but 20,000 new values already cost ~80 ms of linear work here,
# so a time limit cannot tell the two apart; that one is left to review.) --
BIG = 20000


def _many_attrs():
    return b(conv_model(extra_attrs=[helper.make_attribute(f"a{i}", i) for i in range(BIG)]))


def _many_opsets():
    m = relu_model()
    m.opset_import.extend([helper.make_opsetid(f"d{i}", 1) for i in range(BIG)] + [helper.make_opsetid("d0", 1)])
    return b(m)


def _many_metadata():
    m = relu_model()
    helper.set_model_props(m, {f"k{i}": "v" for i in range(BIG)})
    m.metadata_props.add(key="k0", value="v")
    return b(m)


def _long_cycle(n=BIG // 4):
    # n Relus in a ring fed back from the graph output: Kahn's algorithm
    # must find the cycle without recursion, in linear time.
    nodes = [helper.make_node("Relu", ["y"], ["h0"], name="n0")]
    nodes += [helper.make_node("Relu", [f"h{i}"], [f"h{i + 1}"], name=f"n{i + 1}") for i in range(n)]
    nodes.append(helper.make_node("Relu", [f"h{n}"], ["y"], name="last"))
    return b(relu_model(nodes=nodes))


case("x_many_attrs.onnx")(_many_attrs)
case("x_many_opsets.onnx")(_many_opsets)
case("x_many_metadata.onnx")(_many_metadata)
case("x_long_cycle.onnx")(_long_cycle)


# -- resources: limits (onnxgrad/limits.h). A `<stem>.limits` file lowers a
# limit for one case (see runner.c), so "over the limit" needs no 2 GiB file.
LIMITS = {}


def _empty_attrs(n=1 << 20):
    # 2 MB of empty AttributeProtos (2 bytes each) on one node: protobuf-c
    # allocates a ~150-byte struct per entry, ~100x the file. The
    # parse-memory limit (8 x file + 64 MiB) must stop it cleanly. Written
    # as raw bytes: GraphProto.node (1) and ModelProto.graph (7) merge.
    node = helper.make_node("Relu", ["x"], ["y"], name="relu0").SerializeToString() + b"\x2a\x00" * n
    g = relu_graph(nodes=[])
    m = relu_model()
    m.ClearField("graph")
    return b(m) + ld(7, b(g) + ld(1, node))


def _chain(n, names="pytorch"):
    # n Relus in a line, valid, written as raw bytes (GraphProto.node
    # entries appended to a node-less graph) so 10^6 nodes take seconds.
    # "pytorch" names look like an exporter's (/layers.7/Relu_output_0,
    # ~86 bytes a node); "tiny" ones (h7, ~24 bytes a node) make the IR
    # cost more than 8x the file.
    def value(i):
        if i < 0:
            return b"x"
        if i == n - 1:
            return b"y"
        return (f"/layers.{i}/Relu_output_0" if names == "pytorch" else f"h{i}").encode()
    parts = []
    for i in range(n):
        node = ld(1, value(i - 1)) + ld(2, value(i)) + ld(4, b"Relu")
        if names == "pytorch":
            node += ld(3, f"/layers.{i}/Relu".encode())
        parts.append(ld(1, node))
    m = relu_model(nodes=[])
    g = b(m.graph)
    m.ClearField("graph")
    return b(m) + ld(7, g + b"".join(parts))


case("x_empty_attrs_2mb.onnx")(_empty_attrs)
# Linear: ten times the nodes may cost at most 25 times the time (page
# faults and a busy machine make it noisy; quadratic work would be 100x).
case("x_chain_1e5.onnx")(lambda: _chain(10 ** 5))
LIMITS["x_chain_1e5.onnx"] = "time_ms 3000\n"
case("x_chain_1e6.onnx")(lambda: _chain(10 ** 6))
LIMITS["x_chain_1e6.onnx"] = "time_ms 30000\nlinear_vs x_chain_1e5.onnx 25\n"
# The whole load, IR included, stays within the parse-memory limit: 3 x 10^5
# nodes with tiny names (7 MB) would need ~18x the file in IR, more than
# 8 x 7 MB + 64 MiB allow.
case("x_ir_amplification.onnx")(lambda: _chain(3 * 10 ** 5, names="tiny"))
LIMITS["x_ir_amplification.onnx"] = "time_ms 5000\n"
case("w_over_file_limit.onnx")(lambda: b(relu_model(nodes=[helper.make_node(
    "Relu", ["x"], ["y"], name="relu0", doc_string="d" * 2000)])))
LIMITS["w_over_file_limit.onnx"] = "OG_LIMIT_FILE_BYTES 1024\n"
case("w_over_depth_limit.onnx")(lambda: b(conv_model()))   # graph.initializer.dims is depth 3
LIMITS["w_over_depth_limit.onnx"] = "OG_LIMIT_NESTING_DEPTH 2\n"
case("t_over_rank_limit.onnx")(lambda: b(with_init(numpy_helper.from_array(np.ones((1, 1, 1, 1, 2), np.float32), "k"))))
LIMITS["t_over_rank_limit.onnx"] = "OG_LIMIT_RANK 4\n"
case("t_over_element_limit.onnx")(lambda: b(with_init(numpy_helper.from_array(np.ones((64, 64), np.float32), "k"))))
LIMITS["t_over_element_limit.onnx"] = "OG_LIMIT_TENSOR_ELEMENTS 1000\n"
# Inference alone sees a [2^21, 2^21] product: 2^42 elements.
case("a_gemm_output_2_42.onnx")(lambda: b(model(helper.make_graph(
    [helper.make_node("Gemm", ["a", "b"], ["y"], name="gemm0")], "g",
    [vi("a", [1 << 21, 1]), vi("b", [1, 1 << 21])], [vi("y", None)]))))

# -- attributes --

case("a_group_float.onnx")(lambda: b(conv_model(extra_attrs=[helper.make_attribute("group", 1.0)])))
case("a_dup_attr.onnx")(lambda: b(conv_model(attrs={"group": 1}, extra_attrs=[helper.make_attribute("group", 1)])))
case("a_unknown_attr.onnx")(lambda: b(conv_model(attrs={"gruop": 1})))
case("a_kernel_shape_len.onnx")(lambda: b(conv_model(attrs={"kernel_shape": [3]})))
case("a_zero_stride.onnx")(lambda: b(conv_model(attrs={"strides": [1, 0]})))
case("a_negative_pad.onnx")(lambda: b(conv_model(attrs={"pads": [0, -1, 0, 0]})))
case("a_group_zero.onnx")(lambda: b(conv_model(attrs={"group": 0})))
case("a_group_not_dividing.onnx")(lambda: b(conv_model(x_shape=(1, 3, 5, 5), w_shape=(2, 1, 3, 3), attrs={"group": 2})))
case("a_auto_pad_unknown.onnx")(lambda: b(conv_model(attrs={"auto_pad": "SOMETIMES"})))
case("a_pads_2_62.onnx")(lambda: b(conv_model(attrs={"pads": [1 << 62, 1 << 62, 1 << 62, 1 << 62]})))
case("a_dilation_huge.onnx")(lambda: b(conv_model(attrs={"dilations": [1 << 62, 1]})))
case("a_dilated_kernel_too_big.onnx")(lambda: b(conv_model(attrs={"dilations": [3, 3]})))
case("a_conv_dtype_mismatch.onnx")(lambda: b(conv_model(w_dtype=np.float64)))
case("a_conv_w_rank_2.onnx")(lambda: b(conv_model(w_shape=(2, 3))))
case("a_maxpool_no_kernel.onnx")(lambda: b(relu_model(
    nodes=[helper.make_node("MaxPool", ["x"], ["y"], name="pool0")],
    inputs=[vi("x", [1, 1, 4, 4])], outputs=[vi("y", None)])))
# A 2^22 x 2^22 image: the im2col GEMM has more columns than a BLAS int.
case("a_conv_blas_range.onnx")(lambda: b(conv_model(x_shape=(1, 1, 1 << 22, 1 << 22), w_shape=(1, 1, 3, 3))))
case("a_kernel_shape_0.onnx")(lambda: b(conv_model(w_shape=(2, 3, 0, 3), attrs={"kernel_shape": [0, 3]})))


def _attr_graph():
    sub = relu_graph()
    return b(conv_model(extra_attrs=[helper.make_attribute("body", sub)]))


def _attr_type_99():
    # AttributeProto.type (field 20, tag a0 01) INT (2) -> 99; the python
    # protobuf refuses to set an unknown enum value, so patch the bytes.
    data = b(conv_model(extra_attrs=[helper.make_attribute("group", 1)]))
    assert data.count(b"\xa0\x01\x02") == 1
    return data.replace(b"\xa0\x01\x02", b"\xa0\x01\x63")


def _attr_no_name():
    a = helper.make_attribute("group", 1)
    a.name = ""
    return b(conv_model(extra_attrs=[a]))


def _attr_two_values():
    # type INT with both i and f set: which one is meant is unknowable.
    a = helper.make_attribute("group", 1)
    a.f = 2.0
    return b(conv_model(extra_attrs=[a]))


def _trunc_packed():
    # A packed int64 dims field whose last varint has its continuation bit
    # set: the field's length holds, the value inside it is cut short.
    t = raw_tensor("k", F, [2, 2], b"\0" * 16)
    data = b(with_init(t))
    dims = b"\x08\x02\x08\x02"   # TensorProto.dims [2, 2], unpacked (proto2)
    assert data.count(dims) == 1
    return data.replace(dims, b"\x0a\x02\x02\x82")   # same length, packed, cut short


def _ir_version(v):
    m = relu_model()
    m.ir_version = v
    return b(m)


case("a_two_value_fields.onnx")(_attr_two_values)
case("w_trunc_packed.onnx")(_trunc_packed)
case("g_ir_version_0.onnx")(lambda: _ir_version(0))
case("g_ir_version_99.onnx")(lambda: _ir_version(99))
case("a_strides_len.onnx")(lambda: b(conv_model(attrs={"strides": [1, 1, 1]})))
case("a_dilations_len.onnx")(lambda: b(conv_model(attrs={"dilations": [1]})))
case("a_pads_len.onnx")(lambda: b(conv_model(attrs={"pads": [1, 1]})))
case("a_w_spatial_rank.onnx")(lambda: b(conv_model(w_shape=(2, 3, 3))))
case("a_negative_stride.onnx")(lambda: b(conv_model(attrs={"strides": [-1, 1]})))
case("a_negative_dilation.onnx")(lambda: b(conv_model(attrs={"dilations": [1, -2]})))
case("a_negative_kernel.onnx")(lambda: b(conv_model(attrs={"kernel_shape": [-3, 3]})))
case("a_negative_group.onnx")(lambda: b(conv_model(attrs={"group": -1})))
case("a_ceil_mode_2.onnx")(lambda: b(model(helper.make_graph(
    [helper.make_node("MaxPool", ["x"], ["y"], name="pool0", kernel_shape=[2, 2], ceil_mode=2)], "g",
    [vi("x", [1, 1, 4, 4])], [vi("y", None)]))))
case("a_trans_a_2.onnx")(lambda: b(model(helper.make_graph(
    [helper.make_node("Gemm", ["a", "b"], ["y"], name="gemm0", transA=2)], "g",
    [vi("a", [2, 2]), vi("b", [2, 2])], [vi("y", None)]))))
case("a_graph_attr.onnx")(_attr_graph)
case("a_type_99.onnx")(_attr_type_99)
case("a_no_name.onnx")(_attr_no_name)
case("a_gemm_rank_3.onnx")(lambda: b(gemm_model((2, 3, 4), (4, 5))))
case("a_gemm_k_mismatch.onnx")(lambda: b(gemm_model((2, 3), (4, 5))))
case("a_gemm_c_not_broadcastable.onnx")(lambda: b(gemm_model((2, 3), (3, 5), (3, 5))))
case("a_flatten_axis.onnx")(lambda: b(relu_model(
    nodes=[helper.make_node("Flatten", ["x"], ["y"], name="flat0", axis=5)], outputs=[vi("y", None)])))

# -- tensor data (initializers) --

case("t_raw_size.onnx")(lambda: b(with_init(raw_tensor("k", F, [2, 2], b"\0" * 12))))


def _typed(name, dims, floats=(), raw=None):
    t = TensorProto()
    t.name = name
    t.data_type = F
    t.dims.extend(dims)
    t.float_data.extend(floats)
    if raw is not None:
        t.raw_data = raw
    return t


case("t_typed_count.onnx")(lambda: b(with_init(_typed("k", [2, 2], [1, 2, 3]))))
case("t_raw_and_typed.onnx")(lambda: b(with_init(_typed("k", [2], [1, 2], raw=b"\0" * 8))))
case("t_negative_dim.onnx")(lambda: b(with_init(raw_tensor("k", F, [-1, 2], b""))))
case("t_dims_overflow.onnx")(lambda: b(with_init(raw_tensor("k", F, [1 << 32, 1 << 32], b""))))
case("t_bytes_overflow.onnx")(lambda: b(with_init(raw_tensor("k", TensorProto.DOUBLE, [1 << 61], b""))))
case("t_1_byte_2_60.onnx")(lambda: b(with_init(raw_tensor("k", TensorProto.UINT8, [1 << 60], b"\x01"))))


def _strings():
    t = TensorProto()
    t.name = "k"
    t.data_type = TensorProto.STRING
    t.dims.extend([1])
    t.string_data.append(b"hello")
    return t


case("t_string.onnx")(lambda: b(with_init(_strings())))
case("t_complex64.onnx")(lambda: b(with_init(raw_tensor("k", TensorProto.COMPLEX64, [1], b"\0" * 8))))
case("t_dtype_0.onnx")(lambda: b(with_init(raw_tensor("k", TensorProto.UNDEFINED, [1], b"\0" * 4))))
case("t_rank_33.onnx")(lambda: b(with_init(raw_tensor("k", F, [1] * 33, b"\0" * 4))))
def _dup_init():
    m = with_init(raw_tensor("k", F, [1, 3], b"\0" * 12))
    m.graph.initializer.extend([raw_tensor("k", F, [1, 3], b"\0" * 12)])
    return b(m)


case("t_dup_initializer.onnx")(_dup_init)


def _external():
    t = raw_tensor("k", F, [4], b"")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "../../etc/passwd"
    return b(with_init(t))


case("t_external_data.onnx")(_external)


def _int32_range():
    t = TensorProto()
    t.name = "k"
    t.data_type = TensorProto.UINT8
    t.dims.extend([2])
    t.int32_data.extend([1, 300])
    return b(with_init(t))


case("t_uint8_out_of_range.onnx")(_int32_range)
case("t_no_name.onnx")(lambda: b(relu_model(inits=[raw_tensor("", F, [1], b"\0" * 4)])))
case("t_init_vs_input_decl.onnx")(lambda: b(relu_model(
    inputs=[vi("x", [1, 3])], inits=[raw_tensor("x", F, [2, 2], b"\0" * 16)])))

# -- single-tensor .pb files --

case("p_empty.pb")(lambda: b"")
case("p_truncated.pb")(lambda: numpy_helper.from_array(np.ones((4, 4), np.float32), "t").SerializeToString()[:-9])
case("p_bad_dtype.pb")(lambda: raw_tensor("t", 99, [1], b"\0" * 4).SerializeToString())
case("p_raw_size.pb")(lambda: raw_tensor("t", F, [3], b"\0" * 4).SerializeToString())
case("p_model_as_tensor.pb")(lambda: BASE)
# 10,000 empty external_data entries (2 bytes each) cost protobuf-c ~48 bytes
# each; with the 64 MiB allowance set to 0, 8 x 20 KB is not enough.
case("p_parse_budget.pb")(lambda: raw_tensor("t", F, [1], b"\0" * 4).SerializeToString() + b"\x6a\x00" * 10000)
LIMITS["p_parse_budget.pb"] = "OG_LIMIT_PARSE_MEMORY_BASE 0\n"

# -- run time (model loads; the sidecar input must be rejected) --


def _save_input(path, arr, name="x"):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def _run_shape(out):
    _save_input(out + ".input.pb", np.ones((2, 3), np.float32))
    return b(relu_model())


def _run_dtype(out):
    _save_input(out + ".input.pb", np.ones((1, 3), np.float64))
    return b(relu_model())


def _run_conv_channels(out):
    _save_input(out + ".input.pb", np.ones((1, 4, 5, 5), np.float32))
    return b(conv_model(x_shape=("N", "C", "H", "W")))


def _run_unknown_name(out):
    _save_input(out + ".input.pb", np.ones((1, 3), np.float32), name="nope")
    return b(relu_model(inputs=[]  # x becomes an initializer: no feed wanted
                        , inits=[numpy_helper.from_array(np.ones((1, 3), np.float32), "x")]))


def _run_conv_too_small(out):
    # Spatial dims are symbolic, so the model loads; a 2x2 image is smaller
    # than the 3x3 kernel, which only the run can see.
    _save_input(out + ".input.pb", np.ones((1, 3, 2, 2), np.float32))
    return b(conv_model(x_shape=(1, 3, "H", "W")))


def _run_huge_workspace(out):
    # Declares a [1,64,16384,16384] input: every GEMM dimension fits a BLAS
    # int, but planning needs an im2col workspace of 576 x 2^28 floats
    # (~600 GB). Planning must fail cleanly; the input is never read.
    _save_input(out + ".input.pb", np.ones((1, 1, 4, 4), np.float32))
    return b(conv_model(x_shape=(1, 64, 1 << 14, 1 << 14), w_shape=(1, 64, 3, 3), attrs={"pads": [1, 1, 1, 1]}))


def _run_plan_budget(out):
    # Static shapes: Conv to a [1,256,8192,8192] float output (64 GiB) is
    # over the 16 GiB plan budget; og_plan_create refuses it before any
    # allocation, so the input is never read.
    _save_input(out + ".input.pb", np.ones((1, 1, 4, 4), np.float32))
    return b(conv_model(x_shape=(1, 3, 8192, 8192), w_shape=(256, 3, 3, 3), attrs={"pads": [1, 1, 1, 1]}))


def _run_declared_intermediate(out):
    # Found by fuzz_run (tests/fuzz/crashes/run/): x is [1,N] and the model
    # declares the intermediate h as [1,3]; fed [1,4], h would be [1,4].
    # The run must refuse, not hand back a shape the graph contradicts.
    _save_input(out + ".input.pb", np.ones((1, 4), np.float32))
    return b(relu_model(nodes=[helper.make_node("Relu", ["x"], ["h"], name="relu0"),
                               helper.make_node("Relu", ["h"], ["y"], name="relu1")],
                        inputs=[vi("x", [1, "N"])], outputs=[vi("y", None)], value_info=[vi("h", [1, 3])]))


SIDE = {
    "r_plan_budget.onnx": _run_plan_budget,
    "r_declared_intermediate.onnx": _run_declared_intermediate,
    "r_input_shape.onnx": _run_shape,
    "r_input_dtype.onnx": _run_dtype,
    "r_conv_channels.onnx": _run_conv_channels,
    "r_extra_input.onnx": _run_unknown_name,
    "r_conv_too_small.onnx": _run_conv_too_small,
    "r_huge_workspace.onnx": _run_huge_workspace,
}


# ---- external data ----------------------------------------------------------
# e_*.onnx: an initializer 'k' (float [4], 16 bytes) whose data is external.
# The data files live in OUTDIR/ext/ (a directory, so the runner does not
# take them for cases): w.bin holds the 16 bytes; sub/w.bin a copy;
# link.bin -> w.bin and linkdir -> sub are symbolic links; fifo is a FIFO;
# hard_a.bin and hard_b.bin are one file with two links. Device files need
# root to create (mknod); tests/unit/test_external.c covers them when it
# can. The cases go through SIDE because its functions receive the output
# stem, which says where OUTDIR is; they write no .input.pb, so the runner
# only loads them. e_ok.onnx shows the fixtures themselves are sound.

def _ext_fixtures(out):
    ext = os.path.join(out, "ext")
    if os.path.isdir(ext):
        return
    os.makedirs(os.path.join(ext, "sub"))
    data = np.arange(1, 5, dtype=np.float32).tobytes()
    for name in ("w.bin", os.path.join("sub", "w.bin"), "hard_a.bin"):
        with open(os.path.join(ext, name), "wb") as f:
            f.write(data)
    os.link(os.path.join(ext, "hard_a.bin"), os.path.join(ext, "hard_b.bin"))
    os.symlink("w.bin", os.path.join(ext, "link.bin"))
    os.symlink("sub", os.path.join(ext, "linkdir"))
    os.mkfifo(os.path.join(ext, "fifo"))
    # A character device (like /dev/null) needs root; where mknod is not
    # allowed, a symlink to /dev/null stands in (refused as a symlink).
    try:
        os.mknod(os.path.join(ext, "null"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except OSError:
        os.symlink("/dev/null", os.path.join(ext, "null"))


def _ext_tensor(entries, data_location=TensorProto.EXTERNAL, raw=None):
    t = TensorProto()
    t.name = "k"
    t.data_type = F
    t.dims.extend([4])
    if data_location is not None:
        t.data_location = data_location
    for key, value in entries:
        e = t.external_data.add()
        e.key, e.value = key, value
    if raw is not None:
        t.raw_data = raw
    return t


def _ext_case(entries, **kw):
    def make(stem):
        _ext_fixtures(os.path.dirname(stem))
        ents = entries(os.path.dirname(stem)) if callable(entries) else entries
        return b(with_init(_ext_tensor(ents, **kw)))
    return make


def _ext_nul(stem):
    # "ext/w.bin\0zz": a C string reads "ext/w.bin"; the wire scan refuses it.
    _ext_fixtures(os.path.dirname(stem))
    return b(with_init(_ext_tensor([("location", "ext/w.binQzz")]))).replace(b"w.binQzz", b"w.bin\x00zz")


_LOC = [("location", "ext/w.bin")]
EXTERNAL_CASES = {
    "e_ok.onnx": _ext_case([("location", "ext/w.bin"), ("offset", "0"), ("length", "16")]),
    "e_dotdot.onnx": _ext_case([("location", "../secret.bin")]),
    "e_dotdot_inner.onnx": _ext_case([("location", "ext/../ext/w.bin")]),
    "e_absolute.onnx": _ext_case(lambda out: [("location", os.path.abspath(os.path.join(out, "ext", "w.bin")))]),
    "e_empty_name.onnx": _ext_case([("location", "")]),
    "e_nul_name.onnx": _ext_nul,
    "e_backslash.onnx": _ext_case([("location", "ext\\w.bin")]),
    "e_empty_component.onnx": _ext_case([("location", "ext//w.bin")]),
    "e_symlink_file.onnx": _ext_case([("location", "ext/link.bin")]),
    "e_symlink_dir.onnx": _ext_case([("location", "ext/linkdir/w.bin")]),
    "e_fifo.onnx": _ext_case([("location", "ext/fifo")]),
    "e_directory.onnx": _ext_case([("location", "ext/sub")]),
    "e_device.onnx": _ext_case([("location", "ext/null")]),
    "e_hardlink.onnx": _ext_case([("location", "ext/hard_a.bin")]),
    "e_missing.onnx": _ext_case([("location", "ext/nope.bin")]),
    "e_past_end.onnx": _ext_case(_LOC + [("offset", "8"), ("length", "16")]),
    "e_past_end_no_length.onnx": _ext_case(_LOC + [("offset", "4")]),
    "e_unknown_key.onnx": _ext_case(_LOC + [("basepath", "/etc")]),
    "e_two_locations.onnx": _ext_case(_LOC + [("location", "ext/sub/w.bin")]),
    "e_length_mismatch.onnx": _ext_case(_LOC + [("length", "12")]),
    "e_negative_offset.onnx": _ext_case(_LOC + [("offset", "-4")]),
    "e_offset_overflow.onnx": _ext_case(_LOC + [("offset", "99999999999999999999")]),
    "e_no_data_location.onnx": _ext_case(_LOC, data_location=None),
    "e_location_flag_only.onnx": _ext_case([]),
    "e_raw_and_external.onnx": _ext_case(_LOC, raw=b"\0" * 16),
}
for _name, _fn in EXTERNAL_CASES.items():
    assert _name not in SIDE and _name not in CASES, _name
    SIDE[_name] = _fn


# -- training infos (ModelProto.training_info): bindings checked against the
# graphs, names of the combined graph, nested and oversized training graphs --

def _train_model(ub=(("W", "W_new"),), ib=None, init=None, alg_nodes=None, alg_inits=(), alg_inputs=None,
                 alg_value_info=(), n_infos=1):
    w = numpy_helper.from_array(np.ones((1, 3), np.float32), "W")
    g = relu_graph(nodes=[helper.make_node("Add", ["x", "W"], ["y"], name="add0")], inits=[w])
    nodes = alg_nodes if alg_nodes is not None else [helper.make_node("Sub", ["W", "G"], ["W_new"], name="step")]
    inputs = alg_inputs if alg_inputs is not None else [vi("G", [1, 3])]
    alg = helper.make_graph(nodes, "alg", inputs, [vi("W_new", [1, 3])], initializer=list(alg_inits),
                            value_info=list(alg_value_info))
    m = model(g)
    for _ in range(n_infos):
        m.training_info.append(helper.make_training_info(alg, list(ub), init, list(ib) if ib else None))
    return m


def _init_graph(inputs=()):
    c = helper.make_node("Constant", [], ["W0"], name="c",
                         value=numpy_helper.from_array(np.zeros((1, 3), np.float32), "v"))
    return helper.make_graph([c], "init", list(inputs), [vi("W0", [1, 3])])


case("ti_update_key_unknown.onnx")(lambda: b(_train_model(ub=[("nope", "W_new")])))
case("ti_update_value_unknown.onnx")(lambda: b(_train_model(ub=[("W", "nope")])))
case("ti_update_key_twice.onnx")(lambda: b(_train_model(ub=[("W", "W_new"), ("W", "W_new")])))
case("ti_update_key_two_infos.onnx")(lambda: b(_train_model(n_infos=2)))
case("ti_binding_empty_key.onnx")(lambda: b(_train_model(ub=[("", "W_new")])))
case("ti_init_value_unknown.onnx")(lambda: b(_train_model(init=_init_graph(), ib=[("W", "nope")])))
case("ti_init_binding_no_init.onnx")(lambda: b(_train_model(ib=[("W", "W0")])))
case("ti_init_with_input.onnx")(lambda: b(_train_model(init=_init_graph([vi("q", [1])]), ib=[("W", "W0")])))
case("ti_alg_init_shadows.onnx")(lambda: b(_train_model(alg_inits=[numpy_helper.from_array(np.ones((1, 3), np.float32), "W")])))
case("ti_alg_output_clash.onnx")(lambda: b(_train_model(alg_nodes=[
    helper.make_node("Sub", ["W", "G"], ["W_new"], name="step"),
    helper.make_node("Identity", ["W"], ["y"], name="clash")])))
case("ti_alg_no_op_type.onnx")(lambda: b(_train_model(alg_nodes=[helper.make_node("", ["W", "G"], ["W_new"], name="step")])))
case("ti_alg_input_no_name.onnx")(lambda: b(_train_model(alg_inputs=[vi("", [1, 3])])))
case("ti_alg_subgraph.onnx")(lambda: b(_train_model(alg_nodes=[helper.make_node(
    "If", ["c"], ["W_new"], name="if0", then_branch=relu_graph(), else_branch=relu_graph())])))


def _train_deep_nesting(levels=10000):
    # as w_deep_nesting, inside training_info[0].algorithm.value_info
    inner = ld(1, vint(1, F))
    for _ in range(levels // 2):
        inner = ld(4, ld(1, inner))
    m = _train_model()
    alg = m.training_info[0].algorithm.SerializeToString() + ld(13, ld(1, b"deep") + ld(2, inner))
    m.training_info[0].ClearField("algorithm")
    return b(m) + ld(20, ld(2, alg))


def _train_empty_attrs(n=1 << 20):
    # 2 MB of empty AttributeProtos on an algorithm node (see _empty_attrs);
    # a second training_info entry is appended as raw bytes.
    node = helper.make_node("Sub", ["W", "G"], ["W_new"], name="step").SerializeToString() + b"\x2a\x00" * n
    return b(_train_model(ub=())) + ld(20, ld(2, ld(1, node)))


def _many_training_infos(n=5000, clash=True):
    # n training infos, each updating its own scalar k<i>; the last one
    # updates k0 again: duplicate keys over all infos must be found in
    # linear time.
    inits = [numpy_helper.from_array(np.array(float(i), np.float32), f"k{i}") for i in range(n)]
    g = relu_graph(inits=inits)
    m = model(g)
    for i in range(n + (1 if clash else 0)):
        k = i if i < n else 0
        alg = helper.make_graph([helper.make_node("Neg", [f"k{k}"], [f"o{i}"])], f"a{i}", [], [vi(f"o{i}", [])])
        m.training_info.append(helper.make_training_info(alg, [(f"k{k}", f"o{i}")], None, None))
    return b(m)


case("ti_deep_nesting.onnx")(_train_deep_nesting)
case("x_training_empty_attrs_2mb.onnx")(_train_empty_attrs)
case("x_many_training_infos.onnx")(_many_training_infos)
case("x_many_training_infos_ok.onnx")(lambda: _many_training_infos(clash=False))


def main():
    global BASE
    if len(sys.argv) != 2:
        sys.exit("usage: gen_cases.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    BASE = b(relu_model())
    n = 0
    for name, fn in CASES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(fn())
        n += 1
    for name, fn in SIDE.items():
        stem = os.path.join(out, name[:-len(".onnx")])
        data = fn(stem)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        n += 1
    for name, text in LIMITS.items():
        with open(os.path.join(out, name[:name.rindex(".")] + ".limits"), "w") as f:
            f.write(text)
    print(f"gen_cases.py: wrote {n} cases to {out}")


if __name__ == "__main__":
    main()
