#!/usr/bin/python3
"""Exports the model-test set to ONNX with Debian's torch + torchvision (random weights, fixed seeds) and records the
inputs and torch's outputs as .npy files:

    OUT_DIR/<model>_op<opset>/model.onnx
    OUT_DIR/<model>_op<opset>/input_<i>.npy, output_<i>.npy
    OUT_DIR/<model>_op<opset>/meta.json   {"inputs": [...], "outputs": [...], "flops": ..}

Usage: generate_models.py OUT_DIR [--set ci|full] [--models a,b] [--opsets 13,17]
Nothing is downloaded: every network is built from its definition with random weights.
"""
import argparse
import copy
import json
import math
import os
import sys
import time
import warnings

warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

torch.set_num_threads(max(1, os.cpu_count() or 1))


class BertLikeEncoder(torch.nn.Module):
    """A BERT-base-shaped encoder (embeddings + N post-norm transformer layers with erf GELU), written out so the
    export has the MatMul / Softmax / LayerNorm patterns real BERT exports have."""

    def __init__(self, layers=12, hidden=768, heads=12, ffn=3072, vocab=30522, max_pos=512):
        super().__init__()
        self.heads = heads
        self.word = torch.nn.Embedding(vocab, hidden)
        self.pos = torch.nn.Embedding(max_pos, hidden)
        self.token_type = torch.nn.Embedding(2, hidden)
        self.emb_norm = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            self.layers.append(torch.nn.ModuleDict({
                "q": torch.nn.Linear(hidden, hidden), "k": torch.nn.Linear(hidden, hidden),
                "v": torch.nn.Linear(hidden, hidden), "o": torch.nn.Linear(hidden, hidden),
                "norm1": torch.nn.LayerNorm(hidden, eps=1e-12), "up": torch.nn.Linear(hidden, ffn),
                "down": torch.nn.Linear(ffn, hidden), "norm2": torch.nn.LayerNorm(hidden, eps=1e-12)}))
        self.pool = torch.nn.Linear(hidden, hidden)

    def forward(self, input_ids, attention_mask):
        b, s = input_ids.shape
        pos = torch.arange(s, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.pos(pos) + self.token_type(torch.zeros_like(input_ids))
        x = self.emb_norm(x)
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        d = x.shape[-1] // self.heads
        for layer in self.layers:
            def split(t):
                return t.view(b, s, self.heads, d).transpose(1, 2)
            q, k, v = split(layer["q"](x)), split(layer["k"](x)), split(layer["v"](x))
            att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + mask
            ctx = torch.matmul(torch.softmax(att, dim=-1), v).transpose(1, 2).reshape(b, s, -1)
            x = layer["norm1"](x + layer["o"](ctx))
            h = torch.nn.functional.gelu(layer["up"](x))
            x = layer["norm2"](x + layer["down"](h))
        pooled = torch.tanh(self.pool(x[:, 0]))
        return x, pooled


class SsdliteHeads(torch.nn.Module):
    """SSDlite320-MobileNetV3-Large backbone + heads (raw box regressions and class logits, before decoding/NMS)."""

    def __init__(self):
        super().__init__()
        m = torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
        self.backbone = m.backbone
        self.head = m.head

    def forward(self, x):
        feats = list(self.backbone(x).values())
        out = self.head(feats)
        return out["bbox_regression"], out["cls_logits"]


def vision(name, size=224, **kw):
    def make():
        return getattr(torchvision.models, name)(weights=None, **kw), [("input", (1, 3, size, size), "float")]
    return make


MODELS = {
    "resnet50": vision("resnet50"),
    "mobilenet_v2": vision("mobilenet_v2"),
    "mobilenet_v3_small": vision("mobilenet_v3_small"),
    "efficientnet_b0": vision("efficientnet_b0"),
    "squeezenet1_0": vision("squeezenet1_0"),
    "shufflenet_v2_x1_0": vision("shufflenet_v2_x1_0"),
    "densenet121": vision("densenet121"),
    "inception_v3": vision("inception_v3", size=299, aux_logits=True, init_weights=False),
    "vit_b_16": vision("vit_b_16"),
    "bert_base": lambda: (BertLikeEncoder(), [("input_ids", (1, 128), "ids"), ("attention_mask", (1, 128), "mask")]),
    "bert_tiny": lambda: (BertLikeEncoder(layers=2, hidden=128, heads=2, ffn=512),
                          [("input_ids", (1, 128), "ids"), ("attention_mask", (1, 128), "mask")]),
    "ssdlite320_mobilenet_v3": lambda: (SsdliteHeads(), [("input", (1, 3, 320, 320), "float")]),
}
SETS = {
    "ci": ["mobilenet_v3_small", "squeezenet1_0", "shufflenet_v2_x1_0", "bert_tiny", "ssdlite320_mobilenet_v3"],
    "full": ["resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "squeezenet1_0",
             "shufflenet_v2_x1_0", "densenet121", "inception_v3", "vit_b_16", "bert_base", "ssdlite320_mobilenet_v3"],
}


def make_input(kind, shape, rng):
    if kind == "ids":
        return rng.integers(0, 30522 if shape[1] == 128 else 1000, size=shape, dtype=np.int64) % 1000
    if kind == "mask":
        m = np.ones(shape, dtype=np.int64)
        m[:, shape[1] * 3 // 4:] = 0  # padded tail
        return m
    return rng.standard_normal(shape, dtype=np.float32)


def calibrate_batchnorm(model, specs):
    """Gives BatchNorm layers the running statistics of random inputs (a few training-mode passes), so that random
    weights do not make activations explode through deep networks (which would test float cancellation, not celer)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns or any(kind != "float" for _, _, kind in specs):
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration passes
    model.train()
    gen = torch.Generator().manual_seed(42)
    with torch.no_grad():
        for _ in range(4):
            model(*[torch.randn((2,) + tuple(shape[1:]), generator=gen) for _, shape, _ in specs])


def randomize_zero_layers(model):
    """Some constructors start layers at zero (ViT's classifier head): give them random weights so the outputs
    depend on the whole network."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear) and not m.weight.any():
                torch.nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    torch.nn.init.normal_(m.bias, std=0.02)


def export(name, opset, out_dir):
    torch.manual_seed(0)
    model, specs = MODELS[name]()
    randomize_zero_layers(model)
    calibrate_batchnorm(model, specs)
    model.eval()
    rng = np.random.default_rng(1234)
    inputs = [make_input(kind, shape, rng) for _, shape, kind in specs]
    torch_inputs = tuple(torch.from_numpy(x) for x in inputs)
    # The expected outputs are computed in float64 (then rounded to float32): float32 torch is itself ~1e-4 off on
    # deep networks, which is the size of the tolerance.
    with torch.no_grad():
        outs = copy.deepcopy(model).double()(*(t.double() if t.is_floating_point() else t for t in torch_inputs))
    if isinstance(outs, torch.Tensor):
        outs = (outs,)
    outs = [o.float() if o.is_floating_point() else o for o in outs if isinstance(o, torch.Tensor)]
    case = os.path.join(out_dir, f"{name}_op{opset}")
    os.makedirs(case, exist_ok=True)
    in_names = [n for n, _, _ in specs]
    out_names = [f"output_{i}" for i in range(len(outs))]
    path = os.path.join(case, "model.onnx")
    # Exported with autograd enabled: under no_grad, torch 1.13's MultiheadAttention takes a fused fast path
    # (aten::_native_multi_head_attention) that has no ONNX export.
    torch.onnx.export(model, torch_inputs, path, opset_version=opset, input_names=in_names,
                      output_names=out_names, do_constant_folding=True)
    for i, x in enumerate(inputs):
        np.save(os.path.join(case, f"input_{i}.npy"), x)
    for i, o in enumerate(outs):
        np.save(os.path.join(case, f"output_{i}.npy"), o.numpy())
    with open(os.path.join(case, "meta.json"), "w") as f:
        json.dump({"model": name, "opset": opset, "inputs": in_names, "outputs": out_names}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--set", default="ci", choices=sorted(SETS))
    ap.add_argument("--models", default="")
    ap.add_argument("--opsets", default="13,17")
    args = ap.parse_args()
    names = args.models.split(",") if args.models else SETS[args.set]
    for n in names:
        if n not in MODELS:
            sys.exit(f"unknown model '{n}' (known: {', '.join(sorted(MODELS))})")
    os.makedirs(args.out_dir, exist_ok=True)
    for name in names:
        for opset in [int(o) for o in args.opsets.split(",")]:
            case = os.path.join(args.out_dir, f"{name}_op{opset}")
            if os.path.exists(os.path.join(case, "meta.json")):
                continue  # already generated (inputs are deterministic)
            t0 = time.time()
            export(name, opset, args.out_dir)
            print(f"exported {name} opset {opset} in {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
