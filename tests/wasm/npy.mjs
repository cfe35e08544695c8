// Reads the little-endian float32/float64 .npy golden files (C order).
import { readFileSync } from 'node:fs';

export function readNpy(path) {
  const bytes = readFileSync(path);
  if (bytes.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not .npy`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', start, start + headerLength);
  const shape = (header.match(/'shape': \(([^)]*)\)/)[1].match(/\d+/g) || []).map(Number);
  const dtype = header.match(/'descr': '([^']+)'/)[1];
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  const body = start + headerLength;
  for (let i = 0; i < count; i++) {
    data[i] = dtype === '<f4' ? bytes.readFloatLE(body + 4 * i) : bytes.readDoubleLE(body + 8 * i);
  }
  return { shape, data };
}
