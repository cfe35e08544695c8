#include "timbrel/io/wav.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace timbrel::io {
namespace {

std::uint32_t u32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}
std::uint16_t u16(const std::uint8_t* p) { return std::uint16_t(p[0] | p[1] << 8); }

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw std::runtime_error(name + ": " + what);
}

}  // namespace

Audio parse_wav(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4) != 0)
    fail(name, "not a WAV file (no RIFF/WAVE header)");
  int format = 0, channels = 0, bits = 0, rate = 0;
  const std::uint8_t* data = nullptr;
  size_t data_size = 0;
  size_t pos = 12;
  while (pos + 8 <= bytes.size()) {
    const std::uint8_t* chunk = bytes.data() + pos;
    const size_t size = u32(chunk + 4);
    const size_t available = bytes.size() - pos - 8;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (size < 16 || size > available) fail(name, "truncated 'fmt ' chunk");
      format = u16(chunk + 8);
      channels = u16(chunk + 10);
      rate = int(u32(chunk + 12));
      bits = u16(chunk + 22);
      if (format == 0xFFFE && size >= 40) format = u16(chunk + 32);  // extensible: sub-format
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      data = chunk + 8;
      data_size = std::min(size, available);  // tolerate a data size left at 0 or too large
      if (size == 0) data_size = available;
      break;
    }
    pos += 8 + size + (size & 1);
  }
  if (format == 0) fail(name, "no 'fmt ' chunk before the audio data");
  if (!data) fail(name, "no 'data' chunk");
  if (channels < 1) fail(name, "zero channels");
  if (rate < 1000 || rate > 768000)
    fail(name, "sample rate " + std::to_string(rate) + " Hz is not plausible");
  const bool pcm = format == 1 && (bits == 16 || bits == 24 || bits == 32);
  const bool ieee = format == 3 && bits == 32;
  if (!pcm && !ieee)
    fail(name, "unsupported encoding (format " + std::to_string(format) + ", " +
                   std::to_string(bits) + " bits); use PCM 16/24/32-bit or float 32-bit");
  const size_t frame_bytes = size_t(channels) * size_t(bits / 8);
  const size_t frames = data_size / frame_bytes;
  Audio audio;
  audio.sample_rate = rate;
  audio.samples.resize(frames);
  for (size_t f = 0; f < frames; ++f) {
    double sum = 0.0;
    for (int c = 0; c < channels; ++c) {
      const std::uint8_t* p = data + f * frame_bytes + size_t(c) * size_t(bits / 8);
      double v;
      if (ieee) {
        float x;
        std::memcpy(&x, p, 4);
        v = x;
      } else if (bits == 16) {
        v = std::int16_t(u16(p)) / 32768.0;
      } else if (bits == 24) {
        std::int32_t x = std::int32_t(std::uint32_t(p[0]) << 8 | std::uint32_t(p[1]) << 16 |
                                      std::uint32_t(p[2]) << 24) >>
                         8;
        v = x / 8388608.0;
      } else {
        v = std::int32_t(u32(p)) / 2147483648.0;
      }
      sum += v;
    }
    const double mono = sum / channels;
    audio.samples[f] = std::isfinite(mono) ? float(mono) : 0.0f;
  }
  return audio;
}

Audio read_wav(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, "cannot open file");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                                  std::istreambuf_iterator<char>());
  return parse_wav(bytes, path);
}

void write_wav(const std::string& path, const Audio& audio, WavFormat format) {
  const bool pcm16 = format == WavFormat::kPcm16;
  const std::uint32_t bytes_per_sample = pcm16 ? 2 : 4;
  const std::uint32_t data_size = std::uint32_t(audio.samples.size()) * bytes_per_sample;
  std::vector<std::uint8_t> out;
  auto put32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(std::uint8_t(v >> (8 * i)));
  };
  auto put16 = [&](std::uint16_t v) {
    out.push_back(std::uint8_t(v));
    out.push_back(std::uint8_t(v >> 8));
  };
  auto tag = [&](const char* t) { out.insert(out.end(), t, t + 4); };
  tag("RIFF");
  put32(36 + data_size);
  tag("WAVE");
  tag("fmt ");
  put32(16);
  put16(pcm16 ? 1 : 3);
  put16(1);
  put32(std::uint32_t(audio.sample_rate));
  put32(std::uint32_t(audio.sample_rate) * bytes_per_sample);
  put16(std::uint16_t(bytes_per_sample));
  put16(std::uint16_t(bytes_per_sample * 8));
  tag("data");
  put32(data_size);
  for (float s : audio.samples) {
    if (pcm16) {
      const float clipped = std::clamp(std::isfinite(s) ? s : 0.0f, -1.0f, 1.0f);
      put16(std::uint16_t(std::int16_t(std::lround(clipped * 32767.0f))));
    } else {
      std::uint32_t bits;
      std::memcpy(&bits, &s, 4);
      put32(bits);
    }
  }
  std::ofstream file(path, std::ios::binary);
  if (!file) fail(path, "cannot create file");
  file.write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
  if (!file) fail(path, "write failed");
}

}  // namespace timbrel::io
