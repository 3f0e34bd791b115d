#!/usr/bin/env node
// Times one ONNX model with ONNX Runtime (onnxruntime-node, CPU execution provider) for bench/run and prints one JSON
// object on stdout: session creation time, every measured latency, throughput and peak RSS.
//
//   node bench/ort_bench.js MODEL --ort-prefix DIR [--threads N] [--niter K | --time S] [--warmup W]
//                           [--start-at EPOCH_MS] [--input NAME=FILE.npy]...
//
// --start-at: after warm-up, wait until that wall-clock time (ms since the epoch) before measuring, so that several
// processes started together measure the same interval (bench/throughput runs two 1-thread sessions side by side).
//
// Session options: graphOptimizationLevel 'all', intraOpNumThreads N, interOpNumThreads 1, executionMode 'sequential'.
// Every model input must be given. The first run after session creation and W more warm-up runs are not measured;
// each measured `session.run` is timed on its own with process.hrtime.bigint().
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function die(msg) {
  process.stderr.write(`ort_bench: error: ${msg}\n`);
  process.exit(1);
}

// Minimal .npy reader: format versions 1-3, little-endian or byte-order-free dtypes, C order.
const DTYPES = {
  f4: ['float32', Float32Array], f8: ['float64', Float64Array], f2: ['float16', Uint16Array],
  i1: ['int8', Int8Array], u1: ['uint8', Uint8Array], i2: ['int16', Int16Array], u2: ['uint16', Uint16Array],
  i4: ['int32', Int32Array], u4: ['uint32', Uint32Array], i8: ['int64', BigInt64Array],
  u8: ['uint64', BigUint64Array], b1: ['bool', Uint8Array],
};

function loadNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.readUInt32BE(0) !== 0x934e554d || buf.readUInt16BE(4) !== 0x5059) {
    die(`'${file}' is not a .npy file`);
  }
  const version = buf[6];
  if (version < 1 || version > 3) die(`'${file}': .npy format version ${version} is not supported`);
  const start = version === 1 ? 10 : 12;
  if (buf.length < start) die(`'${file}': truncated header`);
  const hlen = version === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  if (start + hlen > buf.length) die(`'${file}': truncated header`);
  const header = buf.toString(version === 3 ? 'utf8' : 'latin1', start, start + hlen);
  const descr = header.match(/'descr'\s*:\s*'([<|=>]?)(\w+)'/);
  const order = header.match(/'fortran_order'\s*:\s*(\w+)/);
  const shape = header.match(/'shape'\s*:\s*\(([^)]*)\)/);
  if (!descr || !order || !shape) die(`'${file}': cannot parse the header ${JSON.stringify(header)}`);
  if (descr[1] === '>') die(`'${file}': big-endian data is not supported`);
  if (order[1] !== 'False') die(`'${file}': Fortran-order data is not supported`);
  if (!(descr[2] in DTYPES)) die(`'${file}': dtype '${descr[2]}' is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) die(`'${file}': bad shape (${shape[1]})`);
  const [type, Ctor] = DTYPES[descr[2]];
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + hlen;
  if (buf.length - offset !== count * Ctor.BYTES_PER_ELEMENT) {
    die(`'${file}': ${buf.length - offset} data bytes do not match shape [${dims}] of ${descr[2]}`);
  }
  const data = new Ctor(count);  // a fresh, aligned copy
  new Uint8Array(data.buffer).set(buf.subarray(offset));
  return { type, data, dims };
}

function parseArgs(argv) {
  const a = { model: null, ortPrefix: null, threads: 1, niter: 0, time: 0, warmup: 2, startAt: 0, inputs: [] };
  for (let i = 0; i < argv.length; ++i) {
    const opt = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : die(`option ${opt} needs a value`));
    const num = (min) => {
      const v = Number(next());
      if (!Number.isFinite(v) || v < min) die(`option ${opt} needs a number >= ${min}`);
      return v;
    };
    if (opt === '--ort-prefix') a.ortPrefix = next();
    else if (opt === '--threads') a.threads = Math.floor(num(1));
    else if (opt === '--niter') a.niter = Math.floor(num(1));
    else if (opt === '--time') a.time = num(0.001);
    else if (opt === '--warmup') a.warmup = Math.floor(num(0));
    else if (opt === '--start-at') a.startAt = num(0);
    else if (opt === '--input') {
      const v = next();
      const eq = v.indexOf('=');
      if (eq <= 0) die(`--input '${v}' must be NAME=FILE.npy`);
      a.inputs.push([v.slice(0, eq), v.slice(eq + 1)]);
    } else if (opt.startsWith('-')) die(`unknown option ${opt}`);
    else if (a.model === null) a.model = opt;
    else die(`unexpected argument '${opt}'`);
  }
  if (!a.model || !a.ortPrefix) die('usage: ort_bench.js MODEL --ort-prefix DIR [--threads N] [--niter K | --time S]');
  if (a.niter === 0 && a.time === 0) a.time = 3;
  return a;
}

const ms = (t0, t1) => Number(t1 - t0) / 1e6;

function quantile(sorted, q) {  // linear interpolation, as `celer bench` does
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const baselineRssMb = process.resourceUsage().maxRSS / 1024;  // node itself, before ORT is loaded
  let ort;
  try {
    ort = createRequire(path.join(path.resolve(args.ortPrefix), 'package.json'))('onnxruntime-node');
  } catch (e) {
    die(`cannot load onnxruntime-node from ${args.ortPrefix}: ${e.message}`);
  }
  const options = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  const t0 = process.hrtime.bigint();
  let session;
  try {
    session = await ort.InferenceSession.create(args.model, options);
  } catch (e) {
    die(`ORT cannot load '${args.model}': ${e.message}`);
  }
  const sessionMs = ms(t0, process.hrtime.bigint());

  const feeds = {};
  for (const [name, file] of args.inputs) {
    if (!session.inputNames.includes(name)) die(`the model has no input '${name}' (inputs: ${session.inputNames})`);
    const { type, data, dims } = loadNpy(file);
    feeds[name] = new ort.Tensor(type, data, dims);
  }
  for (const name of session.inputNames) if (!(name in feeds)) die(`input '${name}' is not given`);

  const run = async () => {
    try {
      return await session.run(feeds);
    } catch (e) {
      return die(`ORT run of '${args.model}' failed: ${e.message}`);
    }
  };
  let t = process.hrtime.bigint();
  await run();
  const firstMs = ms(t, process.hrtime.bigint());
  for (let i = 0; i < args.warmup; ++i) await run();
  const lateMs = args.startAt > 0 ? Date.now() - args.startAt : 0;
  if (lateMs < 0) await new Promise((resolve) => setTimeout(resolve, -lateMs));

  const samples = [];
  const start = process.hrtime.bigint();
  const budgetNs = BigInt(Math.round(args.time * 1e9));
  for (;;) {
    if (args.niter > 0 ? samples.length >= args.niter
                       : samples.length > 0 && process.hrtime.bigint() - start >= budgetNs) break;
    t = process.hrtime.bigint();
    await run();
    samples.push(ms(t, process.hrtime.bigint()));
  }
  const totalMs = ms(start, process.hrtime.bigint());
  const sorted = [...samples].sort((x, y) => x - y);
  const result = {
    model: args.model,
    ort_version: require(createRequire(path.join(path.resolve(args.ortPrefix), 'package.json'))
                           .resolve('onnxruntime-node/package.json')).version,
    threads: args.threads,
    session_ms: sessionMs,
    first_inference_ms: firstMs,
    warmup: args.warmup,
    late_ms: Math.max(0, lateMs),
    iterations: samples.length,
    latency_ms: { median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), min: sorted[0],
                  max: sorted[sorted.length - 1] },
    throughput_fps: samples.length * 1000 / totalMs,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    baseline_rss_mb: baselineRssMb,
    samples_ms: samples,
  };
  await session.release();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => die(e.stack || String(e)));
