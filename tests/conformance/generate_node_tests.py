#!/usr/bin/python3
"""Writes ONNX's backend node tests (from Debian's python3-onnx) into OUT_DIR/node/<case>/.

Debian 12 ships numpy 1.24, which removed aliases (np.float, ...) that onnx 1.12's generators still use; they are
restored here before the generators are imported.
"""
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
for name, value in [("float", float), ("int", int), ("bool", bool), ("object", object), ("complex", complex),
                    ("str", str)]:
    if name not in np.__dict__:
        setattr(np, name, value)

from onnx.backend.test.cmd_tools import main  # noqa: E402

if len(sys.argv) != 2:
    sys.exit("usage: generate_node_tests.py OUT_DIR")
sys.argv = [sys.argv[0], "generate-data", "-o", sys.argv[1]]
main()
