// The .tmbl model file (models/README.md, "The .tmbl model file, version 1"):
// read its JSON header, and write a copy with a descriptor table added to its
// metadata, so a table computed once (in the Draw panel's Worker) reaches the
// AudioWorklet without computing it again on the audio thread. No DOM: runs in
// the page, in workers and under node.
//
//   0: "TMBL" | 4: version 1 | 8: header length H | 12: H bytes of JSON
//   | zero padding to a multiple of 16 (the data start D) | tensor data
//   | CRC-32 (zlib's) of every byte before it

const MAGIC = 'TMBL';
const VERSION = 1;

// What a model file may ask for: the core's limits (core/include/timbrel/nn/model_limits.h,
// models/README.md "Limits"), so the page refuses from the header alone what the
// core would refuse, with the core's words.
export const MODEL_LIMITS = Object.freeze({
  maxFileBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 4 * 1024 * 1024,
  maxJsonDepth: 32,
  maxTensors: 4096,
  maxGraphs: 64,
  maxLayers: 1024,
  maxRank: 4,
  maxDimension: 65536,
  maxParameters: 16777216,
});

// The core's scan (nn::limits::json_depth_problem): '' or the problem.
function jsonDepthProblem(bytes) {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MODEL_LIMITS.maxJsonDepth) return `header JSON nests deeper than ${MODEL_LIMITS.maxJsonDepth} levels (at byte ${i})`;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) {
      depth--;
    }
  }
  return '';
}

// The header's counts, shapes and offsets against the limits and the data's size
// (the core's order and messages); throws the first problem.
function checkHeaderLimits(header, dataSize) {
  const L = MODEL_LIMITS;
  const tensors = Array.isArray(header.tensors) ? header.tensors : [];
  const graphs = header.graphs && typeof header.graphs === 'object' ? Object.entries(header.graphs) : [];
  if (tensors.length > L.maxTensors) throw new Error(`the file lists ${tensors.length} tensors, more than the limit of ${L.maxTensors}`);
  if (graphs.length > L.maxGraphs) throw new Error(`the file has ${graphs.length} graphs, more than the limit of ${L.maxGraphs}`);
  let layers = 0;
  for (const [name, ops] of graphs) {
    if (!Array.isArray(ops) || ops.length === 0) throw new Error(`graph '${name}' must be a non-empty list of ops`);
    layers += ops.length;
  }
  if (layers > L.maxLayers) throw new Error(`the graphs hold ${layers} ops in all, more than the limit of ${L.maxLayers}`);
  let total = 0;
  for (const entry of tensors) {
    const { name, shape, offset } = entry ?? {};
    if (typeof name !== 'string' || !Array.isArray(shape) || !Number.isInteger(offset) || offset < 0) {
      throw new Error('a tensor entry lacks name, shape or offset');
    }
    if (shape.length === 0 || shape.length > L.maxRank) throw new Error(`tensor '${name}' has ${shape.length} dimensions, expected 1-${L.maxRank}`);
    let count = 1;
    const seen = [];
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 1 || d > L.maxDimension) throw new Error(`tensor '${name}' has an invalid shape: each dimension must be 1-${L.maxDimension}`);
      seen.push(d);
      count *= d;
      if (count > L.maxParameters) throw new Error(`tensor '${name}' has shape [${seen.join(', ')}]...: more values than the limit of ${L.maxParameters}`);
    }
    if (Number.isSafeInteger(offset) && offset % 16 !== 0) throw new Error(`tensor '${name}' is not 16-byte aligned`);
    // "f32" (the default) or "f16" (half the bytes; the core widens it to float32)
    const dtype = entry.dtype ?? 'f32';
    if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`tensor '${name}' has dtype ${JSON.stringify(dtype)}; this engine reads "f32" and "f16"`);
    const bytes = count * (dtype === 'f16' ? 2 : 4);
    if (!Number.isSafeInteger(offset) || offset > dataSize || bytes > dataSize - offset) {
      throw new Error(`truncated: tensor '${name}' (${bytes} bytes) lies outside the file's ${dataSize} bytes of tensor data`);
    }
    total += count;
    if (total > L.maxParameters) throw new Error(`the tensors hold more than ${L.maxParameters} values in all (limit)`);
  }
}

let crcTable = null;

// CRC-32 (IEEE 802.3, as zlib's crc32) of bytes.
export function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const align16 = (n) => Math.ceil(n / 16) * 16;

function asBytes(bytes) {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new Error('expected the bytes of a .tmbl file');
}

// {version, header (parsed JSON), dataStart, dataEnd} of a .tmbl file; throws a
// message naming the problem. Holds the core's limits on what the header
// states (MODEL_LIMITS); the core checks everything else (ops, weights).
export function readTmbl(input) {
  const bytes = asBytes(input);
  if (bytes.length > MODEL_LIMITS.maxFileBytes) {
    throw new Error(`the file has ${bytes.length} bytes, more than the limit of ${MODEL_LIMITS.maxFileBytes}`);
  }
  if (bytes.length < 16 || String.fromCharCode(...bytes.subarray(0, 4)) !== MAGIC) {
    throw new Error('not a Timbrel model (.tmbl): it does not start with “TMBL”');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new Error(`unknown .tmbl version ${version} (this page reads version ${VERSION})`);
  const headerLength = view.getUint32(8, true);
  const dataStart = align16(12 + headerLength);
  if (12 + headerLength + 4 > bytes.length || dataStart + 4 > bytes.length) throw new Error('the model file is truncated');
  if (headerLength > MODEL_LIMITS.maxHeaderBytes) {
    throw new Error(`header of ${headerLength} bytes exceeds the limit of ${MODEL_LIMITS.maxHeaderBytes}`);
  }
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) throw new Error('the model file is damaged (CRC mismatch)');
  const text = bytes.subarray(12, 12 + headerLength);
  const depth = jsonDepthProblem(text);
  if (depth) throw new Error(depth);
  let header;
  try {
    header = JSON.parse(new TextDecoder().decode(text));
  } catch {
    throw new Error('the model file’s header is not JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new Error('the model file’s header is not a JSON object');
  checkHeaderLimits(header, bytes.length - 4 - dataStart);
  return { version, header, dataStart, dataEnd: bytes.length - 4 };
}

// A copy of the file (ArrayBuffer) with header.metadata.descriptor_table set to
// `table` (an object, or the JSON text DrawKernel.tableJson() returns). Tensor
// offsets are relative to the data start, so the data is copied as it is.
export function withDescriptorTable(input, table) {
  const bytes = asBytes(input);
  const { header, dataStart, dataEnd } = readTmbl(bytes);
  const value = typeof table === 'string' ? JSON.parse(table) : table;
  if (!value || typeof value !== 'object') throw new Error('the descriptor table is not a JSON object');
  header.metadata = { ...(header.metadata ?? {}), descriptor_table: value };
  const text = new TextEncoder().encode(JSON.stringify(header));
  const start = align16(12 + text.length);
  const data = bytes.subarray(dataStart, dataEnd);
  const out = new Uint8Array(start + data.length + 4);
  out.set([0x54, 0x4d, 0x42, 0x4c], 0); // TMBL
  const view = new DataView(out.buffer);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, text.length, true);
  out.set(text, 12);
  out.set(data, start);
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out.buffer;
}
