#!/usr/bin/python3
"""FLOPs per inference of an ONNX model, for bench/run when `celer info` gives none: 2 x the multiply-accumulates of
Conv, ConvTranspose, MatMul and Gemm (other ops are ignored), with shapes from ONNX shape inference.

Usage: flops.py MODEL.onnx    -> prints the integer FLOP count, or exits 1 when a needed shape is unknown.
"""
import sys

import onnx
from onnx import shape_inference


def dims_of(value_info):
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(d.dim_value)
    return dims


def prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def graph_flops(graph, shapes):
    total = 0
    for node in graph.node:
        for attr in node.attribute:  # subgraphs (If/Loop/Scan bodies) counted once
            if attr.type == onnx.AttributeProto.GRAPH:
                total += graph_flops(attr.g, shapes)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                total += sum(graph_flops(g, shapes) for g in attr.graphs)
        if node.op_type not in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
            continue
        ins = [shapes.get(n) for n in node.input[:2]]
        out = shapes.get(node.output[0])
        if any(s is None for s in ins) or out is None:
            raise ValueError(f"unknown shape at {node.op_type} node '{node.name}'")
        x, w = ins
        if node.op_type == "Conv":
            # out [N, M, spatial...], W [M, C/group, k...]
            macs = prod(out) * prod(w[1:])
        elif node.op_type == "ConvTranspose":
            # X [N, C, spatial...], W [C, M/group, k...]
            macs = prod(x) * prod(w[1:])
        elif node.op_type == "MatMul":
            k = x[-1] if len(x) >= 1 else 1
            macs = prod(out) * k
        else:  # Gemm
            trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
            k = x[0] if trans_a else x[1]
            macs = prod(out) * k
        total += 2 * macs
    return total


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    model = shape_inference.infer_shapes(onnx.load(sys.argv[1]))
    shapes = {}
    for vi in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        d = dims_of(vi)
        if d is not None:
            shapes[vi.name] = d
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    try:
        print(graph_flops(model.graph, shapes))
    except ValueError as e:
        sys.exit(f"flops.py: {e}")


if __name__ == "__main__":
    main()
