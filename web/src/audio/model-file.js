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
// message naming the problem (the core's loader checks everything else).
export function readTmbl(input) {
  const bytes = asBytes(input);
  if (bytes.length < 16 || String.fromCharCode(...bytes.subarray(0, 4)) !== MAGIC) {
    throw new Error('not a Timbrel model (.tmbl): it does not start with “TMBL”');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new Error(`unknown .tmbl version ${version} (this page reads version ${VERSION})`);
  const headerLength = view.getUint32(8, true);
  const dataStart = align16(12 + headerLength);
  if (dataStart + 4 > bytes.length) throw new Error('the model file is truncated');
  const stored = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) throw new Error('the model file is damaged (CRC mismatch)');
  let header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw new Error('the model file’s header is not JSON');
  }
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
