// A small vq_timbre model built in the test (seeded random weights), for the
// checks that need no trained model: the harmonic head is biased open and the
// noise head nearly shut, so a voiced input gives a clearly pitched output.
// The harmonic head is also a low-pass, like an instrument's: an unfiltered
// band-limited pulse train (200 harmonics) is so spiky that YIN, measuring
// the output, finds twice the period when the period is not a whole number
// of samples.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "signals.h"
#include "timbrel/models/vq_timbre.h"
#include "tmbl_writer.h"

namespace timbrel::test {

struct VqTestModelOptions {
  int latent = 8, hidden = 24, codes = 16;
  bool quantized = true;
  float harmonic_bias = 2.0f;   // sigmoid(2) = 0.88: harmonics pass at low frequencies,
  float harmonic_tilt = 10.0f;  // minus tilt x bin / 256: a low-pass (sigmoid(-3) at 5.5 kHz)
  float noise_bias = -4.0f;     // sigmoid(-4) = 0.018: little noise
  // softplus(-3) = 0.049: peaks well under full scale, as a trained model's
  // (softplus(0) made +10-15 dBFS, which the engines' output guard rightly
  // limits or mutes; dsp/output_guard.h).
  float gain_bias = -3.0f;
  float scale = 0.1f;  // weight spread
  unsigned seed = 11;
  std::string name = "test-violin";
};

inline nlohmann::json vq_test_header(const VqTestModelOptions& o) {
  using nlohmann::json;
  auto linear = [](const std::string& p) {
    return json{{"op", "linear"}, {"weight", p + ".weight"}, {"bias", p + ".bias"}};
  };
  json graphs = {
      {"encoder",
       {linear("encoder.0"), {{"op", "leaky_relu"}, {"slope", 0.2}}, linear("encoder.2")}},
      {"decoder",
       {linear("decoder.0"),
        {{"op", "leaky_relu"}, {"slope", 0.2}},
        {{"op", "gru"},
         {"weight_ih", "decoder.2.weight_ih"},
         {"weight_hh", "decoder.2.weight_hh"},
         {"bias_ih", "decoder.2.bias_ih"},
         {"bias_hh", "decoder.2.bias_hh"}}}},
      {"harmonic", {linear("harmonic"), {{"op", "sigmoid"}}}},
      {"noise", {linear("noise"), {{"op", "sigmoid"}}}},
      {"gain", {linear("gain"), {{"op", "softplus"}, {"beta", 1.0}, {"threshold", 20.0}}}}};
  if (o.quantized) graphs["quantizer"] = {{{"op", "vq"}, {"codebook", "quantizer.codebook"}}};
  return {{"family", "vq_timbre"},
          {"name", o.name},
          {"metadata",
           {{"sample_rate", 22050},
            {"window", 1024},
            {"hop", 256},
            {"synthesis_window", 512},
            {"codes", o.codes},
            {"latent", o.latent},
            {"hidden", o.hidden},
            {"instrument", "violin"},
            {"f0_range_hz", {196.0, 1568.0}},
            {"quantized", o.quantized},
            {"training", {{"steps", 0}, {"corpus", "none (test weights)"}}}}},
          {"graphs", graphs}};
}

inline std::map<std::string, TestTensor> vq_test_tensors(const VqTestModelOptions& o) {
  unsigned seed = o.seed;
  auto random = [&](std::vector<int> shape, double scale, float offset = 0.0f) {
    size_t n = 1;
    for (int d : shape) n *= size_t(d);
    auto data = white_noise(n, scale, seed++);
    for (auto& v : data) v += offset;
    return TestTensor{shape, data};
  };
  const int d = o.latent, h = o.hidden;
  std::map<std::string, TestTensor> t = {{"encoder.0.weight", random({32, 513}, o.scale * 0.5)},
                                         {"encoder.0.bias", random({32}, o.scale)},
                                         {"encoder.2.weight", random({d, 32}, o.scale * 2)},
                                         {"encoder.2.bias", random({d}, o.scale)},
                                         {"decoder.0.weight", random({h, d + 3}, o.scale * 2)},
                                         {"decoder.0.bias", random({h}, o.scale)},
                                         {"decoder.2.weight_ih", random({3 * h, h}, o.scale * 2)},
                                         {"decoder.2.weight_hh", random({3 * h, h}, o.scale * 2)},
                                         {"decoder.2.bias_ih", random({3 * h}, o.scale)},
                                         {"decoder.2.bias_hh", random({3 * h}, o.scale)},
                                         {"harmonic.weight", random({257, h}, o.scale)},
                                         {"harmonic.bias", random({257}, o.scale, o.harmonic_bias)},
                                         {"noise.weight", random({257, h}, o.scale)},
                                         {"noise.bias", random({257}, o.scale, o.noise_bias)},
                                         {"gain.weight", random({1, h}, o.scale)},
                                         {"gain.bias", random({1}, 0.0, o.gain_bias)}};
  for (int k = 0; k < 257; ++k)
    t["harmonic.bias"].data[size_t(k)] -= o.harmonic_tilt * float(k) / 256.0f;
  if (o.quantized) t["quantizer.codebook"] = random({o.codes, d}, 0.5);
  return t;
}

inline std::vector<std::uint8_t> vq_test_model_bytes(const VqTestModelOptions& o = {}) {
  return write_tmbl(vq_test_header(o), vq_test_tensors(o));
}

// The test model loaded as a VqTimbre (REQUIREs that it loads).
inline std::unique_ptr<models::VqTimbre> load_vq_test_model(
    const VqTestModelOptions& options = {}) {
  const auto bytes = vq_test_model_bytes(options);
  auto loaded = models::VqTimbre::load(bytes.data(), bytes.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

}  // namespace timbrel::test
