#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU execution provider, all graph optimizations) and writes
// every output as OUT_DIR/<name>.npy, with '/', ':' and '\' in names replaced by '_' (as `celer run` does).
//
//   node tools/ort/ort_run.js MODEL [--input NAME=FILE.npy]... --output-dir DIR [--ort-prefix DIR] [--threads N]
//
// onnxruntime-node is loaded from --ort-prefix (default: <repo>/build/ext/ort, where scripts/compare-ort installs it
// from tools/ort/package.json). Every model input must be given. Exit status 1 with a message on any error.
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function fail(msg) {
  process.stderr.write(`ort_run: error: ${msg}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------------------------
// .npy (format versions 1, 2 and 3; little-endian or byte-order-free dtypes; C order)

// npy dtype code -> [ORT tensor type, typed-array constructor]
const NPY_TYPES = {
  f4: ['float32', Float32Array],
  f8: ['float64', Float64Array],
  f2: ['float16', Uint16Array],
  i1: ['int8', Int8Array],
  u1: ['uint8', Uint8Array],
  i2: ['int16', Int16Array],
  u2: ['uint16', Uint16Array],
  i4: ['int32', Int32Array],
  u4: ['uint32', Uint32Array],
  i8: ['int64', BigInt64Array],
  u8: ['uint64', BigUint64Array],
  b1: ['bool', Uint8Array],
};
const ORT_TO_NPY = {};
for (const [code, [ortType]] of Object.entries(NPY_TYPES)) ORT_TO_NPY[ortType] = code;

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);  // \x93NUMPY
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) fail(`'${file}': not a .npy file (bad magic)`);
  const major = buf[6];
  let headerLen;
  let offset;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(`'${file}': truncated header`);
    headerLen = buf.readUInt32LE(8);
    offset = 12;
  } else {
    fail(`'${file}': unsupported .npy format version ${major}`);
  }
  if (offset + headerLen > buf.length) fail(`'${file}': truncated header`);
  const header = buf.subarray(offset, offset + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) fail(`'${file}': cannot parse header ${JSON.stringify(header)}`);
  if (fortran[1] === 'True') fail(`'${file}': Fortran-order arrays are not supported`);
  let code = descr[1];
  if (code[0] === '>') fail(`'${file}': big-endian dtype '${code}' is not supported`);
  if ('<|='.includes(code[0])) code = code.slice(1);
  if (!(code in NPY_TYPES)) fail(`'${file}': unsupported dtype '${descr[1]}'`);
  const dims = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => Number(s));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) fail(`'${file}': bad shape (${shapeM[1]})`);
  const [ortType, Ctor] = NPY_TYPES[code];
  const count = dims.reduce((a, b) => a * b, 1);
  const dataStart = offset + headerLen;
  const nbytes = count * Ctor.BYTES_PER_ELEMENT;
  if (buf.length - dataStart !== nbytes) {
    fail(`'${file}': data holds ${buf.length - dataStart} bytes, shape [${dims}] of ${code} needs ${nbytes}`);
  }
  // Copy into a fresh, aligned buffer.
  const data = new Ctor(count);
  new Uint8Array(data.buffer).set(buf.subarray(dataStart, dataStart + nbytes));
  return { ortType, data, dims };
}

function writeNpy(file, ortType, data, dims) {
  const code = ORT_TO_NPY[ortType];
  if (!code) fail(`output type '${ortType}' cannot be written as .npy`);
  const order = code === 'u1' || code === 'i1' || code === 'b1' ? '|' : '<';
  const shape = dims.length === 0 ? '()' : dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${order}${code}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;  // magic + version + length + header + '\n'
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  let bytes;
  if (ortType === 'bool') {
    bytes = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]));
}

function outputFileName(name) {
  if (name.length === 0) fail('an output has an empty name');
  return name.replace(/[/:\\]/g, '_') + '.npy';
}

// ---------------------------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const args = { model: null, inputs: [], outputDir: null, ortPrefix: path.join(__dirname, '..', '..', 'build', 'ext', 'ort'),
                 threads: 0 };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`option ${a} needs a value`);
      return argv[++i];
    };
    if (a === '--input') {
      const v = value();
      const eq = v.lastIndexOf('=');
      if (eq <= 0) fail(`--input '${v}' must be NAME=FILE.npy`);
      args.inputs.push([v.slice(0, eq), v.slice(eq + 1)]);
    } else if (a === '--output-dir') {
      args.outputDir = value();
    } else if (a === '--ort-prefix') {
      args.ortPrefix = value();
    } else if (a === '--threads') {
      args.threads = Number(value());
    } else if (a.startsWith('--')) {
      fail(`unknown option ${a}`);
    } else if (args.model === null) {
      args.model = a;
    } else {
      fail(`unexpected argument '${a}'`);
    }
  }
  if (!args.model || !args.outputDir) {
    fail('usage: ort_run.js MODEL [--input NAME=FILE.npy]... --output-dir DIR [--ort-prefix DIR] [--threads N]');
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = createRequire(path.join(path.resolve(args.ortPrefix), 'package.json'))('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node from ${args.ortPrefix} (run scripts/compare-ort to install it): ${e.message}`);
  }
  const options = { graphOptimizationLevel: 'all', executionProviders: ['cpu'] };
  if (args.threads > 0) options.intraOpNumThreads = args.threads;
  let session;
  try {
    session = await ort.InferenceSession.create(args.model, options);
  } catch (e) {
    fail(`${args.model}: ORT cannot load the model: ${e.message}`);
  }
  const feeds = {};
  for (const [name, file] of args.inputs) {
    if (!session.inputNames.includes(name)) fail(`the model has no input '${name}' (inputs: ${session.inputNames})`);
    const { ortType, data, dims } = readNpy(file);
    feeds[name] = new ort.Tensor(ortType, data, dims);
  }
  for (const name of session.inputNames) {
    if (!(name in feeds)) fail(`input '${name}' is not given (use --input ${name}=FILE.npy)`);
  }
  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    fail(`${args.model}: ORT run failed: ${e.message}`);
  }
  fs.mkdirSync(args.outputDir, { recursive: true });
  for (const name of session.outputNames) {
    const t = results[name];
    const file = path.join(args.outputDir, outputFileName(name));
    writeNpy(file, t.type, t.data, t.dims);
    console.log(`${name}: ${t.type} [${t.dims.join(',')}] -> ${file}`);
  }
  await session.release();
}

main().catch((e) => fail(e.stack || String(e)));
