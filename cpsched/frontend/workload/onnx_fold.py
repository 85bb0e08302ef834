"""Constant folding of an ONNX graph before import: shape chains and constant masks vanish.

Exporters keep computations whose inputs are all known before the model runs: `Shape`,
`Gather`, `Concat`, `Cast`, `Unsqueeze` chains that build the targets of Reshapes, causal masks
built by `Trilu`/`Where`/`Equal`, the rows of a packed weight picked by `Gather` or `Slice`.
:func:`fold_constants` replaces every such node by an initializer holding its value, computed
by the onnx package's own reference evaluator; `Shape` and `Size` of a tensor whose shape
ONNX shape inference (with data propagation) knows count as constants. What remains are the
nodes that compute on activations.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper, inliner, numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

from cpsched.model.errors import input_error

# Operators whose output is not a function of their inputs: never folded.
NONDETERMINISTIC = frozenset(
    {
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
        "Dropout",
    }
)


# Not folded even on constants: a dequantized weight is read by the accelerator as stored
# (int8), which the import keeps by reading the weight through the node.
KEEP_PRECISION = frozenset({"DequantizeLinear"})


def _static_shapes(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    """Tensors whose every dim shape inference knows as a number."""
    out: dict[str, tuple[int, ...]] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        if all(d >= 0 for d in dims):
            out[vi.name] = tuple(dims)
    return out


def _shape_value(node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    """The value of a `Shape` (with its start/end) or `Size` node of a tensor of `shape`."""
    if node.op_type == "Size":
        return np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start = int(attrs.get("start", 0))
    end = int(attrs.get("end", rank))
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.array(shape[start:end], dtype=np.int64)


def has_data(init: onnx.TensorProto) -> bool:
    """Whether an initializer holds its values: some files (Stream's examples) declare weights
    by shape only, which is all the import needs but nothing a node can be folded with."""
    if init.data_location == onnx.TensorProto.EXTERNAL or init.raw_data:
        return True
    fields = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")
    return any(len(getattr(init, f)) for f in fields) or math.prod(init.dims) == 0


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute
    )


def fold_constants(model: onnx.ModelProto, source: str = "model.onnx") -> onnx.ModelProto:
    """A copy of `model` with every node computable before run time replaced by an initializer.

    Local functions are inlined first (the dynamo exporter may emit them). Folding repeats
    until nothing changes: a folded Reshape target lets shape inference know more shapes, whose
    `Shape` nodes fold in turn. Initializers that no node reads any more (a packed weight whose
    rows were picked) are dropped. Raises InputError when shape inference or the reference
    evaluator fails on the graph.
    """
    if model.functions:
        model = inliner.inline_local_functions(model)
    for _ in range(len(model.graph.node) + 1):
        folded = _rewrite_sequences(_fold_once(model, source), source)
        if folded is model:
            break
        model = folded
    return model


def _rewrite_sequences(model: onnx.ModelProto, source: str) -> onnx.ModelProto:
    """`SequenceAt(SplitToSequence(x), i)` with constant splits and index becomes `Slice(x)`
    (and a `Squeeze` where the split drops the axis): the same part, read as a view.

    The dynamo exporter writes `torch.split` this way when its optimizer is off.
    """
    graph = model.graph
    small = {i.name: i for i in graph.initializer if has_data(i) and math.prod(i.dims) <= 64}
    consts = {name: numpy_helper.to_array(init) for name, init in small.items()}
    producer = {o: n for n in graph.node for o in n.output}
    targets = [
        n
        for n in graph.node
        if n.op_type == "SequenceAt"
        and n.input[0] in producer
        and producer[n.input[0]].op_type == "SplitToSequence"
        and n.input[1] in consts
        and (len(producer[n.input[0]].input) < 2 or producer[n.input[0]].input[1] in consts)
    ]
    if not targets:
        return model
    try:
        inferred = shape_inference.infer_shapes(model)
    except Exception as exc:  # onnx raises its own error types
        raise input_error(source, "", f"ONNX shape inference failed: {exc}") from None
    shapes = _static_shapes(inferred.graph)
    replace: dict[int, list[onnx.NodeProto]] = {}
    extra: list[onnx.TensorProto] = []
    for at in targets:
        split = producer[at.input[0]]
        x = split.input[0]
        if x not in shapes:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in split.attribute}
        rank = len(shapes[x])
        axis = int(attrs.get("axis", 0)) % rank
        n = shapes[x][axis]
        keepdims = int(attrs.get("keepdims", 1))
        given = len(split.input) > 1 and split.input[1]
        if not given:
            sizes = [1] * n
        else:
            value = consts[split.input[1]]
            if value.ndim == 0:
                chunk = int(value)
                sizes = [min(chunk, n - b) for b in range(0, n, chunk)]
            else:
                sizes = [int(v) for v in value]
            keepdims = 1
        index = int(consts[at.input[1]]) % len(sizes)
        start = sum(sizes[:index])
        stem = f"{at.output[0]}#seq"
        extra += [
            numpy_helper.from_array(np.array([start], np.int64), f"{stem}_starts"),
            numpy_helper.from_array(np.array([start + sizes[index]], np.int64), f"{stem}_ends"),
            numpy_helper.from_array(np.array([axis], np.int64), f"{stem}_axes"),
        ]
        sliced = at.output[0] if keepdims else f"{stem}_part"
        nodes = [
            helper.make_node(
                "Slice",
                [x, f"{stem}_starts", f"{stem}_ends", f"{stem}_axes"],
                [sliced],
                name=at.name or stem,
            )
        ]
        if not keepdims:
            nodes.append(
                helper.make_node(
                    "Squeeze", [sliced, f"{stem}_axes"], [at.output[0]], name=f"{stem}_squeeze"
                )
            )
        replace[id(at)] = nodes
    if not replace:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    for n in graph.node:
        out.graph.node.extend(replace.get(id(n), [n]))
    out.graph.initializer.extend(extra)
    read = {i for n in out.graph.node for i in n.input}
    kept = [n for n in out.graph.node if n.op_type != "SplitToSequence" or n.output[0] in read]
    del out.graph.node[:]
    out.graph.node.extend(kept)
    del out.graph.value_info[:]
    return out


def _fold_once(model: onnx.ModelProto, source: str) -> onnx.ModelProto:
    """One pass of folding; `model` itself when there is nothing to fold."""
    try:
        inferred = shape_inference.infer_shapes(model, data_prop=True)
    except Exception as exc:  # onnx raises its own error types
        raise input_error(source, "", f"ONNX shape inference failed: {exc}") from None
    graph = inferred.graph
    shapes = _static_shapes(graph)
    known: set[str] = {init.name for init in graph.initializer if has_data(init)}
    known.discard("")
    values: dict[str, np.ndarray] = {}  # Shape/Size results
    folded: list[onnx.NodeProto] = []
    kept: list[onnx.NodeProto] = []
    types = {
        vi.name: vi.type.tensor_type.elem_type
        for vi in [*graph.input, *graph.value_info, *graph.output]
        if vi.type.tensor_type.elem_type
    }
    types.update({i.name: i.data_type for i in graph.initializer})
    for node in graph.node:
        ins = [i for i in node.input if i]
        if (
            node.op_type == "CastLike"
            and ins[0] in known
            and ins[1] not in known
            and ins[1] in types  # only the type of the second input matters
        ):
            cast = helper.make_node("Cast", ins[:1], list(node.output), to=types[ins[1]])
            folded.append(cast)
            known.update(node.output)
            continue
        if node.op_type in ("Shape", "Size") and ins[0] in shapes:
            values[node.output[0]] = _shape_value(node, shapes[ins[0]])
            known.add(node.output[0])
            continue
        if (
            node.op_type not in NONDETERMINISTIC
            and node.op_type not in KEEP_PRECISION
            and not _has_subgraph(node)
            and all(i in known for i in ins)
        ):
            folded.append(node)
            known.update(o for o in node.output if o)
            continue
        kept.append(node)
    if not folded and not values:
        return model
    produced = {o for n in folded for o in n.output if o} | set(values)
    read_later = {i for n in kept for i in n.input} | {o.name for o in graph.output}
    wanted = [
        name for name in dict.fromkeys(o for n in folded for o in n.output) if name in read_later
    ]
    computed: dict[str, np.ndarray] = {}
    if wanted:
        used = {i for n in folded for i in n.input}
        sub = helper.make_graph(
            folded,
            "fold",
            [],
            [
                helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None)
                for name in wanted
            ],
            initializer=[
                *(i for i in graph.initializer if i.name in used),
                *(numpy_helper.from_array(v, k) for k, v in values.items() if k in used),
            ],
        )
        sub_model = helper.make_model(
            sub, opset_imports=list(inferred.opset_import), ir_version=inferred.ir_version
        )
        try:
            results = ReferenceEvaluator(sub_model).run(None, {})
        except Exception as exc:  # the evaluator raises whatever the op's code raises
            raise input_error(
                source, "", f"evaluating the graph's constant nodes failed: {exc}"
            ) from None
        computed = {name: np.asarray(v) for name, v in zip(wanted, results, strict=True)}
    computed.update({k: v for k, v in values.items() if k in read_later})
    still_read = {i for n in kept for i in n.input} | {o.name for o in graph.output}
    initializers = [i for i in graph.initializer if i.name in still_read and i.name not in produced]
    initializers += [numpy_helper.from_array(v, k) for k, v in computed.items()]
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(kept)
    del out.graph.initializer[:]
    out.graph.initializer.extend(initializers)
    # Shapes inferred before folding stay true; folded tensors are initializers now.
    del out.graph.value_info[:]
    out.graph.value_info.extend(v for v in graph.value_info if v.name not in computed)
    keep_inputs = [i for i in out.graph.input if i.name not in produced]
    del out.graph.input[:]
    out.graph.input.extend(keep_inputs)
    return out


__all__ = ["KEEP_PRECISION", "NONDETERMINISTIC", "fold_constants"]
