// Reads the .npy golden files written by scripts/timbrel/golden/dsp.py
// (little-endian float32 '<f4', float64 '<f8' or int32 '<i4', C order).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace timbrel::test {

struct NpyArray {
  std::vector<size_t> shape;
  std::vector<double> values;  // converted to double
  size_t rows() const { return shape.empty() ? 0 : shape[0]; }
  size_t columns() const {
    size_t n = 1;
    for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
    return n;
  }
  double at(size_t row, size_t column) const { return values[row * columns() + column]; }
};

inline NpyArray read_npy(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  char magic[8];
  file.read(magic, 8);
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not .npy");
  std::uint32_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    file.read(reinterpret_cast<char*>(b), 2);
    header_len = std::uint32_t(b[0] | b[1] << 8);
  } else {
    unsigned char b[4];
    file.read(reinterpret_cast<char*>(b), 4);
    header_len = std::uint32_t(b[0] | b[1] << 8 | b[2] << 16 | std::uint32_t(b[3]) << 24);
  }
  std::string header(header_len, ' ');
  file.read(header.data(), header_len);
  const bool is_f4 = header.find("'<f4'") != std::string::npos;
  const bool is_f8 = header.find("'<f8'") != std::string::npos;
  const bool is_i4 = header.find("'<i4'") != std::string::npos;
  if (!is_f4 && !is_f8 && !is_i4) throw std::runtime_error(path + ": only <f4/<f8/<i4 supported");
  if (header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": Fortran order not supported");
  NpyArray array;
  const auto open = header.find('(', header.find("'shape'"));
  const auto close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  size_t total = 1;
  for (size_t pos = 0; pos < dims.size();) {
    const auto comma = dims.find(',', pos);
    const auto token =
        dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (token.find_first_of("0123456789") != std::string::npos) {
      array.shape.push_back(std::stoul(token));
      total *= array.shape.back();
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  array.values.resize(total);
  for (size_t i = 0; i < total; ++i) {
    if (is_f4) {
      float v;
      file.read(reinterpret_cast<char*>(&v), 4);
      array.values[i] = v;
    } else if (is_i4) {
      std::int32_t v;
      file.read(reinterpret_cast<char*>(&v), 4);
      array.values[i] = v;
    } else {
      file.read(reinterpret_cast<char*>(&array.values[i]), 8);
    }
  }
  if (!file) throw std::runtime_error(path + ": truncated");
  return array;
}

inline std::vector<float> read_npy_signal(const std::string& path) {
  const auto a = read_npy(path);
  return std::vector<float>(a.values.begin(), a.values.end());
}

inline std::string golden(const std::string& name) {
  return std::string(TIMBREL_GOLDEN_DIR) + "/dsp/" + name;
}

}  // namespace timbrel::test
