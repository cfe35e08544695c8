// models::Gmvae (family "gmvae", docs/gmvae.md): loading and validation of
// hostile metadata and graphs, golden parity of the encoders and the decoder
// against PyTorch (tests/golden/gmvae, scripts/timbrel/golden/gmvae.py), the
// latent operations (sample, transfer, map, brightness) and real-time safety.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "crossmodal_test_model.h"  // tmbl_header, with_header
#include "gmvae_test_model.h"
#include "npy.h"
#include "timbrel/models/prepared_model.h"
#include "timbrel/nn/model_image.h"
#include "tmbl_writer.h"

using namespace timbrel;
using json = nlohmann::json;
using models::Gmvae;

namespace {

constexpr int kLatent = Gmvae::kLatent, kZ = Gmvae::kZ;

std::vector<float> npy_floats(const std::string& name) {
  const auto a = test::read_npy(test::gmvae_golden(name));
  return std::vector<float>(a.values.begin(), a.values.end());
}

// The oracle with its header edited; "" when it loads, else the error.
std::string error_after(const std::function<void(json&)>& edit) {
  const auto bytes = test::gmvae_oracle_bytes();
  json header = test::tmbl_header(bytes);
  edit(header);
  const auto edited = test::with_header(bytes, header);
  return Gmvae::load(edited.data(), edited.size()).error;
}

test::TestTensor random_tensor(std::vector<int> shape, float scale, unsigned seed) {
  auto t = test::zero_tensor(shape);
  unsigned s = seed;
  for (float& v : t.data) {
    s = s * 1664525u + 1013904223u;
    v = scale * (float(s >> 8) / float(1 << 24) - 0.5f);
  }
  return t;
}

// A small model of the oracle's metadata with graphs given as ops + tensors.
std::vector<std::uint8_t> model_with(const std::map<std::string, json>& graphs,
                                     const std::map<std::string, test::TestTensor>& tensors) {
  const json meta = test::tmbl_header(test::gmvae_oracle_bytes())["metadata"];
  json g = json::object();
  for (const auto& [name, ops] : graphs) g[name] = ops;
  return test::write_tmbl(
      {{"family", "gmvae"}, {"name", "small"}, {"metadata", meta}, {"graphs", g}}, tensors);
}

json conv_op(const std::string& prefix, int stride, int left, int right) {
  return {{"op", "conv1d"},
          {"weight", prefix + ".weight"},
          {"bias", prefix + ".bias"},
          {"stride", stride},
          {"dilation", 1},
          {"padding_left", left},
          {"padding_right", right}};
}

// Encoders conv1d 256 -> 2 (k 1), flatten 43, linear 86 -> 32; decoder linear 32 -> out.
struct SmallModel {
  std::map<std::string, json> graphs;
  std::map<std::string, test::TestTensor> tensors;
  explicit SmallModel(int decoder_out = Gmvae::kPatch) {
    for (const std::string e : {"pitch_encoder", "timbre_encoder"}) {
      tensors[e + ".0.weight"] = random_tensor({1, 2, 256}, 0.2f, 1);
      tensors[e + ".0.bias"] = test::zero_tensor({2});
      tensors[e + ".1.weight"] = random_tensor({32, 86}, 0.2f, 2);
      tensors[e + ".1.bias"] = test::zero_tensor({32});
      graphs[e] = json::array({conv_op(e + ".0", 1, 0, 0),
                               {{"op", "flatten"}, {"frames", 43}},
                               test::linear_op(e + ".1")});
    }
    tensors["decoder.0.weight"] = random_tensor({decoder_out, 32}, 0.2f, 3);
    tensors["decoder.0.bias"] = test::zero_tensor({decoder_out});
    graphs["decoder"] = json::array({test::linear_op("decoder.0"), {{"op", "tanh"}}});
  }
  std::string error() const {
    const auto bytes = model_with(graphs, tensors);
    return Gmvae::load(bytes.data(), bytes.size()).error;
  }
};

}  // namespace

TEST_CASE("Gmvae loads the oracle model and describes it", "[gmvae]") {
  auto model = test::load_gmvae_oracle();
  CHECK(model->pitches() == 12);
  CHECK(model->pitch_midi().front() == 60);
  CHECK(model->instruments() == 3);
  CHECK(model->instrument_index("french_horn") == 1);
  CHECK(model->instrument_index("tuba") == -1);
  CHECK(model->pitch_index(69) == 9);
  CHECK(model->pitch_index(59) == -1);
  CHECK(model->db_min() == -100.0f);
  CHECK(model->pitch_sigma() == Approx(std::exp(-2.0)));
  CHECK(model->brightness().dim == 3);
  const json info = json::parse(model->info_json());
  CHECK(info["instruments"] == json({"oboe", "french_horn", "piano"}));
  CHECK(info["pitches"].size() == 12);
  CHECK(info["frames"] == 43);
  CHECK(info["melBins"] == 256);
  CHECK(info["map"]["points"].size() == 36);
  CHECK(info["map"]["means"].size() == 3);
  CHECK(info["timbreMeans"][1][1] == 2.0);
  CHECK(info["brightness"]["hzPerUnit"] == 300.0);
}

TEST_CASE("Gmvae encoders and decoder match PyTorch (golden)", "[gmvae]") {
  auto model = test::load_gmvae_oracle();
  const auto patch = npy_floats("patch.npy");
  const auto pitch = npy_floats("pitch_encoder.npy");
  const auto timbre = npy_floats("timbre_encoder.npy");
  std::vector<float> mu_p(kLatent), lv_p(kLatent), mu_t(kLatent), lv_t(kLatent);
  model->encode(patch.data(), mu_p.data(), lv_p.data(), mu_t.data(), lv_t.data());
  for (int d = 0; d < kLatent; ++d) {
    INFO("dim " << d);
    CHECK(mu_p[size_t(d)] == Approx(pitch[size_t(d)]).margin(1e-4));
    CHECK(lv_p[size_t(d)] == Approx(pitch[size_t(kLatent + d)]).margin(1e-4));
    CHECK(mu_t[size_t(d)] == Approx(timbre[size_t(d)]).margin(1e-4));
    CHECK(lv_t[size_t(d)] == Approx(timbre[size_t(kLatent + d)]).margin(1e-4));
  }
  // Twice the same (the convolutions' state is reset per run).
  std::vector<float> again(kLatent);
  model->encode(patch.data(), again.data(), nullptr, nullptr, nullptr);
  CHECK(again == mu_p);

  const auto latents = npy_floats("latents.npy");
  const auto decoded = npy_floats("decoded.npy");
  std::vector<float> out(Gmvae::kPatch);
  for (int i = 0; i < 3; ++i) {
    model->decode(latents.data() + size_t(i) * kZ, out.data());
    double worst = 0.0;
    for (int j = 0; j < Gmvae::kPatch; ++j)
      worst = std::max(worst, double(std::fabs(out[size_t(j)] -
                                               decoded[size_t(i) * Gmvae::kPatch + size_t(j)])));
    INFO("latent " << i);
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("Gmvae sampling: the components' means at spread 0, seeded draws otherwise", "[gmvae]") {
  auto model = test::load_gmvae_oracle();
  float z[kZ], again[kZ], other[kZ];
  model->sample(0, model->pitch_index(69), 0.0f, 1, z);
  for (int d = 0; d < kLatent; ++d) {
    CHECK(z[d] == model->pitch_mean(9)[d]);
    CHECK(z[kLatent + d] == model->timbre_mean(0)[d]);
  }
  model->sample(2, 3, 0.5f, 7, z);
  model->sample(2, 3, 0.5f, 7, again);
  model->sample(2, 3, 0.5f, 8, other);
  CHECK(std::equal(z, z + kZ, again));
  CHECK_FALSE(std::equal(z, z + kZ, other));
  // The pitch draw is narrow (sigma e^-2), the timbre one wide (e^0).
  double pitch_spread = 0.0, timbre_spread = 0.0;
  for (unsigned seed = 1; seed <= 200; ++seed) {
    model->sample(2, 3, 1.0f, seed, z);
    for (int d = 0; d < kLatent; ++d) {
      pitch_spread += std::pow(z[d] - model->pitch_mean(3)[d], 2);
      timbre_spread += std::pow(z[kLatent + d] - model->timbre_mean(2)[d], 2);
    }
  }
  CHECK(std::sqrt(pitch_spread / (200 * kLatent)) == Approx(std::exp(-2.0)).epsilon(0.1));
  CHECK(std::sqrt(timbre_spread / (200 * kLatent)) == Approx(1.0).epsilon(0.1));
  // Out-of-range indices are clamped, non-finite spread is 0.
  model->sample(99, -5, std::nanf(""), 1, z);
  CHECK(z[0] == model->pitch_mean(0)[0]);
  CHECK(z[kLatent + 2] == model->timbre_mean(2)[2]);
}

TEST_CASE("Gmvae transfer moves z_t by the difference of the components' means", "[gmvae]") {
  auto model = test::load_gmvae_oracle();
  float z[kZ], out[kZ];
  model->sample(0, 4, 0.3f, 11, z);
  CHECK(model->nearest_instrument(z + kLatent) == 0);
  model->transfer(z, 1, 1.0f, out);
  for (int d = 0; d < kLatent; ++d) {
    CHECK(out[d] == z[d]);  // z_p kept
    CHECK(out[kLatent + d] ==
          Approx(z[kLatent + d] + model->timbre_mean(1)[d] - model->timbre_mean(0)[d]));
  }
  CHECK(model->nearest_instrument(out + kLatent) == 1);
  model->transfer(z, 2, 0.5f, out);
  CHECK(out[kLatent + 0] == Approx(z[kLatent + 0] - 1.0f));
  CHECK(out[kLatent + 2] == Approx(z[kLatent + 2] + 1.0f));
  model->transfer(z, 2, 0.0f, out);
  CHECK(std::equal(z, z + kZ, out));
  model->transfer(z, 1, 1.0f, z);  // in place
  CHECK(model->nearest_instrument(z + kLatent) == 1);
}

TEST_CASE("Gmvae map: plane point plus the softmax blend of the residuals; brightness", "[gmvae]") {
  // The oracle's means lie in its map plane (residuals 0): give component 0 one.
  const auto bytes = test::gmvae_oracle_bytes();
  json header = test::tmbl_header(bytes);
  header["metadata"]["map"]["residuals"][0][5] = 1.0;
  auto model = test::load_gmvae(test::with_header(bytes, header));
  const auto& map = model->map();
  float x, y, zt[kLatent];
  model->map_coordinates(model->timbre_mean(0), &x, &y);
  CHECK(x == Approx(map.xy[0][0]));
  CHECK(y == Approx(map.xy[0][1]));
  model->map_point(x, y, zt);
  // Plane point + w_0 e_5; w_0 = 1 / (1 + 2 e^(-d^2 / 2)), d = |2 e_0 - 2 e_1| = 2 sqrt 2.
  const double w0 = 1.0 / (1.0 + 2.0 * std::exp(-4.0));
  for (int d = 0; d < kLatent; ++d) {
    const double plane =
        map.center[size_t(d)] + x * map.axes[0][size_t(d)] + y * map.axes[1][size_t(d)];
    CHECK(zt[d] == Approx(plane + (d == 5 ? w0 : 0.0)).margin(1e-5));
  }
  // On the plane, the map point of a component's coordinates is its mean (+ residual).
  CHECK(zt[0] == Approx(2.0f).margin(1e-5));
  model->set_brightness(9.0f, zt);
  CHECK(zt[3] == 2.5f);
  model->set_brightness(-1.25f, zt);
  CHECK(zt[3] == -1.25f);
}

TEST_CASE("Gmvae encode, decode and the latent operations do not allocate", "[gmvae][realtime]") {
  auto model = test::load_gmvae_oracle();
  std::vector<float> patch(Gmvae::kPatch, 0.0f), audio(8000, 0.1f);
  float z[kZ], zt[kLatent], mu[kLatent], lv[kLatent], x, y;
  test::AllocationCounter counter;
  model->sample(1, 2, 0.5f, 3, z);
  model->decode(z, patch.data());
  model->encode(patch.data(), mu, lv, mu, lv);
  model->encode_audio(audio.data(), audio.size(), z);
  model->transfer(z, 2, 0.7f, z);
  model->map_point(0.3f, -0.2f, zt);
  model->map_coordinates(zt, &x, &y);
  model->set_brightness(0.5f, zt);
  CHECK(model->nearest_instrument(zt) >= 0);
  CHECK(counter.count() == 0);
}

TEST_CASE("Gmvae refuses metadata that breaks the contract, with a message per problem",
          "[gmvae][hostile]") {
  CHECK(error_after([](json&) {}).empty());
  CHECK_THAT(Gmvae::load_file(std::string(TIMBREL_GOLDEN_DIR) + "/vq/model.tmbl").error,
             Catch::Contains("model family is 'vq_timbre', not 'gmvae'"));
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"no sample rate", [](json& h) { h["metadata"].erase("sample_rate"); },
       "metadata has no 'sample_rate' (expected 22050)"},
      {"frames", [](json& h) { h["metadata"]["frames"] = 40; },
       "metadata 'frames' is 40, this engine needs 43"},
      {"mel bins", [](json& h) { h["metadata"]["mel_bins"] = 128; },
       "metadata 'mel_bins' is 128, this engine needs 256"},
      {"latent", [](json& h) { h["metadata"]["latent"] = 8; },
       "metadata 'latent' is 8, this engine needs 16"},
      {"db range", [](json& h) { h["metadata"]["db_max"] = -100.0; },
       "level range db_min -100 to db_max -100 is empty"},
      {"db bound", [](json& h) { h["metadata"]["db_min"] = -1e30; }, "metadata 'db_min' is"},
      {"gain bound", [](json& h) { h["metadata"]["output_gain_db"] = 500.0; },
       "metadata 'output_gain_db' is"},
      {"gain text", [](json& h) { h["metadata"]["output_gain_db"] = "loud"; },
       "metadata has no number 'output_gain_db'"},
      {"db text", [](json& h) { h["metadata"]["db_min"] = "low"; },
       "metadata has no number 'db_min'"},
      {"pitches order", [](json& h) { h["metadata"]["pitches"][3] = 50; },
       "metadata 'pitches' must be strictly ascending"},
      {"pitches range", [](json& h) { h["metadata"]["pitches"][11] = 128; },
       "metadata 'pitches' must hold whole MIDI numbers 0-127"},
      {"pitches fraction", [](json& h) { h["metadata"]["pitches"][11] = 71.5; },
       "metadata 'pitches' must hold whole MIDI numbers 0-127"},
      {"no pitches", [](json& h) { h["metadata"]["pitches"] = json::array(); },
       "metadata 'pitches' must list 1-128 MIDI numbers"},
      {"instrument twice", [](json& h) { h["metadata"]["instruments"][2] = "oboe"; },
       "metadata 'instruments' names 'oboe' twice"},
      {"instrument name", [](json& h) { h["metadata"]["instruments"][2] = 7; },
       "metadata 'instruments' must hold names of 1-64 characters"},
      {"ranges count", [](json& h) { h["metadata"]["instrument_ranges"].erase(0); },
       "metadata 'instrument_ranges' must hold one [low, high] MIDI pair per instrument (3)"},
      {"range order",
       [](json& h) {
         h["metadata"]["instrument_ranges"][1] = {70, 60};
       },
       "entries must be [low, high] MIDI numbers with 0 <= low <= high <= 127"},
      {"pitch means count", [](json& h) { h["metadata"]["pitch_means"].erase(0); },
       "metadata 'pitch_means' must hold one mean of 16 numbers per pitch (12)"},
      {"pitch mean size", [](json& h) { h["metadata"]["pitch_means"][2].erase(0); },
       "metadata 'pitch_means' entry must be a list of 16 numbers"},
      {"pitch mean bound", [](json& h) { h["metadata"]["pitch_means"][2][0] = 1e6; },
       "metadata 'pitch_means' entry holds 1000000, outside +-1000"},
      {"timbre mean text", [](json& h) { h["metadata"]["timbre_means"][0][0] = "x"; },
       "metadata 'timbre_means' entry must hold only finite numbers"},
      {"pitch sigma zero", [](json& h) { h["metadata"]["pitch_sigma"] = 0.0; },
       "metadata 'pitch_sigma' must be above 0"},
      {"timbre sigma", [](json& h) { h["metadata"]["timbre_sigma"] = 1000.0; },
       "metadata 'timbre_sigma' is 1000, outside 0 to 100"},
      {"no map", [](json& h) { h["metadata"].erase("map"); },
       "metadata 'map' (center, axes, points, residuals of the timbre map) is missing"},
      {"map center", [](json& h) { h["metadata"]["map"]["center"].erase(0); },
       "metadata 'map' 'center' must be a list of 16 numbers"},
      {"map axes parallel",
       [](json& h) { h["metadata"]["map"]["axes"][1] = h["metadata"]["map"]["axes"][0]; },
       "metadata 'map' 'axes' are zero or parallel"},
      {"map point instrument", [](json& h) { h["metadata"]["map"]["points"][0][2] = 3; },
       "metadata 'map' point instrument index must be a whole number 0-2"},
      {"map point midi", [](json& h) { h["metadata"]["map"]["points"][0][3] = -1; },
       "metadata 'map' point midi must be a whole number 0-127"},
      {"map point shape",
       [](json& h) {
         h["metadata"]["map"]["points"][0] = {1, 2};
       },
       "'points' entries must be [x, y, instrument index, midi]"},
      {"map residuals", [](json& h) { h["metadata"]["map"]["residuals"].erase(0); },
       "metadata 'map' 'residuals' must hold one list of 16 numbers per instrument (3)"},
      {"no brightness", [](json& h) { h["metadata"].erase("brightness"); },
       "metadata 'brightness' (dim, r, low, high, hz_per_unit) is missing"},
      {"brightness dim", [](json& h) { h["metadata"]["brightness"]["dim"] = 16; },
       "metadata 'brightness' 'dim' is 16, outside 0 to 15"},
      {"brightness range", [](json& h) { h["metadata"]["brightness"]["low"] = 3.0; },
       "metadata 'brightness' range [3, 2.500000] is empty"},
      {"brightness r", [](json& h) { h["metadata"]["brightness"]["r"] = 2.0; },
       "metadata 'brightness' 'r' is 2, outside -1 to 1"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const std::string error = error_after(c.edit);
    INFO(error);
    CHECK_THAT(error, Catch::Contains(c.message));
  }
}

TEST_CASE("Gmvae refuses graphs that do not fit the contract", "[gmvae][hostile]") {
  SmallModel ok;
  CHECK(ok.error().empty());
  {
    const auto bytes = model_with(ok.graphs, ok.tensors);
    auto model = test::load_gmvae(bytes);
    std::vector<float> patch(Gmvae::kPatch);
    float z[kZ] = {};
    model->decode(z, patch.data());  // a [1, 11008] decoder
    CHECK(patch[0] == 0.0f);         // tanh(0): zero bias
  }
  SmallModel wrong_out(100);
  CHECK_THAT(wrong_out.error(),
             Catch::Contains("gmvae model: graph 'decoder' maps [1, 32] to [1, 100], expected "
                             "[43, 256] (or [1, 11008])"));
  SmallModel no_decoder;
  no_decoder.graphs.erase("decoder");
  no_decoder.tensors.erase("decoder.0.weight");
  no_decoder.tensors.erase("decoder.0.bias");
  CHECK_THAT(no_decoder.error(), Catch::Contains("no 'decoder' graph"));
  SmallModel wrong_frames;
  wrong_frames.graphs["pitch_encoder"][1]["frames"] = 40;
  wrong_frames.tensors["pitch_encoder.1.weight"] = random_tensor({32, 80}, 0.2f, 2);
  CHECK_THAT(
      wrong_frames.error(),
      Catch::Contains("graph 'pitch_encoder' op 1 (flatten) flattens 40 frames, but gets 43"));
  SmallModel gru;
  gru.tensors["timbre_encoder.g.weight_ih"] = test::zero_tensor({96, 32});
  gru.tensors["timbre_encoder.g.weight_hh"] = test::zero_tensor({96, 32});
  gru.tensors["timbre_encoder.g.bias_ih"] = test::zero_tensor({96});
  gru.tensors["timbre_encoder.g.bias_hh"] = test::zero_tensor({96});
  gru.graphs["timbre_encoder"].push_back({{"op", "gru"},
                                          {"weight_ih", "timbre_encoder.g.weight_ih"},
                                          {"weight_hh", "timbre_encoder.g.weight_hh"},
                                          {"bias_ih", "timbre_encoder.g.bias_ih"},
                                          {"bias_hh", "timbre_encoder.g.bias_hh"}});
  CHECK_THAT(gru.error(), Catch::Contains("(gru): this family's graphs use linear, conv1d, "
                                          "flatten, unflatten, layer_norm and activations only"));
  SmallModel too_short;  // a kernel longer than the padded patch
  too_short.tensors["pitch_encoder.0.weight"] = random_tensor({50, 2, 256}, 0.2f, 1);
  CHECK_THAT(too_short.error(),
             Catch::Contains("op 0 (conv1d): 43 frames (padded 43) are fewer than its span of 50"));
  // An encoder of 4 convolutions 256 -> 256, kernel 7: 79 M multiply-adds.
  SmallModel costly;
  json ops = json::array();
  for (int i = 0; i < 4; ++i) {
    const std::string p = "pitch_encoder.c" + std::to_string(i);
    costly.tensors[p + ".weight"] = random_tensor({7, 256, 256}, 0.01f, unsigned(i));
    costly.tensors[p + ".bias"] = test::zero_tensor({256});
    ops.push_back(conv_op(p, 1, 3, 3));
  }
  for (const auto& op : costly.graphs["pitch_encoder"]) ops.push_back(op);
  costly.graphs["pitch_encoder"] = ops;
  CHECK_THAT(costly.error(), Catch::Contains("graph 'pitch_encoder' costs 789") &&
                                 Catch::Contains("multiply-adds per run, more than the limit of "
                                                 "67108864"));
}

TEST_CASE("Gmvae: a prepared model image adopts and decodes bit for bit as the file",
          "[gmvae][model_image]") {
  const auto bytes = test::gmvae_oracle_bytes();
  const auto prepared = models::prepare_model(bytes.data(), bytes.size(), "gmvae");
  REQUIRE(prepared.error.empty());
  auto by_file = test::load_gmvae(bytes);
  CHECK(prepared.info == by_file->info_json());
  auto block = nn::ImageBlock::allocate(prepared.image.size());
  std::copy(prepared.image.begin(), prepared.image.end(), block.data());
  auto adopted = Gmvae::adopt(std::move(block));
  INFO(adopted.error);
  REQUIRE(adopted.model);
  const auto latents = npy_floats("latents.npy");
  const auto patch = npy_floats("patch.npy");
  std::vector<float> a(Gmvae::kPatch), b(Gmvae::kPatch), ma(kLatent), mb(kLatent);
  by_file->decode(latents.data() + kZ, a.data());
  adopted.model->decode(latents.data() + kZ, b.data());
  CHECK(a == b);
  by_file->encode(patch.data(), nullptr, nullptr, ma.data(), nullptr);
  adopted.model->encode(patch.data(), nullptr, nullptr, mb.data(), nullptr);
  CHECK(ma == mb);
  CHECK_THAT(models::prepare_model(bytes.data(), bytes.size(), "crossmodal_vae").error,
             Catch::Contains("not 'crossmodal_vae'"));
}

TEST_CASE("Gmvae runs a decoder of the trained layout (unflatten, convolutions) as Graph::forward",
          "[gmvae]") {
  // linear 32 -> 43 x 4, relu, unflatten 43, conv1d 4 -> 256 (k 3, padding 1), tanh.
  SmallModel m;
  m.tensors["decoder.0.weight"] = random_tensor({43 * 4, 32}, 0.5f, 5);
  m.tensors["decoder.0.bias"] = random_tensor({43 * 4}, 0.5f, 6);
  m.tensors["decoder.2.weight"] = random_tensor({3, 256, 4}, 0.5f, 7);
  m.tensors["decoder.2.bias"] = random_tensor({256}, 0.5f, 8);
  m.graphs["decoder"] = json::array({test::linear_op("decoder.0"),
                                     {{"op", "relu"}},
                                     {{"op", "unflatten"}, {"frames", 43}},
                                     conv_op("decoder.2", 1, 1, 1),
                                     {{"op", "tanh"}}});
  auto model = test::load_gmvae(model_with(m.graphs, m.tensors));
  float z[kZ];
  model->sample(1, 1, 1.0f, 4, z);
  std::vector<float> patch(Gmvae::kPatch);
  model->decode(z, patch.data());
  nn::Sequence in(1, kZ);
  std::copy(z, z + kZ, in.data.begin());
  const auto want = model->model().graph("decoder").forward(in);
  REQUIRE(want.frames == 43);
  REQUIRE(want.channels == 256);
  CHECK(patch == want.data);

  // Eight convolutions 128 -> 128 (k 3) over 43 frames: 16.9 M multiply-adds per note.
  SmallModel costly;
  costly.tensors["decoder.0.weight"] = random_tensor({43 * 128, 32}, 0.1f, 5);
  costly.tensors["decoder.0.bias"] = test::zero_tensor({43 * 128});
  json ops = json::array({test::linear_op("decoder.0"), {{"op", "unflatten"}, {"frames", 43}}});
  for (int i = 0; i < 8; ++i) {
    const std::string p = "decoder.c" + std::to_string(i);
    costly.tensors[p + ".weight"] = random_tensor({3, 128, 128}, 0.05f, unsigned(i));
    costly.tensors[p + ".bias"] = test::zero_tensor({128});
    ops.push_back(conv_op(p, 1, 1, 1));
  }
  costly.tensors["decoder.out.weight"] = random_tensor({1, 256, 128}, 0.05f, 9);
  costly.tensors["decoder.out.bias"] = test::zero_tensor({256});
  ops.push_back(conv_op("decoder.out", 1, 0, 0));
  costly.graphs["decoder"] = ops;
  CHECK_THAT(costly.error(), Catch::Contains("graph 'decoder' costs 1") &&
                                 Catch::Contains("more than the limit of 16777216 (it runs on the "
                                                 "audio thread at every note)"));
}
