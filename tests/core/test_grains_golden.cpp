// The core's grains engine against the PyTorch side's golden files
// (tests/golden/grains, `python -m timbrel.golden --only grains`; docs/grains.md
// "Golden files"): a hit with and without the post-filter, the sequence
// decoder's latents, the grain path, the grain encoder and its nearest onset
// centroid, the path voice; offline and through the live engine. Tolerance:
// the manifest's, max |got - want| <= rel_to_peak max |want| + abs per file.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "npy.h"
#include "timbrel/engine/grain_synth.h"
#include "timbrel/models/grains.h"

using namespace timbrel;
using engine::GrainSynth;
using models::GrainsModel;

namespace {

std::string grains_golden(const std::string& name) {
  return std::string(TIMBREL_GOLDEN_DIR) + "/grains/" + name;
}

const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream file(grains_golden("manifest.json"));
    REQUIRE(file);
    return nlohmann::json::parse(file);
  }();
  return m;
}

std::unique_ptr<GrainsModel> golden_model(const std::string& name) {
  auto loaded = GrainsModel::load_file(grains_golden(name));
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

std::vector<float> floats(const std::string& name) {
  const auto a = test::read_npy(grains_golden(name + ".npy"));
  return std::vector<float>(a.values.begin(), a.values.end());
}

// max |got - want| <= rel_to_peak max |want| + abs, with the manifest's tolerance `kind`.
void check_close(const float* got, const std::vector<float>& want, const char* kind,
                 const std::string& what) {
  const auto& tol = manifest()["tolerances"][kind];
  double peak = 0.0, worst = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    REQUIRE(std::isfinite(got[i]));
    peak = std::max(peak, std::fabs(double(want[i])));
    worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
  }
  const double bound = tol["rel_to_peak"].get<double>() * peak + tol["abs"].get<double>();
  INFO(what << ": max difference " << worst << " (bound " << bound << ", peak " << peak << ")");
  CHECK(worst <= bound);
  CHECK(peak > 0.0);
}

}  // namespace

TEST_CASE("Golden grains: the files load and hold the manifest's sizes", "[grains][golden]") {
  auto pp = golden_model("model_pp.tmbl");
  auto fi = golden_model("model_fi.tmbl");
  const auto& sizes = manifest()["sizes"];
  CHECK(pp->latent() == sizes["latent"].get<int>());
  CHECK(pp->embedding() == sizes["embedding"].get<int>());
  CHECK(pp->grains() == sizes["grains"].get<int>());
  CHECK(pp->samples() == sizes["samples"].get<int>());
  CHECK(pp->class_names() == sizes["classes"].get<std::vector<std::string>>());
  CHECK(int(pp->post_filter().size()) == sizes["post_filter_taps"].get<int>());
  CHECK(fi->post_filter().empty());
  CHECK(pp->noise_seed() == manifest()["noise_seed"].get<std::uint32_t>());
}

TEST_CASE("Golden grains: a hit, its latents, the grain path and the path voice offline",
          "[grains][golden]") {
  auto pp = golden_model("model_pp.tmbl");
  auto fi = golden_model("model_fi.tmbl");
  const auto e = floats("hit_embedding"), c = floats("hit_condition");
  const std::uint32_t seed = pp->noise_seed();
  check_close(engine::render_hit(*pp, e.data(), c.data(), seed).data(), floats("hit_pp"), "audio",
              "hit_pp");
  check_close(engine::render_hit(*fi, e.data(), c.data(), seed).data(), floats("hit_fi"), "audio",
              "hit_fi");

  // The sequence decoder's z^_t, step by step from a zero state.
  const auto want_z = floats("hit_z");
  std::vector<float> ec(e), projected(size_t(3 * pp->sequence_hidden())),
      h(size_t(pp->sequence_hidden()), 0.0f), z(size_t(pp->latent())), got_z;
  ec.insert(ec.end(), c.begin(), c.end());
  pp->sequence_input(ec.data(), projected.data());
  for (int t = 0; t < pp->grains(); ++t) {
    pp->sequence_step(projected.data(), h.data(), z.data());
    got_z.insert(got_z.end(), z.begin(), z.end());
  }
  REQUIRE(got_z.size() == want_z.size());
  check_close(got_z.data(), want_z, "latents", "hit_z");

  const auto gz = floats("grain_path_z"), gc = floats("grain_path_condition");
  check_close(engine::render_grains(*pp, gz.data(), gc.data(), seed).data(),
              floats("grain_path_pp"), "audio", "grain_path_pp");

  const auto xy = floats("path_xy"), pc = floats("path_condition");
  const int path_class = int(std::max_element(pc.begin(), pc.end()) - pc.begin());
  const int hops = int(xy.size() / 2);
  check_close(engine::render_path(*pp, xy.data(), hops, path_class, seed).data(), floats("path_pp"),
              "audio", "path_pp");
}

TEST_CASE("Golden grains: the grain encoder's output and nearest onset class", "[grains][golden]") {
  auto pp = golden_model("model_pp.tmbl");
  const auto grains = test::read_npy(grains_golden("encoder_grains.npy"));
  const auto output = test::read_npy(grains_golden("encoder_output.npy"));
  const auto nearest = test::read_npy(grains_golden("encoder_nearest_class.npy"));
  const size_t dz = size_t(pp->latent());
  REQUIRE(grains.columns() == size_t(GrainsModel::kGrain));
  REQUIRE(output.columns() == 2 * dz);
  std::vector<float> got, want;
  for (size_t r = 0; r < grains.rows(); ++r) {
    std::vector<float> grain(grains.values.begin() + long(r * grains.columns()),
                             grains.values.begin() + long((r + 1) * grains.columns()));
    std::vector<float> mu(dz), logvar(dz);
    pp->encode_grain(grain.data(), mu.data(), logvar.data());
    got.insert(got.end(), mu.begin(), mu.end());
    got.insert(got.end(), logvar.begin(), logvar.end());
    for (size_t d = 0; d < 2 * dz; ++d) {
      const float v = float(output.at(r, d));
      want.push_back(d < dz ? v : std::clamp(v, -12.0f, 6.0f));  // the core clamps log σ²
    }
    CHECK(pp->nearest_onset_class(mu.data()) == int(nearest.values[r]));
  }
  check_close(got.data(), want, "encoder", "encoder_output");
}

TEST_CASE("Golden grains: the live engine plays the golden hit and path voice",
          "[grains][golden]") {
  auto pp = golden_model("model_pp.tmbl");
  const auto e = floats("hit_embedding"), c = floats("hit_condition");
  const auto hit_pp = floats("hit_pp");
  GrainSynth synth(*pp);
  REQUIRE(synth.prepare(22050.0, 512) == "");
  engine::GrainHit hit;
  hit.class_a = hit.class_b = int(std::max_element(c.begin(), c.end()) - c.begin());
  hit.embedding = e.data();
  hit.seed = engine::kNoiseStreams;  // noise stream 0: the model's noise seed, the golden's
  hit.offset = 100;
  const int start = 100 + GrainSynth::kSchedulingDelay;
  std::vector<float> out(size_t(start) + hit_pp.size() + 512, 0.0f);
  synth.trigger(hit);
  for (size_t at = 0; at < out.size(); at += 128)
    synth.process(out.data() + at, int(std::min<size_t>(128, out.size() - at)));
  check_close(out.data() + start, hit_pp, "audio", "live hit");

  // The path voice, one point per hop (blocks of one hop at 22050 Hz line up with its hops).
  const auto xy = floats("path_xy"), pc = floats("path_condition");
  const int path_class = int(std::max_element(pc.begin(), pc.end()) - pc.begin());
  GrainSynth path(*pp);
  REQUIRE(path.prepare(22050.0, 512) == "");
  std::vector<float> y(xy.size() / 2 * 512);
  for (size_t t = 0; t < xy.size() / 2; ++t) {
    path.set_path(true, xy[2 * t], xy[2 * t + 1], path_class, 1.0f);
    path.process(y.data() + t * 512, 512);
  }
  check_close(y.data(), floats("path_pp"), "audio", "live path");
}

TEST_CASE("Golden grains: a pitched model's conditioning and hits, offline and live",
          "[grains][golden]") {
  auto drums = golden_model("model_pp.tmbl");
  CHECK_FALSE(drums->pitched());
  CHECK(drums->conditions() == drums->classes());
  auto model = golden_model("model_pitched.tmbl");
  const auto& info = manifest()["pitched"];
  REQUIRE(model->pitched());
  CHECK(model->pitch_centres() == info["centres"].get<std::vector<float>>());
  CHECK(model->pitch_width() == info["width"].get<float>());
  CHECK(model->conditions() == model->classes() + int(model->pitch_centres().size()));
  const int k = info["class"].get<int>();
  const float pitch = info["pitch"].get<float>();
  CHECK(model->class_pitches(k)[1] == info["typical_pitch"].get<float>());

  // condition() gives the golden c (float32 exp against numpy's float64, rounded).
  const auto want_c = floats("pitched_condition");
  std::vector<float> c(size_t(model->conditions()));
  model->condition(k, k, 0.0f, pitch, c.data());
  REQUIRE(c.size() == want_c.size());
  for (size_t i = 0; i < c.size(); ++i) CHECK(c[i] == Approx(want_c[i]).margin(1e-6));

  const auto e = floats("pitched_embedding");
  const std::uint32_t seed = model->noise_seed();
  check_close(engine::render_hit(*model, e.data(), c.data(), seed).data(), floats("pitched_hit"),
              "audio", "pitched_hit");

  // The engine's hit: GrainHit::pitch, and -1 = the class's typical pitch.
  for (const float p : {pitch, -1.0f}) {
    engine::GrainHit hit;
    hit.class_a = hit.class_b = k;
    hit.embedding = e.data();
    hit.pitch = p;
    hit.seed = engine::kNoiseStreams;  // stream 0
    const auto want = floats(p < 0.0f ? "pitched_hit_typical" : "pitched_hit");
    check_close(engine::render_hit(*model, hit).data(), want, "audio", "render_hit");
    GrainSynth synth(*model);
    REQUIRE(synth.prepare(22050.0, 512) == "");
    std::vector<float> out(size_t(GrainSynth::kSchedulingDelay) + want.size() + 512, 0.0f);
    synth.trigger(hit);
    for (size_t at = 0; at < out.size(); at += 128)
      synth.process(out.data() + at, int(std::min<size_t>(128, out.size() - at)));
    check_close(out.data() + GrainSynth::kSchedulingDelay, want, "audio", "live pitched hit");
  }
}
