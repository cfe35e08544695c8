// The GMVAE test model for the Catch2 tests: tests/golden/gmvae/oracle.tmbl,
// written by scripts/timbrel/golden/gmvae.py. Its decoder is set by hand so
// that the components' means decode to harmonic tones (12 pitches, MIDI
// 60-71; instruments oboe, french_horn, piano: pitch_means[m] = e_m,
// timbre_means[k] = 2 e_k); its encoders are small and random (parity only).
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/models/gmvae.h"

namespace timbrel::test {

inline std::string gmvae_golden(const std::string& name) {
  return std::string(TIMBREL_GOLDEN_DIR) + "/gmvae/" + name;
}

inline std::vector<std::uint8_t> gmvae_oracle_bytes() {
  std::ifstream file(gmvae_golden("oracle.tmbl"), std::ios::binary);
  REQUIRE(file);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(file), {});
}

inline std::unique_ptr<models::Gmvae> load_gmvae(const std::vector<std::uint8_t>& bytes) {
  auto loaded = models::Gmvae::load(bytes.data(), bytes.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

inline std::unique_ptr<models::Gmvae> load_gmvae_oracle() {
  return load_gmvae(gmvae_oracle_bytes());
}

}  // namespace timbrel::test
