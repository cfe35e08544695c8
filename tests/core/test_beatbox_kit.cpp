// The beat-box kit (engine/grain_synth.h, docs/grains.md "Beat-box kit"): the
// three vocal sounds told apart by what they are made of (a low thump, a
// noise burst, a mid-band click), allocation-free; the default kit by class
// names and its fallbacks; the live engine plays the class the kit gives the
// sound it heard.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "grains_test_model.h"
#include "timbrel/engine/grain_synth.h"

using namespace timbrel;
using engine::BeatboxKit;
using engine::VocalSoundClassifier;
using models::GrainsModel;

namespace {

constexpr double kRate = 22050.0;
constexpr double kPi = 3.141592653589793;

// A kick-like thump: a sine falling from 150 to 50 Hz, decaying over 80 ms.
std::vector<float> thump(size_t n) {
  std::vector<float> x(n);
  double phase = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / kRate;
    phase += 2.0 * kPi * (50.0 + 100.0 * std::exp(-t / 0.03)) / kRate;
    x[i] = float(0.6 * std::exp(-t / 0.08) * std::sin(phase));
  }
  return x;
}

// White noise through a one-pole high-pass at ~5 kHz, decaying over 30 ms: a "tss".
std::vector<float> hiss(size_t n) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n);
  const double a = std::exp(-2.0 * kPi * 5000.0 / kRate);
  double previous_in = 0.0, y = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double in = u(rng);
    y = a * (y + in - previous_in);
    previous_in = in;
    x[i] = float(0.8 * std::exp(-double(i) / (0.03 * kRate)) * y);
  }
  return x;
}

// A "ka"-like click: noise through a two-pole resonator at 1.5 kHz (Q ~ 2), decaying over 15 ms.
std::vector<float> click(size_t n) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n);
  const double r = std::exp(-kPi * 750.0 / kRate), w = 2.0 * kPi * 1500.0 / kRate;
  double y1 = 0.0, y2 = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double y = u(rng) + 2.0 * r * std::cos(w) * y1 - r * r * y2;
    y2 = y1;
    y1 = y;
    x[i] = float(0.1 * std::exp(-double(i) / (0.015 * kRate)) * y);
  }
  return x;
}

std::unique_ptr<GrainsModel> load(const std::vector<std::uint8_t>& bytes) {
  auto loaded = GrainsModel::load(bytes.data(), bytes.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

}  // namespace

TEST_CASE("VocalSoundClassifier: a low thump is a boom, a hiss a tss, a mid click a ka",
          "[beatbox_kit][realtime]") {
  VocalSoundClassifier classifier;
  const auto a = thump(2048), b = hiss(2048), c = click(2048);
  engine::VocalSoundFeatures fa, fb, fc;
  engine::BeatboxSound sa, sb, sc;
  {
    test::AllocationCounter counter;
    fa = classifier.analyse(a.data());
    fb = classifier.analyse(b.data());
    fc = classifier.analyse(c.data());
    sa = VocalSoundClassifier::sound_of(fa);
    sb = VocalSoundClassifier::sound_of(fb);
    sc = classifier.classify(c.data());
    CHECK(counter.count() == 0);
  }
  INFO("thump: low " << fa.low_share << " high " << fa.high_share << " flatness " << fa.flatness
                     << " centroid " << fa.centroid_hz);
  INFO("hiss: low " << fb.low_share << " high " << fb.high_share << " flatness " << fb.flatness
                    << " centroid " << fb.centroid_hz);
  INFO("click: low " << fc.low_share << " high " << fc.high_share << " flatness " << fc.flatness
                     << " centroid " << fc.centroid_hz);
  CHECK(sa == engine::kBoom);
  CHECK(sb == engine::kTss);
  CHECK(sc == engine::kKa);
  CHECK(fa.low_share > 0.5f);
  CHECK(fb.high_share > 0.5f);
  CHECK(fc.centroid_hz > 1000.0f);
  CHECK(fc.centroid_hz < 4000.0f);
  // Silence and non-finite samples: a finite answer, no boom out of nothing.
  std::vector<float> silent(2048, 0.0f);
  silent[100] = std::nanf("");
  const auto fs = classifier.analyse(silent.data());
  CHECK(std::isfinite(fs.flatness));
  CHECK(fs.low_share == 0.0f);
  CHECK(VocalSoundClassifier::sound_of(fs) == engine::kKa);
  // The rules' edges.
  engine::VocalSoundFeatures f;
  f.flatness = 0.5f;
  f.low_share = VocalSoundClassifier::kLowShare;
  CHECK(VocalSoundClassifier::sound_of(f) == engine::kBoom);
  f.low_share = 0.0f;
  f.high_share = VocalSoundClassifier::kHighShare;
  CHECK(VocalSoundClassifier::sound_of(f) == engine::kTss);
  f.flatness = 0.001f;
  f.centroid_hz = 1500.0f;  // voiced and dark: a hummed boom, whatever its hiss
  CHECK(VocalSoundClassifier::sound_of(f) == engine::kBoom);
  f.centroid_hz = 3500.0f;
  CHECK(VocalSoundClassifier::sound_of(f) == engine::kTss);
}

TEST_CASE("Beat-box kit: defaults by class name, fallbacks, resolution", "[beatbox_kit]") {
  // The golden model's classes: kick, snare, hat.
  auto named = GrainsModel::load_file(std::string(TIMBREL_GOLDEN_DIR) + "/grains/model_pp.tmbl");
  REQUIRE(named.model);
  const auto& model = *named.model;
  CHECK(engine::default_beatbox_kit(model) == BeatboxKit{model.class_index("kick"),
                                                         model.class_index("hat"),
                                                         model.class_index("snare")});
  CHECK(engine::resolve_beatbox_kit(model, {-1, 0, 7}) ==
        BeatboxKit{model.class_index("kick"), 0, model.class_index("snare")});
  // Names it does not know: the first classes not yet in the kit.
  auto unnamed = load(test::grains_test_model_bytes());
  CHECK(engine::default_beatbox_kit(*unnamed) == BeatboxKit{0, 1, 2});
  // Fewer classes than sounds: the first class repeats.
  test::GrainsSizes two;
  two.classes = 2;
  auto small = load(test::grains_test_model_bytes(two));
  CHECK(engine::default_beatbox_kit(*small) == BeatboxKit{0, 1, 0});
}

TEST_CASE("GrainSynth beat-box plays the kit's class for the sound it hears",
          "[beatbox_kit][grain_synth]") {
  auto model = load(test::grains_test_model_bytes());
  engine::GrainSynth synth(*model);
  REQUIRE(synth.prepare(kRate, 128) == "");
  engine::BeatboxSettings settings;
  settings.kit = {2, 0, 1};
  synth.set_beatbox(settings);
  CHECK(synth.beatbox_kit() == BeatboxKit{2, 0, 1});
  // thump, hiss, click, 0.5 s apart, over a -80 dBFS floor.
  std::vector<float> input(size_t(2.0 * kRate), 0.0f);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1e-4f, 1e-4f);
  for (float& v : input) v = u(rng);
  const std::vector<std::vector<float>> sounds = {thump(11025), hiss(11025), click(11025)};
  for (size_t s = 0; s < sounds.size(); ++s)
    for (size_t i = 0; i < sounds[s].size(); ++i)
      input[size_t((0.2 + 0.5 * double(s)) * kRate) + i] += sounds[s][i];
  std::vector<float> out(128);
  std::vector<engine::GrainEvent> events;
  events.reserve(16);
  engine::GrainEvent buffer[8];
  {
    test::AllocationCounter counter;
    for (size_t q = 0; q + 128 <= input.size(); q += 128) {
      synth.push_input(input.data() + q, 128);
      synth.process(out.data(), 128);
      const int n = synth.drain_events(buffer, 8);
      for (int i = 0; i < n; ++i) events.push_back(buffer[i]);  // reserved
    }
    CHECK(counter.count() == 0);
  }
  for (const auto& e : events) UNSCOPED_INFO("event at " << e.time_s << " s, slot " << e.slot);
  REQUIRE(events.size() == 3);
  for (int s = 0; s < 3; ++s) {
    INFO("sound " << s);
    CHECK(events[size_t(s)].slot == s);
    CHECK(events[size_t(s)].class_index == synth.beatbox_kit()[size_t(s)]);
  }
  CHECK(synth.stats().hits == 3);
}
