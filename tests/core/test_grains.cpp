// models::GrainsModel (docs/grains.md): loading a `grains` file, refusing
// hostile ones with a message naming the problem, and the per-grain
// primitives (decoder, sequence step, encoder) against the layers run by hand.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "grains_test_model.h"
#include "timbrel/models/grains.h"
#include "timbrel/nn/model_file.h"

using namespace timbrel;
using models::GrainsModel;

namespace {

std::unique_ptr<GrainsModel> load(const std::vector<std::uint8_t>& bytes) {
  auto loaded = GrainsModel::load(bytes.data(), bytes.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

std::string load_error(const std::vector<std::uint8_t>& bytes) {
  auto loaded = GrainsModel::load(bytes.data(), bytes.size());
  CHECK_FALSE(loaded.model);
  return loaded.error;
}

// The error of the test model after `edit` changes its builder.
template <class Edit>
std::string error_after(Edit&& edit, test::GrainsSizes sizes = {}) {
  test::GrainsModelBuilder builder(sizes);
  builder.build();
  edit(builder);
  return load_error(builder.bytes());
}

}  // namespace

TEST_CASE("GrainsModel loads a grains file and describes it", "[grains]") {
  auto model = load(test::grains_test_model_bytes());
  CHECK(model->grains() == 65);
  CHECK(model->samples() == 34816);
  CHECK(model->latent() == 8);
  CHECK(model->embedding() == 8);
  CHECK(model->classes() == 3);
  CHECK(model->sequence_hidden() == 16);
  CHECK(model->class_index("class2") == 2);
  CHECK(model->class_index("snare") == -1);
  CHECK(model->noise_seed() == 0x6A09E667u);
  CHECK(model->post_filter().size() == 64);
  CHECK(model->grain_map().axes.size() == 16);
  CHECK(model->grain_map().class_points.size() == 6);
  // grain decoder 11 x 32 + 2 x (32 x 32 + 64) + 32 x 1025 + norms and activations,
  // sequence step 3 x 16 x (11 + 16) + 16 x 8.
  CHECK(model->hop_work() > 32 * 1025 + 3 * 16 * 27);
  CHECK(model->hop_work() < 50000);
  const std::string info = model->info_json();
  CHECK(info.find("\"classes\":[\"class0\",\"class1\",\"class2\"]") != std::string::npos);
  CHECK(info.find("\"grainMap\"") != std::string::npos);
  CHECK(info.find("\"classEmbeddings\"") != std::string::npos);

  // The small sizes: within the per-hop budget of docs/grains.md (~0.73 M multiply-adds).
  auto small = load(test::grains_test_model_bytes(test::GrainsSizes::small()));
  INFO("small: hop " << small->hop_work() << ", encode " << small->encode_work());
  CHECK(small->hop_work() > 700000);
  CHECK(small->hop_work() < 800000);
  CHECK(small->encode_work() > 400000);
  CHECK(small->encode_work() < 600000);
}

TEST_CASE("GrainsModel refuses other families and hostile files with a message", "[grains]") {
  using B = test::GrainsModelBuilder;
  CHECK(error_after([](B& b) {
          b.header["family"] = "test";
          b.header["metadata"].erase("window");
        }) ==
        "model family is 'test', not 'grains': this is not a neural granular drum model "
        "(Grains panel)");
  // Graphs.
  CHECK(error_after([](B& b) { b.header["graphs"].erase("embedding"); }) ==
        "model file: grains model has no 'embedding' graph");
  CHECK(error_after([](B& b) {
          b.tensors["grain_decoder.5.weight"].shape = {1024, 32};
          b.tensors["grain_decoder.5.weight"].data.resize(1024 * 32);
          b.tensors["grain_decoder.5.bias"].shape = {1024};
          b.tensors["grain_decoder.5.bias"].data.resize(1024);
        }) ==
        "grains model: graph 'grain_decoder' maps 11 -> 1024 values, expected 11 -> 1025 ([z, c] "
        "-> 1025 filter magnitudes)");
  CHECK(error_after([](B& b) {
          auto& g = b.header["graphs"]["sequence_decoder"];
          g.push_back({{"op", "tanh"}});
        }).find("graph 'sequence_decoder' must be exactly a gru then a linear") !=
        std::string::npos);
  CHECK(error_after([](B& b) { b.header["metadata"]["latent"] = 9; }) ==
        "grains model: metadata 'grain_map' 'mean' must be a list of 9 numbers");
  CHECK(error_after([](B& b) {
          b.tensors["sequence_decoder.1.weight"] = {{7, 16}, std::vector<float>(7 * 16, 0.0f)};
          b.tensors["sequence_decoder.1.bias"] = {{7}, std::vector<float>(7, 0.0f)};
        }) ==
        "grains model: graph 'sequence_decoder' gives 7 values per step, expected the latent 8");
  CHECK(error_after([](B& b) {
          b.tensors["embedding.0.weight"] = {{14, 16}, std::vector<float>(14 * 16, 0.0f)};
          b.tensors["embedding.0.bias"] = {{14}, std::vector<float>(14, 0.0f)};
        }) ==
        "grains model: graph 'embedding' maps 16 -> 14 values, expected 16 -> 16 (the sequence "
        "encoder's output -> mean and log-variance, embedding 8 each)");
  CHECK(error_after([](B& b) {
          b.tensors["grain_encoder.12.weight"] = {{15, 16}, std::vector<float>(15 * 16, 0.0f)};
          b.tensors["grain_encoder.12.bias"] = {{15}, std::vector<float>(15, 0.0f)};
        }) ==
        "grains model: graph 'grain_encoder' maps [2048, 1] to [1, 15], expected [1, 16] (mean "
        "and log-variance, latent 8 each)");
  CHECK(error_after([](B& b) {
          // A grain decoder that is not frame-wise.
          b.header["graphs"]["grain_decoder"][2] = {{"op", "gru"},
                                                    {"weight_ih", "x.ih"},
                                                    {"weight_hh", "x.hh"},
                                                    {"bias_ih", "x.bi"},
                                                    {"bias_hh", "x.bh"}};
          b.tensors["x.ih"] = {{96, 32}, std::vector<float>(96 * 32, 0.0f)};
          b.tensors["x.hh"] = {{96, 32}, std::vector<float>(96 * 32, 0.0f)};
          b.tensors["x.bi"] = {{96}, std::vector<float>(96, 0.0f)};
          b.tensors["x.bh"] = {{96}, std::vector<float>(96, 0.0f)};
        }) ==
        "grains model: graph 'grain_decoder' op 2 (gru): this graph takes linear, layer_norm, "
        "residual and activations only");
  CHECK(error_after([](B& b) { b.header["graphs"]["grain_decoder"].erase(6); }) ==
        "grains model: graph 'grain_decoder' must end in softplus (filter magnitudes H >= 0), "
        "not linear");
  // Too much work per hop for nine voices on the audio thread.
  test::GrainsSizes big;
  big.hidden = 2048;
  CHECK(error_after([](B&) {}, big)
            .find("multiply-adds per voice and hop, more than the limit of "
                  "8388608") != std::string::npos);

  // Metadata.
  auto meta = [](const char* key, nlohmann::json value) {
    return error_after([&](B& b) { b.header["metadata"][key] = value; });
  };
  CHECK(meta("sample_rate", 44100) ==
        "grains model: metadata 'sample_rate' is 44100, this engine needs 22050");
  CHECK(meta("bins", "1025") == "grains model: metadata has no 'bins' (expected 1025)");
  CHECK(meta("samples", 34815) ==
        "grains model: metadata 'samples' is 34815, but 65 grains make (g - 1) 512 + 2048 = 34816");
  CHECK(meta("grains", 0) ==
        "grains model: metadata 'grains' is 0, outside 1-1024 (grains per one-shot)");
  CHECK(meta("grains", 2.5).find("no whole number 'grains'") != std::string::npos);
  CHECK(meta("classes", nlohmann::json::array()) ==
        "grains model: metadata 'classes' must list 1-128 class names (the one-hot order)");
  CHECK(meta("classes", {"kick", "kick", "hat"}) ==
        "grains model: metadata 'classes' names 'kick' twice");
  CHECK(meta("window", "hann") ==
        "grains model: metadata 'window' is \"hann\", this engine implements "
        "\"hann_periodic_flat_ends\"");
  CHECK(meta("encoder_gain_folded", 1) ==
        "grains model: metadata 'encoder_gain_folded' must be true or false");
  CHECK(error_after([](B& b) { b.header["metadata"]["noise"]["seed"] = 0; }) ==
        "grains model: metadata 'noise' 'seed' must be a whole number 1-4294967295 (xorshift32 "
        "stays at 0)");
  CHECK(error_after([](B& b) { b.header["metadata"]["noise"]["generator"] = "mt19937"; }) ==
        "grains model: metadata 'noise' 'generator' is \"mt19937\", this engine implements "
        "\"xorshift32\"");
  CHECK(meta("post_processing", false) ==
        "grains model: metadata 'post_filter' holds 64 taps, but 'post_processing' is false");
  CHECK(meta("post_filter", std::vector<float>(1025, 0.0f)) ==
        "grains model: metadata 'post_filter' holds 1025 taps, expected 1-1024");
  CHECK(meta("post_filter", std::vector<float>{1.0f, 2e3f}) ==
        "grains model: metadata 'post_filter' holds 2000, outside +-1000");
  CHECK(error_after([](B& b) {
          b.header["metadata"]["grain_map"]["axes"][1] =
              b.header["metadata"]["grain_map"]["axes"][0];
        }) ==
        "grains model: metadata 'grain_map' 'axes' are zero or parallel: they must span a plane");
  CHECK(error_after([](B& b) {
          b.header["metadata"]["grain_map"]["extent"] = {1.0, -1.0, -1.0, 1.0};
        }) ==
        "grains model: metadata 'grain_map' 'extent' [x0, x1, y0, y1] needs x0 < x1 and y0 < y1");
  CHECK(error_after([](B& b) { b.header["metadata"]["grain_map"]["mean"][3] = nullptr; }) ==
        "grains model: metadata 'grain_map' 'mean' must hold only finite numbers");
  CHECK(error_after([](B& b) { b.header["metadata"]["grain_map"].erase("class_points"); }) ==
        "grains model: metadata 'grain_map' 'class_points' must hold one [x, y] per class (3)");
  CHECK(error_after([](B& b) { b.header["metadata"]["onset_centroids"].erase(0); }) ==
        "grains model: metadata 'onset_centroids' must hold 3 lists of 8 numbers (per class, the "
        "mean grain-0 latent: one list of latent numbers each)");
  CHECK(error_after([](B& b) { b.header["metadata"]["class_embeddings"][1].push_back(0.0); }) ==
        "grains model: metadata 'class_embeddings' entry must be a list of 8 numbers");
  CHECK(error_after([](B& b) { b.header["metadata"].erase("grain_map"); }) ==
        "grains model: metadata 'grain_map' (mean, axes, extent, class_points of the grain "
        "plane) is missing");

  // A pitched model's metadata (c = [one-hot, pitch code]).
  const nlohmann::json pitch = {{"code", "gaussian_bumps"}, {"centres", {48, 60}}, {"width", 6}};
  const nlohmann::json rows = {{40, 45, 52}, {55, 62, 69}, {70, 74, 88}};
  auto pitched = [&](nlohmann::json conditioning, nlohmann::json class_pitches) {
    return error_after([&](B& b) {
      b.header["metadata"]["pitch_conditioning"] = conditioning;
      if (!class_pitches.is_null()) b.header["metadata"]["class_pitches"] = class_pitches;
    });
  };
  // The drum test model's graphs take [z, 3 classes]: two more conditioning values do not fit.
  CHECK(pitched(pitch, rows) ==
        "grains model: graph 'grain_decoder' maps 11 -> 1025 values, expected 13 -> 1025 ([z, c] "
        "-> 1025 filter magnitudes)");
  CHECK(pitched(pitch, nullptr) ==
        "grains model: metadata 'class_pitches' must hold 3 lists of 3 numbers (per class, its "
        "lowest, typical and highest MIDI pitch)");
  CHECK(pitched(pitch, {{40, 45, 52}, {55, 70, 69}, {70, 74, 88}}) ==
        "grains model: metadata 'class_pitches' rows must be MIDI pitches with 0 <= lo <= typical "
        "<= hi <= 127");
  CHECK(pitched({{"code", "one_number"}, {"centres", {60}}, {"width", 6}}, rows) ==
        "grains model: metadata 'pitch_conditioning' 'code' is \"one_number\", this engine "
        "implements \"gaussian_bumps\"");
  CHECK(pitched({{"code", "gaussian_bumps"}, {"centres", {60, 200}}, {"width", 6}}, rows) ==
        "grains model: metadata 'pitch_conditioning' 'centres' holds 200, outside +-127");
  CHECK(pitched({{"code", "gaussian_bumps"}, {"centres", {60}}, {"width", 0}}, rows) ==
        "grains model: metadata 'pitch_conditioning' 'width' must be a number of semitones in "
        "(0, 48]");
  CHECK(error_after([&](B& b) { b.header["metadata"]["class_pitches"] = rows; }) ==
        "grains model: metadata 'class_pitches' without 'pitch_conditioning'");
}

TEST_CASE("GrainsModel primitives match the graphs run frame by frame", "[grains]") {
  const auto bytes = test::grains_test_model_bytes();
  auto model = load(bytes);
  // A second copy of the file, its graphs run directly.
  auto file = nn::load_model(bytes.data(), bytes.size());
  REQUIRE(file.model);
  nn::Model& graphs = *file.model;
  const int dz = 8, de = 8, c = 3;

  std::vector<float> zc = {0.3f, -0.2f, 0.5f, 0.1f, -0.7f, 0.2f, 0.0f, 0.4f, 0.0f, 1.0f, 0.0f};
  std::vector<float> h(GrainsModel::kBins), want(GrainsModel::kBins);
  model->decode_filter(zc.data(), h.data());
  graphs.graph("grain_decoder").step(zc.data(), want.data());
  for (int k = 0; k < GrainsModel::kBins; ++k) {
    REQUIRE(h[size_t(k)] >= 0.0f);
    REQUIRE(h[size_t(k)] == Approx(want[size_t(k)]).margin(1e-6));
  }

  // Sequence decoder: five steps with the caller's state equal the graph's streaming steps.
  std::vector<float> ec = {0.1f, 0.9f, -0.3f, 0.4f, 0.0f, -1.2f, 0.6f, 0.2f, 0.5f, 0.5f, 0.0f};
  REQUIRE(int(ec.size()) == de + c);
  std::vector<float> projected(3 * 16), state(16, 0.0f), z(dz), z_want(dz);
  model->sequence_input(ec.data(), projected.data());
  graphs.graph("sequence_decoder").reset();
  for (int t = 0; t < 5; ++t) {
    model->sequence_step(projected.data(), state.data(), z.data());
    graphs.graph("sequence_decoder").step(ec.data(), z_want.data());
    for (int d = 0; d < dz; ++d) REQUIRE(z[size_t(d)] == Approx(z_want[size_t(d)]).margin(1e-5));
  }

  // Grain encoder: the allocation-free runner equals Graph::forward over the grain.
  std::vector<float> grain(GrainsModel::kGrain), window(GrainsModel::kGrain);
  GrainsModel::grain_window(true, false, window.data());
  CHECK(window[0] == 1.0f);
  CHECK(window[1023] == 1.0f);
  CHECK(window[1536] == Approx(0.5f).margin(1e-6));
  std::uint32_t s = 12345;
  for (int m = 0; m < GrainsModel::kGrain; ++m) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    grain[size_t(m)] =
        window[size_t(m)] * 0.3f * (float(s >> 8) / 8388608.0f - 1.0f) * std::exp(-m / 400.0f);
  }
  std::vector<float> mu(dz), logvar(dz);
  {
    test::AllocationCounter counter;
    model->encode_grain(grain.data(), mu.data(), logvar.data());
    model->decode_filter(zc.data(), h.data());
    model->sequence_step(projected.data(), state.data(), z.data());
    CHECK(counter.count() == 0);
  }
  nn::Sequence in(GrainsModel::kGrain, 1);
  std::copy(grain.begin(), grain.end(), in.data.begin());
  const nn::Sequence out = graphs.graph("grain_encoder").forward(in);
  REQUIRE(out.frames == 1);
  REQUIRE(out.channels == 2 * dz);
  for (int d = 0; d < dz; ++d) {
    CHECK(mu[size_t(d)] == Approx(out.data[size_t(d)]).margin(1e-5));
    CHECK(logvar[size_t(d)] ==
          Approx(std::clamp(out.data[size_t(dz + d)], -12.0f, 6.0f)).margin(1e-5));
  }
  // The same grain encoded twice gives the same mu (the runner resets its layers).
  std::vector<float> again(dz);
  model->encode_grain(grain.data(), again.data(), nullptr);
  CHECK(again == mu);

  // Onset centroids: each centroid is its own nearest class.
  for (int k = 0; k < c; ++k) CHECK(model->nearest_onset_class(model->onset_centroid(k)) == k);
  // The map: (x, y) -> z -> (x, y).
  std::vector<float> zp(dz);
  model->map_point(0.25f, -0.5f, zp.data());
  float x = 0, y = 0;
  model->map_coordinates(zp.data(), &x, &y);
  CHECK(x == Approx(0.25f).margin(1e-6));
  CHECK(y == Approx(-0.5f).margin(1e-6));
}

TEST_CASE("GrainsModel: a file with the encoder gain not folded gets it at encode time",
          "[grains]") {
  test::GrainsModelBuilder folded_builder({});
  folded_builder.build();
  auto folded = load(folded_builder.bytes());
  // The same weights, the first convolution divided by 1000 and the gain left to the engine.
  test::GrainsModelBuilder builder({});
  builder.build();
  for (float& w : builder.tensors["grain_encoder.0.weight"].data) w /= 1000.0f;
  builder.header["metadata"]["encoder_gain_folded"] = false;
  auto unfolded = load(builder.bytes());
  std::vector<float> grain(GrainsModel::kGrain);
  for (int m = 0; m < GrainsModel::kGrain; ++m) grain[size_t(m)] = 0.01f * std::sin(0.05f * m);
  std::vector<float> a(8), b(8);
  folded->encode_grain(grain.data(), a.data(), nullptr);
  unfolded->encode_grain(grain.data(), b.data(), nullptr);
  for (int d = 0; d < 8; ++d) CHECK(b[size_t(d)] == Approx(a[size_t(d)]).margin(1e-4));
}

TEST_CASE("GrainsModel::encode_clip: per-grain mu, the embedding and the onset class", "[grains]") {
  auto model = load(test::grains_test_model_bytes());
  std::vector<float> audio(30000);
  for (size_t i = 0; i < audio.size(); ++i)
    audio[i] = 0.5f * std::exp(-float(i) / 3000.0f) * std::sin(0.07f * float(i));
  const auto clip = model->encode_clip(audio.data(), audio.size(), nullptr);
  CHECK(clip.grains == 65);
  CHECK(clip.mu.size() == 65 * 8);
  CHECK(clip.mu_e.size() == 8);
  CHECK(clip.logvar_e.size() == 8);
  CHECK(clip.onset_class == model->nearest_onset_class(clip.mu.data()));
  for (float v : clip.mu_e) CHECK(std::isfinite(v));
  for (float v : clip.logvar_e) CHECK((v >= -12.0f && v <= 6.0f));
  // Grain 1 is the audio's samples 512..2559 under a Hann window.
  std::vector<float> grain(GrainsModel::kGrain), window(GrainsModel::kGrain), mu(8);
  GrainsModel::grain_window(false, false, window.data());
  for (int m = 0; m < GrainsModel::kGrain; ++m)
    grain[size_t(m)] = window[size_t(m)] * audio[size_t(512 + m)];
  model->encode_grain(grain.data(), mu.data(), nullptr);
  for (int d = 0; d < 8; ++d) CHECK(clip.mu[size_t(8 + d)] == mu[size_t(d)]);
}
