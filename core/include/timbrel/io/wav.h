// WAV files for the native tool and tests: PCM 16/24/32-bit and float 32-bit
// in, mixed down to mono float; float 32-bit or PCM 16-bit out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace timbrel::io {

struct Audio {
  std::vector<float> samples;  // mono, [-1, 1]
  int sample_rate = 0;
};

// Throws std::runtime_error naming the file and what is wrong with it.
Audio read_wav(const std::string& path);
Audio parse_wav(const std::vector<std::uint8_t>& bytes, const std::string& name = "buffer");

enum class WavFormat { kFloat32, kPcm16 };
void write_wav(const std::string& path, const Audio& audio, WavFormat format = WavFormat::kFloat32);

}  // namespace timbrel::io
