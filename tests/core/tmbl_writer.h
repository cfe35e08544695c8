// Writes small .tmbl files in tests, so that every loader error can be
// produced from a known-good file (the exporter's files are tested in Python).
#pragma once

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
};

inline std::vector<std::uint8_t> write_tmbl(nlohmann::json header,
                                            const std::map<std::string, TestTensor>& tensors,
                                            std::uint32_t version = 1) {
  std::vector<std::uint8_t> data;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& [name, t] : tensors) {
    while (data.size() % 16) data.push_back(0);
    entries.push_back({{"name", name}, {"shape", t.shape}, {"offset", data.size()}});
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
