#!/usr/bin/python3
"""Trains two small classifiers on Fashion-MNIST with Debian's torch and exports them to ONNX, for accuracy
measurements on real data (BF16 and INT8 against FP32).

    tools/fmnist/train.py OUT_DIR [--epochs N] [--data DIR] [--threads T] [--models resnet,mobilenet]
                          [--train-subset N]

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, IDX files, MIT licence; 60,000 training and
10,000 test images of 28x28, 10 classes). Networks (about 40 and 25 MFLOP per image):
- fmnist_resnet: a ResNet-style CNN (3x3 stem, three stages of two basic residual blocks, 16/32/64 channels,
  global average pooling, linear classifier);
- fmnist_mobilenet: a MobileNetV2-style CNN (inverted residual blocks: 1x1 expand, 3x3 depthwise, 1x1 project,
  ReLU6, residuals where shapes allow).
Training: Adam, cosine learning rate, batch 128, random crops (pad 2) and flips; seeded, deterministic enough for a
test set accuracy of about 91-93% after a few epochs on 2 idle cores (minutes per epoch; the MobileNet-style network
is the slower one).
Writes OUT_DIR/<name>/model.onnx (input "image" f32[N,1,28,28], normalised as below; output "logits" [N,10]) and
meta.json (test accuracy in torch FP32, normalisation, input and output names) and input_0.npy (one test image,
so that the folder is a benchmark case for bench/throughput --case-dirs), plus OUT_DIR/test_images.npy
(f32 [10000,1,28,28], normalised) and OUT_DIR/test_labels.npy (i64 [10000]), and OUT_DIR/calib_images.npy (1000
training images, for calibration).
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530  # of the Fashion-MNIST training images


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data_dir):
    def imgs(name):
        x = read_idx(os.path.join(data_dir, name)).astype(np.float32) / 255.0
        return ((x - MEAN) / STD)[:, None, :, :]
    return (imgs("train-images-idx3-ubyte.gz"), read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")),
            imgs("t10k-images-idx3-ubyte.gz"), read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")))


class Basic(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Inverted(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        mid = cin * expand
        self.res = stride == 1 and cin == cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.ReLU6(),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.res else y


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        cfg = [(16, 1, 1), (24, 1, 4), (24, 1, 4), (48, 2, 4), (48, 1, 4), (48, 1, 4), (96, 1, 4), (96, 1, 4)]
        layers, cin = [], 16
        for cout, stride, expand in cfg:
            layers.append(Inverted(cin, cout, stride, expand))
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Conv2d(cin, 256, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU6())
        self.fc = nn.Linear(256, 10)

    def forward(self, x):
        x = self.head(self.layers(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def augment(x, gen):
    """Random crop with 2 pixels of padding and random horizontal flips, on a batch."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2))
    dx, dy = torch.randint(0, 5, (2,), generator=gen).tolist()
    x = padded[:, :, dy:dy + 28, dx:dx + 28]
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(torch.from_numpy(x[i:i + 1000])).argmax(1).numpy() == y[i:i + 1000]).sum()
    return correct / len(x)


def train(name, model, data, epochs, out_dir):
    xtr, ytr, xte, yte = data
    gen = torch.Generator().manual_seed(1234)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * math.ceil(len(xtr) / 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr.astype(np.int64))
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(augment(xt[idx], gen)), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, xte, yte)
        print(f"{name}: epoch {ep + 1}/{epochs} test accuracy {100 * acc:.2f}% ({time.time() - t0:.0f} s)",
              flush=True)
    model.eval()
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    torch.onnx.export(model, torch.from_numpy(xte[:1]), os.path.join(d, "model.onnx"), opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"name": name, "torch_fp32_top1": float(acc), "epochs": epochs, "normalisation":
                   {"mean": MEAN, "std": STD}, "input": "image f32[N,1,28,28]", "output": "logits [N,10]",
                   "inputs": ["image"], "outputs": ["logits"]}, f, indent=2)
    # One test image: the folder is then also a benchmark case (bench/throughput --case-dirs).
    np.save(os.path.join(d, "input_0.npy"), np.ascontiguousarray(xte[:1]))
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all allowed CPUs)")
    ap.add_argument("--models", default="resnet,mobilenet")
    ap.add_argument("--train-subset", type=int, default=0, help="train on the first N images only (quick checks)")
    a = ap.parse_args()
    if not os.path.isdir(a.data):
        sys.exit(f"train.py: error: {a.data} does not exist (Debian: apt-get install dataset-fashion-mnist)")
    torch.manual_seed(0)
    torch.set_num_threads(a.threads or len(os.sched_getaffinity(0)))
    data = load(a.data)
    if a.train_subset > 0:
        data = (data[0][:a.train_subset], data[1][:a.train_subset], data[2], data[3])
    os.makedirs(a.out, exist_ok=True)
    np.save(os.path.join(a.out, "test_images.npy"), data[2])
    np.save(os.path.join(a.out, "test_labels.npy"), data[3].astype(np.int64))
    rng = np.random.default_rng(5)
    np.save(os.path.join(a.out, "calib_images.npy"), data[0][rng.choice(len(data[0]), 1000, replace=False)])
    nets = {"resnet": ("fmnist_resnet", ResNet), "mobilenet": ("fmnist_mobilenet", MobileNet)}
    for key in a.models.split(","):
        if key not in nets:
            sys.exit(f"train.py: error: unknown model '{key}' (known: {', '.join(nets)})")
        name, cls = nets[key]
        if os.path.exists(os.path.join(a.out, name, "model.onnx")):
            print(f"{name}: already there, skipped")
            continue
        train(name, cls(), data, a.epochs, a.out)


if __name__ == "__main__":
    main()
