// Cross-modal VAE models for the Catch2 tests:
// - the golden folder written by the PyTorch side (tests/golden/crossmodal/:
//   solo/ and mixture/, random weights, for parity and plumbing);
// - an "oracle" model built here whose networks are set by hand so that a
//   label decodes to the constant-Q features of a harmonic tone at that
//   label's pitch: the checks that need a model that knows pitch (f0 of a
//   rendered note, interpolation, the XY pad) run without a trained model.
//
// The oracle (M = 1, pitch range 48-84, dynamics velocities 40/80/120):
//   symbol_encoder  mean = the one-hot itself (dims 0-23; 24-31 zero),
//                   log-variance kOracleLogvar everywhere
//   signal_decoder  hidden unit (p, o, d) = relu(z_p + z_(12+o) + z_(21+d) - 2),
//                   1 exactly at that label's one-hot; output = sum of the
//                   units' templates: features of a tone at midi (o+1) 12 + p
//                   with harmonics k (k f0 < 6 kHz, at most 20) of amplitude
//                   A_d / k, A = {0.05, 0.15, 0.4}
//   symbol_decoder  logits = 10 z (dims 0-23)
//   signal_encoder  zero weights (its outputs are unused by these tests)
//   latent_projection  mean = one-hot(C4 mf), axes = one-hot(G4 mf) - mean and
//                      one-hot(C4 ff) - mean, extent [0, 1] x [0, 1]: x = 1 is
//                      G4, y = 1 is ff.
// A feature template is the 409-bin pooling (scripts/timbrel/cqt.py) of the
// Hann main lobe of each harmonic (|W(d)| = |sinc d / (1 - d^2)|, |d| < 2 FFT
// bins): what the front end measures on that tone, to a few percent.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "timbrel/models/crossmodal_vae.h"
#include "tmbl_writer.h"

namespace timbrel::test {

inline std::filesystem::path crossmodal_golden_dir() {
  if (const char* env = std::getenv("TIMBREL_CROSSMODAL_GOLDEN_DIR"); env && *env) return env;
  return std::filesystem::path(TIMBREL_GOLDEN_DIR) / "crossmodal";
}

// The golden model of `which` ("solo" or "mixture"); REQUIREs that it loads.
inline std::unique_ptr<models::CrossmodalVae> load_crossmodal_golden(const std::string& which) {
  const auto path = crossmodal_golden_dir() / which / "model.tmbl";
  auto loaded = models::CrossmodalVae::load_file(path.string());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

// The header JSON of a .tmbl file and the file rebuilt around an edited header
// (tensor data unchanged), for the validation tests.
inline nlohmann::json tmbl_header(const std::vector<std::uint8_t>& file) {
  const std::uint32_t length = std::uint32_t(file[8]) | std::uint32_t(file[9]) << 8 |
                               std::uint32_t(file[10]) << 16 | std::uint32_t(file[11]) << 24;
  return nlohmann::json::parse(file.begin() + 12, file.begin() + 12 + length);
}

inline std::vector<std::uint8_t> with_header(const std::vector<std::uint8_t>& file,
                                             const nlohmann::json& header) {
  const std::uint32_t length = std::uint32_t(file[8]) | std::uint32_t(file[9]) << 8 |
                               std::uint32_t(file[10]) << 16 | std::uint32_t(file[11]) << 24;
  const size_t data_start = (12 + size_t(length) + 15) / 16 * 16;
  const std::string text = header.dump();
  std::vector<std::uint8_t> out(file.begin(), file.begin() + 8);
  for (int i = 0; i < 4; ++i) out.push_back(std::uint8_t(text.size() >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  while (out.size() % 16) out.push_back(0);
  out.insert(out.end(), file.begin() + long(data_start), file.end());
  reseal(out);
  return out;
}

constexpr float kOracleLogvar = -6.0f;  // sigma 0.05
constexpr int kOracleLowest = 48, kOracleHighest = 84;
constexpr double kOracleAmplitude[3] = {0.05, 0.15, 0.4};

// Constant-Q features (log1p(cqt / 1e-4)) of a harmonic tone at `midi`, as
// described above.
inline std::vector<float> oracle_features(int midi, double amplitude) {
  constexpr int kBins = 409, kFftBins = 1025;
  constexpr double kRate = 22050.0, kBinHz = kRate / 2048.0, kPi = 3.14159265358979323846;
  const double f0 = 440.0 * std::pow(2.0, (midi - 69) / 12.0);
  std::vector<double> stft(kFftBins, 0.0);
  for (int k = 1; k <= 20 && k * f0 < 6000.0; ++k) {
    const double centre = k * f0 / kBinHz;
    for (int j = int(std::floor(centre)) - 1; j <= int(std::ceil(centre)) + 1; ++j) {
      const double d = double(j) - centre;
      if (j < 0 || j >= kFftBins || std::fabs(d) >= 2.0) continue;
      const double lobe = std::fabs(d) < 1e-9 ? 1.0
                          : std::fabs(std::fabs(d) - 1.0) < 1e-9
                              ? 0.5
                              : std::sin(kPi * d) / (kPi * d * (1.0 - d * d));
      stft[size_t(j)] += amplitude / k * std::fabs(lobe);
    }
  }
  std::vector<float> features(kBins);
  for (int b = 0; b < kBins; ++b) {
    const double fk = 30.0 * std::pow(2.0, b / 48.0);
    const double half = std::max(fk * (std::pow(2.0, 1.0 / 48.0) - 1.0), kBinHz);
    double sum = 0.0, weight = 0.0;
    for (int j = 0; j < kFftBins; ++j) {
      const double w = std::max(0.0, 1.0 - std::fabs(j * kBinHz - fk) / half);
      sum += w * stft[size_t(j)];
      weight += w;
    }
    features[size_t(b)] = float(std::log1p(sum / weight / 1e-4));
  }
  return features;
}

inline std::vector<float> oracle_one_hot(int midi, int dynamics) {
  std::vector<float> v(32, 0.0f);
  v[size_t(midi % 12)] = 1.0f;
  v[size_t(12 + midi / 12 - 1)] = 1.0f;
  v[size_t(21 + dynamics)] = 1.0f;
  return v;
}

// The pieces the hand-built test models share: a tensor of zeros, a linear op
// reading `<prefix>.weight` and `<prefix>.bias`, the metadata of the contract
// (constant-Q front end, 9 octaves, pp/mf/ff) around the given instruments,
// pitch ranges and XY pad projection, and loading the built file.
inline TestTensor zero_tensor(std::vector<int> shape) {
  size_t n = 1;
  for (int d : shape) n *= size_t(d);
  return TestTensor{shape, std::vector<float>(n, 0.0f)};
}

inline nlohmann::json linear_op(const std::string& prefix) {
  return {{"op", "linear"}, {"weight", prefix + ".weight"}, {"bias", prefix + ".bias"}};
}

inline nlohmann::json crossmodal_metadata(nlohmann::json instruments, nlohmann::json pitch_ranges,
                                          nlohmann::json latent_projection) {
  return {{"sample_rate", 22050},
          {"window", 2048},
          {"hop", 256},
          {"bins_per_octave", 48},
          {"f_min", 30},
          {"f_max", 11000},
          {"n_bins", 409},
          {"log_floor", 1e-4},
          {"latent", 32},
          {"instruments", std::move(instruments)},
          {"octaves", {0, 1, 2, 3, 4, 5, 6, 7, 8}},
          {"dynamics", {"pp", "mf", "ff"}},
          {"dynamics_velocity", {40, 80, 120}},
          {"pitch_ranges", std::move(pitch_ranges)},
          {"latent_projection", std::move(latent_projection)}};
}

// REQUIREs that the file loads.
inline std::unique_ptr<models::CrossmodalVae> load_crossmodal(
    const std::vector<std::uint8_t>& bytes) {
  auto loaded = models::CrossmodalVae::load(bytes.data(), bytes.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

inline std::vector<std::uint8_t> oracle_model_bytes() {
  using nlohmann::json;
  constexpr int kLatent = 32, kBins = 409, kSymbols = 24, kUnits = 12 * 9 * 3;
  std::map<std::string, TestTensor> t;
  t["signal_encoder.weight"] = zero_tensor({2 * kLatent, kBins});
  t["signal_encoder.bias"] = zero_tensor({2 * kLatent});
  t["symbol_encoder.weight"] = zero_tensor({2 * kLatent, kSymbols});
  t["symbol_encoder.bias"] = zero_tensor({2 * kLatent});
  for (int i = 0; i < kSymbols; ++i) t["symbol_encoder.weight"].data[size_t(i * kSymbols + i)] = 1;
  for (int i = kLatent; i < 2 * kLatent; ++i)
    t["symbol_encoder.bias"].data[size_t(i)] = kOracleLogvar;
  t["symbol_decoder.weight"] = zero_tensor({kSymbols, kLatent});
  t["symbol_decoder.bias"] = zero_tensor({kSymbols});
  for (int i = 0; i < kSymbols; ++i) t["symbol_decoder.weight"].data[size_t(i * kLatent + i)] = 10;
  t["signal_decoder.0.weight"] = zero_tensor({kUnits, kLatent});
  t["signal_decoder.0.bias"] = zero_tensor({kUnits});
  t["signal_decoder.2.weight"] = zero_tensor({kBins, kUnits});
  t["signal_decoder.2.bias"] = zero_tensor({kBins});
  for (int p = 0; p < 12; ++p)
    for (int o = 0; o < 9; ++o)
      for (int d = 0; d < 3; ++d) {
        const int unit = (p * 9 + o) * 3 + d;
        float* w = t["signal_decoder.0.weight"].data.data() + unit * kLatent;
        w[p] = w[12 + o] = w[21 + d] = 1.0f;
        t["signal_decoder.0.bias"].data[size_t(unit)] = -2.0f;
        const auto f = oracle_features((o + 1) * 12 + p, kOracleAmplitude[d]);
        for (int b = 0; b < kBins; ++b)
          t["signal_decoder.2.weight"].data[size_t(b * kUnits + unit)] = f[size_t(b)];
      }
  const auto mean = oracle_one_hot(60, 1);
  auto axis = [&](int midi, int dynamics) {
    auto a = oracle_one_hot(midi, dynamics);
    for (int i = 0; i < kLatent; ++i) a[size_t(i)] -= mean[size_t(i)];
    return a;
  };
  const json projection = {
      {"mean", mean}, {"axes", {axis(67, 1), axis(60, 2)}}, {"extent", {{0, 1}, {0, 1}}}};
  json header = {
      {"family", "crossmodal_vae"},
      {"name", "oracle"},
      {"metadata", crossmodal_metadata(json::array({"oracle"}),
                                       json::array({json::array({kOracleLowest, kOracleHighest})}),
                                       projection)},
      {"graphs",
       {{"signal_encoder", {linear_op("signal_encoder")}},
        {"signal_decoder",
         {linear_op("signal_decoder.0"), {{"op", "relu"}}, linear_op("signal_decoder.2")}},
        {"symbol_encoder", {linear_op("symbol_encoder")}},
        {"symbol_decoder", {linear_op("symbol_decoder")}}}}};
  return write_tmbl(header, t);
}

inline std::unique_ptr<models::CrossmodalVae> load_oracle_model() {
  return load_crossmodal(oracle_model_bytes());
}

}  // namespace timbrel::test
