#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "crossmodal_test_model.h"
#include "npy.h"
#include "timbrel/models/crossmodal_vae.h"

using namespace timbrel;
namespace fs = std::filesystem;
using models::CrossmodalVae;
using models::NoteLabel;

namespace {

std::vector<std::uint8_t> file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string load_error(const std::vector<std::uint8_t>& bytes) {
  auto loaded = CrossmodalVae::load(bytes.data(), bytes.size());
  return loaded.model ? "" : loaded.error;
}

// The solo golden model with its header edited by `edit`: load()'s error.
template <typename Edit>
std::string error_after(Edit edit, const std::string& which = "solo") {
  const auto bytes = file_bytes(test::crossmodal_golden_dir() / which / "model.tmbl");
  auto header = test::tmbl_header(bytes);
  edit(header);
  return load_error(test::with_header(bytes, header));
}

struct Tolerance {
  double relative = 1e-5, absolute = 1e-5;
};

Tolerance read_tolerance() {
  std::ifstream in(test::crossmodal_golden_dir() / "meta.json");
  REQUIRE(in);
  const auto meta = nlohmann::json::parse(in);
  return {meta["tolerance"]["rel_to_peak"].get<double>(), meta["tolerance"]["abs"].get<double>()};
}

// max |got - want| over a whole array, and the allowed bound for it.
void check_close(const std::vector<float>& got, const test::NpyArray& want, const Tolerance& tol,
                 const std::string& what) {
  REQUIRE(got.size() == want.values.size());
  double peak = 0.0, worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    peak = std::max(peak, std::fabs(want.values[i]));
    worst = std::max(worst, std::fabs(double(got[i]) - want.values[i]));
  }
  const double bound = tol.relative * peak + tol.absolute;
  INFO(what << ": max |core - PyTorch| = " << worst << ", bound " << bound << " (peak " << peak
            << ")");
  CHECK(worst <= bound);
  CHECK(peak > 0.0);  // the comparison is not vacuous
}

}  // namespace

TEST_CASE("CrossmodalVae matches the PyTorch golden outputs of all four graphs",
          "[crossmodal][golden]") {
  const fs::path root = test::crossmodal_golden_dir();
  if (!fs::is_directory(root))
    FAIL("crossmodal golden folder " << root.string()
                                     << " is missing: PYTHONPATH=scripts /usr/bin/python3 -m "
                                        "timbrel.golden --only crossmodal writes it");
  const Tolerance tol = read_tolerance();
  for (const std::string which : {"solo", "mixture"}) {
    SECTION(which) {
      const fs::path dir = root / which;
      auto model = test::load_crossmodal_golden(which);
      const int m = which == "solo" ? 1 : 2;
      REQUIRE(model->instruments() == m);
      REQUIRE(model->symbols() == 24 * m);
      auto read = [&](const char* file) { return test::read_npy((dir / file).string()); };
      constexpr int D = CrossmodalVae::kLatent;

      const auto features = read("features.npy");
      REQUIRE(features.columns() == size_t(CrossmodalVae::kBins));
      std::vector<float> mean(features.rows() * D), logvar(features.rows() * D);
      for (size_t f = 0; f < features.rows(); ++f) {
        std::vector<float> x(features.values.begin() + long(f * features.columns()),
                             features.values.begin() + long((f + 1) * features.columns()));
        model->encode_signal(x.data(), &mean[f * D], &logvar[f * D]);
      }
      check_close(mean, read("signal_mean.npy"), tol, "signal_encoder mean");
      check_close(logvar, read("signal_logvar.npy"), tol, "signal_encoder log-variance");

      const auto z = read("z.npy");
      std::vector<float> decoded(z.rows() * CrossmodalVae::kBins), logits(z.rows() * 24 * m);
      for (size_t r = 0; r < z.rows(); ++r) {
        std::vector<float> zr(z.values.begin() + long(r * D), z.values.begin() + long((r + 1) * D));
        model->decode_signal(zr.data(), &decoded[r * CrossmodalVae::kBins]);
        model->decode_symbols(zr.data(), &logits[r * 24 * size_t(m)]);
      }
      check_close(decoded, read("decoded_features.npy"), tol, "signal_decoder");
      check_close(logits, read("logits.npy"), tol, "symbol_decoder");

      // Argmax labels exactly, confidences to the tolerance.
      const auto want_labels = read("decoded_labels.npy");
      const auto want_confidence = read("confidence.npy");
      std::vector<float> confidence(z.rows() * size_t(m));
      for (size_t r = 0; r < z.rows(); ++r) {
        NoteLabel labels[2];
        model->labels_from_logits(&logits[r * 24 * size_t(m)], labels, &confidence[r * size_t(m)]);
        for (int i = 0; i < m; ++i) {
          const size_t at = (r * size_t(m) + size_t(i)) * 3;
          INFO("z row " << r << ", instrument " << i);
          CHECK(labels[i].pitch_class == int(want_labels.values[at]));
          CHECK(labels[i].octave == int(want_labels.values[at + 1]));
          CHECK(labels[i].dynamics == int(want_labels.values[at + 2]));
        }
      }
      check_close(confidence, want_confidence, tol, "confidence");

      // The one-hot the core builds is the golden one, and encodes like it.
      const auto labels = read("labels.npy");
      const auto want_hot = read("one_hot.npy");
      REQUIRE(labels.rows() == want_hot.rows());
      std::vector<float> hot(labels.rows() * 24 * size_t(m));
      std::vector<float> symbol_mean(labels.rows() * D), symbol_logvar(labels.rows() * D);
      for (size_t r = 0; r < labels.rows(); ++r) {
        NoteLabel l[2];
        for (int i = 0; i < m; ++i) {
          const size_t at = (r * size_t(m) + size_t(i)) * 3;
          l[i] = {int(labels.values[at]), int(labels.values[at + 1]), int(labels.values[at + 2])};
        }
        model->one_hot(l, &hot[r * 24 * size_t(m)]);
        model->encode_symbols(&hot[r * 24 * size_t(m)], &symbol_mean[r * D], &symbol_logvar[r * D]);
      }
      for (size_t i = 0; i < hot.size(); ++i) REQUIRE(hot[i] == float(want_hot.values[i]));
      check_close(symbol_mean, read("symbol_mean.npy"), tol, "symbol_encoder mean");
      check_close(symbol_logvar, read("symbol_logvar.npy"), tol, "symbol_encoder log-variance");
    }
  }
}

TEST_CASE("CrossmodalVae reads the description from the metadata", "[crossmodal]") {
  auto solo = test::load_crossmodal_golden("solo");
  CHECK(solo->instrument_names() == std::vector<std::string>{"violin"});
  CHECK(solo->pitch_range(0) == std::pair<int, int>{55, 96});
  CHECK(solo->dynamics_velocity() == std::vector<int>{40, 80, 120});
  CHECK_THROWS_AS(solo->pitch_range(1), std::out_of_range);
  auto mixture = test::load_crossmodal_golden("mixture");
  CHECK(mixture->instrument_names() == std::vector<std::string>{"alto_sax", "violin"});
  CHECK(mixture->pitch_range(0) == std::pair<int, int>{49, 81});
  CHECK(mixture->pitch_range(1) == std::pair<int, int>{55, 96});

  // The XY pad: z = mean + x axes[0] + y axes[1].
  auto oracle = test::load_oracle_model();
  const auto& p = oracle->latent_projection();
  CHECK(p.extent[0][0] == 0.0f);
  CHECK(p.extent[1][1] == 1.0f);
  float z[CrossmodalVae::kLatent];
  oracle->latent_from_point(1.0f, 0.0f, z);
  const auto g4 = test::oracle_one_hot(67, 1);
  for (int i = 0; i < CrossmodalVae::kLatent; ++i)
    CHECK(z[i] == Approx(g4[size_t(i)]).margin(1e-6));
  oracle->latent_from_point(0.0f, 1.0f, z);
  const auto c4ff = test::oracle_one_hot(60, 2);
  for (int i = 0; i < CrossmodalVae::kLatent; ++i)
    CHECK(z[i] == Approx(c4ff[size_t(i)]).margin(1e-6));
}

TEST_CASE("Labels: MIDI pitch and velocity to (pitch class, octave, dynamics) and back",
          "[crossmodal]") {
  const std::vector<int> velocities = {40, 80, 120};
  const auto a0 = models::label_from_midi(21, 101, velocities);
  CHECK(a0.pitch_class == 9);
  CHECK(a0.octave == 0);
  CHECK(a0.dynamics == 2);  // 101 is nearer 120 than 80
  const auto c8 = models::label_from_midi(108, 10, velocities);
  CHECK(c8.pitch_class == 0);
  CHECK(c8.octave == 8);
  CHECK(c8.dynamics == 0);
  CHECK(models::label_from_midi(60, 60, velocities).dynamics == 0);   // tie 40/80: the softer
  CHECK(models::label_from_midi(60, 100, velocities).dynamics == 1);  // tie 80/120
  CHECK(models::label_from_midi(60, 61, velocities).dynamics == 1);
  CHECK(models::label_from_midi(69, 127, velocities).dynamics == 2);
  for (int pitch = 12; pitch <= 119; ++pitch)
    CHECK(models::midi_from_label(models::label_from_midi(pitch, 80, velocities)) == pitch);
  // Outside octaves 0-8 the octave is clamped.
  CHECK(models::label_from_midi(5, 80, velocities).octave == 0);
  CHECK(models::label_from_midi(127, 80, velocities).octave == 8);
}

TEST_CASE("CrossmodalVae one-hot and labels_from_logits round-trip on the oracle model",
          "[crossmodal]") {
  auto model = test::load_oracle_model();
  float hot[24], mean[32], logvar[32], logits[24], confidence = 0.0f;
  for (int pitch = 48; pitch <= 84; pitch += 5)
    for (int d = 0; d < 3; ++d) {
      const NoteLabel label{pitch % 12, pitch / 12 - 1, d};
      model->one_hot(&label, hot);
      CHECK(std::count(hot, hot + 24, 1.0f) == 3);
      CHECK(std::count(hot, hot + 24, 0.0f) == 21);
      model->encode_symbols(hot, mean, logvar);
      CHECK(logvar[0] == test::kOracleLogvar);
      model->decode_symbols(mean, logits);
      NoteLabel back{};
      model->labels_from_logits(logits, &back, &confidence);
      CHECK(midi_from_label(back) == pitch);
      CHECK(back.dynamics == d);
      // Each winner has logit 10 against 0: p = e^10 / (e^10 + n - 1) per group.
      const double want = std::exp(10.0) / (std::exp(10.0) + 11) * std::exp(10.0) /
                          (std::exp(10.0) + 8) * std::exp(10.0) / (std::exp(10.0) + 2);
      CHECK(confidence == Approx(want).epsilon(1e-6));
    }
}

TEST_CASE("CrossmodalVae per-frame calls do not allocate", "[crossmodal][realtime]") {
  auto model = test::load_crossmodal_golden("mixture");
  std::vector<float> features(CrossmodalVae::kBins, 1.0f), z(32, 0.1f), mean(32), logvar(32);
  std::vector<float> out(CrossmodalVae::kBins), hot(48), logits(48), confidence(2);
  NoteLabel labels[2] = {{1, 4, 0}, {7, 5, 2}};
  test::AllocationCounter counter;
  model->encode_signal(features.data(), mean.data(), logvar.data());
  model->decode_signal(z.data(), out.data());
  model->one_hot(labels, hot.data());
  model->encode_symbols(hot.data(), mean.data(), logvar.data());
  model->decode_symbols(z.data(), logits.data());
  model->labels_from_logits(logits.data(), labels, confidence.data());
  model->latent_from_point(0.3f, -0.2f, z.data());
  CHECK(counter.count() == 0);
}

TEST_CASE("CrossmodalVae rejects models that break the contract, naming the problem",
          "[crossmodal][errors]") {
  using nlohmann::json;
  // Another family.
  CHECK_THAT(error_after([](json& h) { h["family"] = "gmvae"; }),
             Catch::Contains("model has no 'pitch_encoder' graph"));
  {
    auto vq = file_bytes(fs::path(TIMBREL_GOLDEN_DIR) / "vq" / "model.tmbl");
    CHECK_THAT(load_error(vq),
               Catch::Contains("model family is 'vq_timbre', not 'crossmodal_vae'"));
  }
  CHECK_THAT(error_after([](json& h) { h["metadata"]["window"] = 1024; }),
             Catch::Contains("metadata 'window' is 1024, this engine needs 2048"));
  CHECK_THAT(error_after([](json& h) { h["metadata"].erase("n_bins"); }),
             Catch::Contains("metadata has no 'n_bins' (expected 409)"));
  CHECK_THAT(error_after([](json& h) { h["metadata"]["f_min"] = 27.5; }),
             Catch::Contains("metadata 'f_min' is 27.5"));
  CHECK_THAT(error_after([](json& h) { h["metadata"]["instruments"] = json::array(); }),
             Catch::Contains("'instruments' must be a non-empty list"));
  CHECK_THAT(error_after([](json& h) { h["metadata"]["octaves"] = {0, 1, 2, 3, 4, 5, 6, 7}; }),
             Catch::Contains("'octaves' must be [0, 1, ..., 8]"));
  CHECK_THAT(error_after([](json& h) {
               h["metadata"]["dynamics"] = {"p", "f"};
             }),
             Catch::Contains("'dynamics' must be"));
  CHECK_THAT(error_after([](json& h) {
               h["metadata"]["dynamics_velocity"] = {80, 40, 120};
             }),
             Catch::Contains("'dynamics_velocity' must be 3 ascending MIDI velocities"));
  CHECK_THAT(error_after([](json& h) {
               h["metadata"]["pitch_ranges"] = {{55, 130}};
             }),
             Catch::Contains("pitch range [55, 130] is out of range"));
  CHECK_THAT(error_after([](json& h) {
               h["metadata"]["pitch_ranges"] = {{55, 96}, {40, 60}};
             }),
             Catch::Contains("one [low, high] MIDI pair per instrument (1)"));
  CHECK_THAT(error_after([](json& h) { h["metadata"].erase("latent_projection"); }),
             Catch::Contains("'latent_projection' (mean, axes, extent of the XY pad) is missing"));
  CHECK_THAT(error_after([](json& h) { h["metadata"]["latent_projection"]["axes"].erase(1); }),
             Catch::Contains("'axes' must be two lists of 32 numbers"));
  CHECK_THAT(error_after([](json& h) {
               h["metadata"]["latent_projection"]["extent"][0] = {1.0, -1.0};
             }),
             Catch::Contains("extent [1, -1] is empty"));
  // A mixture's graphs read 48 symbols: with one instrument named they do not fit.
  CHECK_THAT(error_after(
                 [](json& h) {
                   h["metadata"]["instruments"] = {"violin"};
                   h["metadata"]["pitch_ranges"] = {{55, 96}};
                 },
                 "mixture"),
             Catch::Contains("graph 'symbol_encoder' maps 48 -> 64 values, expected 24 -> 64 (1 "
                             "instrument, latent 32)"));
  // Graphs with state would mix unrelated frames.
  CHECK_THAT(error_after([](json& h) {
               h["graphs"]["symbol_decoder"].push_back({{"op", "flatten"}, {"frames", 1}});
             }),
             Catch::Contains("graph 'symbol_decoder' must be pointwise in time"));
  // The unedited file loads.
  CHECK(error_after([](json&) {}).empty());
  CHECK_THROWS_WITH(CrossmodalVae(nullptr), Catch::Contains("no model"));
}
