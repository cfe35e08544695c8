#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "signals.h"
#include "timbrel/io/wav.h"

using namespace timbrel;

namespace {
std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("WAV round trip in float and 16-bit PCM", "[wav]") {
  const auto x = test::harmonic_tone(440.0, 22050, 0.1, 3);
  const std::string path = "timbrel_test_roundtrip.wav";
  io::write_wav(path, {x, 22050}, io::WavFormat::kFloat32);
  auto a = io::read_wav(path);
  CHECK(a.sample_rate == 22050);
  REQUIRE(a.samples.size() == x.size());
  for (size_t i = 0; i < x.size(); ++i) REQUIRE(a.samples[i] == x[i]);
  io::write_wav(path, {x, 48000}, io::WavFormat::kPcm16);
  a = io::read_wav(path);
  CHECK(a.sample_rate == 48000);
  for (size_t i = 0; i < x.size(); ++i) REQUIRE(a.samples[i] == Approx(x[i]).margin(1.0 / 32767));
  std::remove(path.c_str());
}

TEST_CASE("Malformed WAV data gets a clear error", "[wav]") {
  const std::string path = "timbrel_test_bad.wav";
  io::write_wav(path, {std::vector<float>(100, 0.1f), 22050});
  auto bytes = file_bytes(path);
  std::remove(path.c_str());
  CHECK_THROWS_WITH(io::parse_wav({'h', 'e', 'l', 'l', 'o'}), Catch::Contains("not a WAV file"));
  CHECK_THROWS_WITH(io::parse_wav({bytes.begin(), bytes.begin() + 30}), Catch::Contains("'fmt '"));
  auto no_data = std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 44);
  no_data[36] = 'x';  // rename the data chunk
  CHECK_THROWS_WITH(io::parse_wav(no_data), Catch::Contains("no 'data' chunk"));
  auto bad_format = bytes;
  bad_format[20] = 2;  // ADPCM
  CHECK_THROWS_WITH(io::parse_wav(bad_format), Catch::Contains("unsupported encoding"));
  CHECK_THROWS_WITH(io::read_wav("/nonexistent/file.wav"), Catch::Contains("cannot open"));
  // A truncated data chunk still yields the samples that are there.
  const auto cut = io::parse_wav({bytes.begin(), bytes.begin() + 44 + 40});
  CHECK(cut.samples.size() == 10);
}
