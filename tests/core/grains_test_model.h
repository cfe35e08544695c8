// A `grains` model file built here with seeded random weights, laid out as
// timbrel.export.grains writes one (graphs and tensor names of docs/grains.md,
// metadata with grain map, onset centroids and class embeddings): for the
// Catch2 tests (hostile variants of a good file, the engine's plumbing,
// real-time safety) and the benchmark (the `small` sizes). The parity tests
// use tests/golden/grains (written by PyTorch) instead.
//
// The grain decoder's last layer starts as the trainer's does (weights x 0.1,
// softplus(bias) = 0.05: white noise near -30 dBFS), so the output has a sane
// level; everything else is uniform in +-1/sqrt(fan-in).
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tmbl_writer.h"

namespace timbrel::test {

struct GrainsSizes {
  int latent = 8, embedding = 8, classes = 3;
  int c1 = 4, c2 = 8, dense = 16;  // grain encoder
  int hidden = 32, blocks = 2;     // grain decoder
  int seq_hidden = 16;             // both GRUs
  int taps = 64;                   // 0: no post-processing
  int grains = 65;
  // The `small` configuration of docs/grains.md with the drum corpus's 13 classes.
  static GrainsSizes small() {
    GrainsSizes s;
    s.latent = 64;
    s.embedding = 128;
    s.classes = 13;
    s.c1 = 16;
    s.c2 = 32;
    s.dense = 256;
    s.hidden = 256;
    s.seq_hidden = 256;
    return s;
  }
};

class GrainsModelBuilder {
 public:
  explicit GrainsModelBuilder(const GrainsSizes& sizes, std::uint32_t seed = 7)
      : s_(sizes), rng_(seed) {}

  nlohmann::json header;
  std::map<std::string, TestTensor> tensors;

  // Header and tensors of a good file; edit either, then bytes().
  GrainsModelBuilder& build() {
    using nlohmann::json;
    const int zc = s_.latent + s_.classes, ec = s_.embedding + s_.classes;
    json encoder = json::array();
    encoder.push_back(conv("grain_encoder.0", 1, s_.c1, 32, 16, 8));
    encoder.push_back({{"op", "relu"}});
    encoder.push_back({{"op", "log1p"}});
    encoder.push_back(residual("grain_encoder.3", s_.c1, false));
    encoder.push_back(conv("grain_encoder.4", s_.c1, s_.c2, 8, 4, 2));
    encoder.push_back(leaky());
    encoder.push_back(residual("grain_encoder.6", s_.c2, false));
    encoder.push_back(conv("grain_encoder.7", s_.c2, s_.c2, 8, 4, 2));
    encoder.push_back(leaky());
    encoder.push_back({{"op", "flatten"}, {"frames", 8}});
    encoder.push_back(linear("grain_encoder.10", 8 * s_.c2, s_.dense));
    encoder.push_back(leaky());
    encoder.push_back(linear("grain_encoder.12", s_.dense, 2 * s_.latent));
    json decoder = json::array();
    decoder.push_back(linear("grain_decoder.0", zc, s_.hidden));
    decoder.push_back(layer_norm("grain_decoder.1", s_.hidden));
    decoder.push_back(leaky());
    for (int b = 0; b < s_.blocks; ++b)
      decoder.push_back(residual("grain_decoder." + std::to_string(3 + b), s_.hidden, true));
    const std::string last = "grain_decoder." + std::to_string(3 + s_.blocks);
    decoder.push_back(linear(last, s_.hidden, 1025));
    for (float& w : tensors[last + ".weight"].data) w *= 0.1f;
    for (float& b : tensors[last + ".bias"].data) b = float(std::log(std::expm1(0.05)));
    decoder.push_back({{"op", "softplus"}, {"beta", 1.0}, {"threshold", 20.0}});
    json seq_encoder = json::array({linear("sequence_encoder.0", zc, s_.seq_hidden), leaky(),
                                    gru("sequence_encoder.2", s_.seq_hidden, s_.seq_hidden)});
    json head = json::array({linear("embedding.0", s_.seq_hidden, 2 * s_.embedding)});
    json seq_decoder = json::array({gru("sequence_decoder.0", ec, s_.seq_hidden),
                                    linear("sequence_decoder.1", s_.seq_hidden, s_.latent)});
    header = {{"family", "grains"},
              {"name", "test grains"},
              {"metadata", metadata()},
              {"graphs",
               {{"grain_encoder", encoder},
                {"grain_decoder", decoder},
                {"sequence_encoder", seq_encoder},
                {"embedding", head},
                {"sequence_decoder", seq_decoder}}}};
    return *this;
  }

  std::vector<std::uint8_t> bytes() const { return write_tmbl(header, tensors); }

  // uniform in +-bound
  std::vector<float> uniform(std::size_t n, double bound) {
    std::uniform_real_distribution<double> d(-bound, bound);
    std::vector<float> v(n);
    for (float& x : v) x = float(d(rng_));
    return v;
  }

 private:
  nlohmann::json leaky() const { return {{"op", "leaky_relu"}, {"slope", 0.2}}; }
  void put(const std::string& name, std::vector<int> shape, double bound) {
    std::size_t n = 1;
    for (int d : shape) n *= std::size_t(d);
    tensors[name] = TestTensor{shape, uniform(n, bound)};
  }
  nlohmann::json linear(const std::string& p, int in, int out) {
    put(p + ".weight", {out, in}, 1.0 / std::sqrt(double(in)));
    put(p + ".bias", {out}, 1.0 / std::sqrt(double(in)));
    return {{"op", "linear"}, {"weight", p + ".weight"}, {"bias", p + ".bias"}};
  }
  nlohmann::json layer_norm(const std::string& p, int n) {
    tensors[p + ".weight"] = TestTensor{{n}, std::vector<float>(std::size_t(n), 1.0f)};
    put(p + ".bias", {n}, 0.1);
    return {{"op", "layer_norm"}, {"weight", p + ".weight"}, {"bias", p + ".bias"}, {"eps", 1e-5}};
  }
  nlohmann::json conv(const std::string& p, int in, int out, int kernel, int stride, int pad) {
    put(p + ".weight", {kernel, out, in}, 1.0 / std::sqrt(double(in * kernel)));
    put(p + ".bias", {out}, 1.0 / std::sqrt(double(in * kernel)));
    return {{"op", "conv1d"}, {"weight", p + ".weight"}, {"bias", p + ".bias"}, {"stride", stride},
            {"dilation", 1},  {"padding_left", pad},     {"padding_right", pad}};
  }
  nlohmann::json gru(const std::string& p, int in, int hidden) {
    const double bound = 1.0 / std::sqrt(double(hidden));
    put(p + ".weight_ih_l0", {3 * hidden, in}, bound);
    put(p + ".weight_hh_l0", {3 * hidden, hidden}, bound);
    put(p + ".bias_ih_l0", {3 * hidden}, bound);
    put(p + ".bias_hh_l0", {3 * hidden}, bound);
    return {{"op", "gru"},
            {"weight_ih", p + ".weight_ih_l0"},
            {"weight_hh", p + ".weight_hh_l0"},
            {"bias_ih", p + ".bias_ih_l0"},
            {"bias_hh", p + ".bias_hh_l0"}};
  }
  // Pointwise block: Linear, LeakyReLU, Linear (encoder) or Linear, LayerNorm, LeakyReLU.
  nlohmann::json residual(const std::string& p, int width, bool normed) {
    nlohmann::json body = nlohmann::json::array();
    body.push_back(linear(p + ".body.0", width, width));
    if (normed) {
      body.push_back(layer_norm(p + ".body.1", width));
      body.push_back(leaky());
    } else {
      body.push_back(leaky());
      body.push_back(linear(p + ".body.2", width, width));
    }
    return {{"op", "residual"}, {"ops", body}};
  }
  nlohmann::json rows(int count, int columns, double bound) {
    nlohmann::json a = nlohmann::json::array();
    for (int i = 0; i < count; ++i) a.push_back(uniform(std::size_t(columns), bound));
    return a;
  }
  nlohmann::json metadata() {
    using nlohmann::json;
    json classes = json::array();
    for (int k = 0; k < s_.classes; ++k) classes.push_back("class" + std::to_string(k));
    std::vector<float> taps;
    if (s_.taps > 0) {
      taps = uniform(std::size_t(s_.taps), 0.02);
      taps[0] += 1.0f;
    }
    json axes = json::array();
    for (int a = 0; a < 2; ++a) {
      std::vector<float> axis(std::size_t(s_.latent), 0.0f);
      axis[std::size_t(a % s_.latent)] = 1.0f;
      axes.push_back(axis);
    }
    return {{"sample_rate", 22050},
            {"grain", 2048},
            {"hop", 512},
            {"bins", 1025},
            {"grains", s_.grains},
            {"samples", (s_.grains - 1) * 512 + 2048},
            {"latent", s_.latent},
            {"embedding", s_.embedding},
            {"classes", classes},
            {"encoder_input_gain", 1000.0},
            {"encoder_gain_folded", true},
            {"conditioning", "one_hot_after_input"},
            {"window", "hann_periodic_flat_ends"},
            {"ola_normalisation", "window_sum"},
            {"filter", "softplus_magnitude_zero_phase"},
            {"noise",
             {{"distribution", "uniform"},
              {"low", -1.0},
              {"high", 1.0},
              {"generator", "xorshift32"},
              {"seed", 1779033703u}}},
            {"post_processing", s_.taps > 0},
            {"post_filter", taps},
            {"grain_map",
             {{"mean", uniform(std::size_t(s_.latent), 0.1)},
              {"axes", axes},
              {"extent", {-1.0, 1.0, -1.0, 1.0}},
              {"class_points", rows(s_.classes, 2, 0.8)}}},
            {"onset_centroids", rows(s_.classes, s_.latent, 1.0)},
            {"class_embeddings", rows(s_.classes, s_.embedding, 1.0)},
            {"training", json::object()}};
  }

  GrainsSizes s_;
  std::mt19937 rng_;
};

inline std::vector<std::uint8_t> grains_test_model_bytes(const GrainsSizes& sizes = {},
                                                         std::uint32_t seed = 7) {
  return GrainsModelBuilder(sizes, seed).build().bytes();
}

}  // namespace timbrel::test
