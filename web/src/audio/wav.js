// WAV (RIFF) files: encode channels of float samples as 16-bit PCM or 32-bit float,
// and decode the same (for tests and for checking what we wrote). No DOM: runs
// in the page, in workers and under node.

export const FORMAT = Object.freeze({ PCM16: 'pcm16', FLOAT32: 'float32' });

// channels: Float32Array[] of equal length (1 = mono, 2 = stereo, ...).
// pcm16 clips to [-1, 1] and rounds (no dither); float32 stores the samples as they are
// (non-finite values become 0 in both). Returns an ArrayBuffer.
export function encodeWav(channels, sampleRate, format = FORMAT.PCM16) {
  if (!channels.length) throw new Error('no channels to write');
  const frames = channels[0].length;
  if (channels.some((c) => c.length !== frames)) throw new Error('channels differ in length');
  if (!(sampleRate > 0) || !Number.isInteger(sampleRate)) throw new Error(`bad sample rate ${sampleRate}`);
  const float = format === FORMAT.FLOAT32;
  if (!float && format !== FORMAT.PCM16) throw new Error(`unknown WAV format ${format}`);
  const bytesPerSample = float ? 4 : 2;
  const count = channels.length;
  const blockAlign = count * bytesPerSample;
  const dataBytes = frames * blockAlign;
  // Float WAV wants a "fact" chunk (WAVE_FORMAT_IEEE_FLOAT); PCM does not.
  const factBytes = float ? 12 : 0;
  const headerBytes = 12 + 24 + factBytes + 8;
  if (headerBytes + dataBytes > 0xffffffff) throw new Error('recording too long for a WAV file');
  const buffer = new ArrayBuffer(headerBytes + dataBytes + (dataBytes & 1));
  const view = new DataView(buffer);
  const ascii = (offset, text) => {
    for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i));
  };
  ascii(0, 'RIFF');
  view.setUint32(4, buffer.byteLength - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, float ? 3 : 1, true); // 3 = IEEE float, 1 = PCM
  view.setUint16(22, count, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bytesPerSample * 8, true);
  let offset = 36;
  if (float) {
    ascii(offset, 'fact');
    view.setUint32(offset + 4, 4, true);
    view.setUint32(offset + 8, frames, true);
    offset += 12;
  }
  ascii(offset, 'data');
  view.setUint32(offset + 4, dataBytes, true);
  offset += 8;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < count; c++) {
      let v = channels[c][i];
      if (!Number.isFinite(v)) v = 0;
      if (float) {
        view.setFloat32(offset, v, true);
        offset += 4;
      } else {
        v = v < -1 ? -1 : v > 1 ? 1 : v;
        view.setInt16(offset, Math.round(v < 0 ? v * 32768 : v * 32767), true);
        offset += 2;
      }
    }
  }
  return buffer;
}

// Parses a PCM 8/16/24/32-bit or float 32/64-bit WAV. Returns {sampleRate, channels: Float32Array[]}.
export function decodeWav(bytes) {
  const buffer = bytes instanceof ArrayBuffer ? bytes : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const view = new DataView(buffer);
  const text = (offset, n) => String.fromCharCode(...new Uint8Array(buffer, offset, n));
  if (buffer.byteLength < 12 || text(0, 4) !== 'RIFF' || text(8, 4) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let fmt = null;
  let offset = 12;
  while (offset + 8 <= buffer.byteLength) {
    const id = text(offset, 4);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buffer.byteLength) throw new Error('WAV format chunk too short');
      let tag = view.getUint16(body, true);
      if (tag === 0xfffe && size >= 40) tag = view.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE
      fmt = {
        tag,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV data before its format chunk');
      const { tag, channels: count, bits } = fmt;
      // Checked before the loop: 0 channels or 0 bits made it run forever.
      if (!(count >= 1 && count <= 64)) throw new Error(`WAV file with ${count} channels (1-64 can be read)`);
      if (!((tag === 1 && [8, 16, 24, 32].includes(bits)) || (tag === 3 && [32, 64].includes(bits)))) {
        throw new Error(`unsupported WAV encoding (format ${tag}, ${bits} bits)`);
      }
      if (!(fmt.sampleRate >= 1000 && fmt.sampleRate <= 768000)) throw new Error(`WAV sample rate ${fmt.sampleRate} Hz (1000-768000 can be read)`);
      const bytesPer = bits / 8;
      const frames = Math.floor(Math.min(size, buffer.byteLength - body) / (bytesPer * count));
      const channels = Array.from({ length: count }, () => new Float32Array(frames));
      let p = body;
      for (let i = 0; i < frames; i++) {
        for (let c = 0; c < count; c++) {
          let v;
          if (tag === 3 && bits === 32) v = view.getFloat32(p, true);
          else if (tag === 3 && bits === 64) v = view.getFloat64(p, true);
          else if (tag === 1 && bits === 16) {
            const x = view.getInt16(p, true);
            v = x < 0 ? x / 32768 : x / 32767; // the inverse of encodeWav's scaling
          }
          else if (tag === 1 && bits === 8) v = (view.getUint8(p) - 128) / 128;
          else if (tag === 1 && bits === 24) {
            const x = view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getInt8(p + 2) << 16);
            v = x / 8388608;
          } else if (tag === 1 && bits === 32) v = view.getInt32(p, true) / 2147483648;
          else throw new Error(`unsupported WAV encoding (format ${tag}, ${bits} bits)`);
          channels[c][i] = v;
          p += bytesPer;
        }
      }
      return { sampleRate: fmt.sampleRate, channels };
    }
    offset = body + size + (size & 1);
  }
  throw new Error('no data chunk in the WAV file');
}

// Float32 samples as base64 text (the page's test and debug exports).
export function float32Base64(samples) {
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
