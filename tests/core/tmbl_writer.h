// Writes small .tmbl files in tests, so that every loader error can be
// produced from a known-good file (the exporter's files are tested in Python).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "timbrel/nn/model_file.h"

namespace timbrel::test {

struct TestTensor {
  std::vector<int> shape;
  std::vector<float> data;
  bool half = false;  // stored as dtype "f16" (values should be exact halves)
};

// float -> IEEE binary16 bits, rounding to nearest (ties away); beyond the
// range: infinity; NaN stays NaN. Enough for test files.
inline std::uint16_t float_to_half(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const std::uint16_t sign = std::uint16_t((bits >> 16) & 0x8000u);
  const float a = std::fabs(f);
  if (std::isnan(f)) return std::uint16_t(sign | 0x7e00u);
  if (a >= 65520.0f) return std::uint16_t(sign | 0x7c00u);
  if (a < 6.103515625e-05f)  // subnormal: units of 2^-24
    return std::uint16_t(sign | std::uint16_t(std::lround(double(a) * 16777216.0)));
  int e = 0;
  const double m = std::frexp(double(a), &e);  // a = m 2^e, m in [0.5, 1)
  long q = std::lround((m * 2.0 - 1.0) * 1024.0);
  if (q == 1024) {
    q = 0;
    ++e;
  }
  return std::uint16_t(sign | std::uint16_t((e - 1 + 15) << 10) | std::uint16_t(q));
}

inline std::vector<std::uint8_t> write_tmbl(nlohmann::json header,
                                            const std::map<std::string, TestTensor>& tensors,
                                            std::uint32_t version = 1) {
  std::vector<std::uint8_t> data;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& [name, t] : tensors) {
    while (data.size() % 16) data.push_back(0);
    entries.push_back({{"name", name}, {"shape", t.shape}, {"offset", data.size()}});
    if (t.half) {
      entries.back()["dtype"] = "f16";
      for (float v : t.data) {
        const std::uint16_t h = float_to_half(v);
        data.push_back(std::uint8_t(h & 0xff));
        data.push_back(std::uint8_t(h >> 8));
      }
      continue;
    }
    const auto* p = reinterpret_cast<const std::uint8_t*>(t.data.data());
    data.insert(data.end(), p, p + t.data.size() * 4);
  }
  if (!header.contains("tensors")) header["tensors"] = entries;
  const std::string text = header.dump();
  std::vector<std::uint8_t> out = {'T', 'M', 'B', 'L'};
  auto put32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(std::uint8_t(v >> (8 * i)));
  };
  put32(version);
  put32(std::uint32_t(text.size()));
  out.insert(out.end(), text.begin(), text.end());
  while (out.size() % 16) out.push_back(0);
  out.insert(out.end(), data.begin(), data.end());
  put32(nn::crc32(out.data(), out.size()));
  return out;
}

// Recomputes the CRC after an edit.
inline void reseal(std::vector<std::uint8_t>& file) {
  const std::uint32_t crc = nn::crc32(file.data(), file.size() - 4);
  for (int i = 0; i < 4; ++i) file[file.size() - 4 + size_t(i)] = std::uint8_t(crc >> (8 * i));
}

}  // namespace timbrel::test
