// engine::GrainSynth (docs/grains.md, "Engine, bindings and page") with the
// seeded random test model (grains_test_model.h): streaming in any block size
// equals the offline render, voices and stealing, the path voice, the
// beat-box's onsets and events, real-time safety and the output's bounds;
// dsp::OnsetDetector on clicks at known times.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "allocation_counter.h"
#include "grains_test_model.h"
#include "timbrel/dsp/onset_detector.h"
#include "timbrel/engine/grain_synth.h"

using namespace timbrel;
using engine::GrainHit;
using engine::GrainSynth;
using models::GrainsModel;

namespace {

std::unique_ptr<GrainsModel> test_model(const test::GrainsSizes& sizes = {}) {
  const auto bytes = test::grains_test_model_bytes(sizes);
  auto loaded = GrainsModel::load(bytes.data(), bytes.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

float peak(const std::vector<float>& y) {
  float p = 0.0f;
  for (float v : y) p = std::max(p, std::fabs(v));
  return p;
}

double rms(const float* y, size_t n) {
  double e = 0.0;
  for (size_t i = 0; i < n; ++i) e += double(y[i]) * y[i];
  return n ? std::sqrt(e / double(n)) : 0.0;
}

// Runs `synth` for `total` frames in blocks of `block`; before the block holding
// frame hits[i].first, triggers hits[i].second with the offset into that block.
std::vector<float> stream(GrainSynth& synth, int total, int block,
                          const std::vector<std::pair<int, GrainHit>>& hits) {
  std::vector<float> out(size_t(total), 0.0f);
  for (int at = 0; at < total; at += block) {
    const int n = std::min(block, total - at);
    for (const auto& [frame, hit] : hits)
      if (frame >= at && frame < at + n) {
        GrainHit h = hit;
        h.offset = frame - at;
        synth.trigger(h);
      }
    synth.process(out.data() + at, n);
  }
  return out;
}

std::vector<float> embedding_of(int n, float scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> e(static_cast<size_t>(n));
  for (float& v : e) v = d(rng);
  return e;
}

// Short decaying noise bursts ("clicks") at the given samples.
std::vector<float> clicks(size_t n, const std::vector<size_t>& at, double rate, float level) {
  std::vector<float> x(n, 0.0f);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : x) v = 1e-4f * u(rng);  // -80 dBFS background
  const size_t length = size_t(0.03 * rate);
  for (size_t s : at)
    for (size_t i = 0; i < length && s + i < n; ++i)
      x[s + i] += level * u(rng) * float(std::exp(-double(i) / (0.006 * rate)));
  return x;
}

}  // namespace

TEST_CASE("render_hit: one-shot length, finite, the post-filter is the model's FIR",
          "[grain_synth]") {
  auto model = test_model();
  const auto e = embedding_of(8, 1.0f, 1);
  const std::vector<float> c = {0.0f, 1.0f, 0.0f};
  const auto y = engine::render_hit(*model, e.data(), c.data(), model->noise_seed());
  REQUIRE(y.size() == 34816);
  for (float v : y) REQUIRE(std::isfinite(v));
  INFO("peak " << peak(y) << ", rms " << rms(y.data(), y.size()));
  CHECK(rms(y.data(), y.size()) > 1e-3);
  CHECK(peak(y) < 1.0f);
  // Without the post-filter: the same file with post_processing false.
  test::GrainsSizes plain;
  plain.taps = 0;
  auto fi = test_model(plain);
  const auto raw = engine::render_hit(*fi, e.data(), c.data(), fi->noise_seed());
  const auto& h = model->post_filter();
  for (size_t m : {size_t(0), size_t(100), size_t(20000), size_t(34815)}) {
    double want = 0.0;
    for (size_t k = 0; k < h.size() && k <= m; ++k) want += double(h[k]) * raw[m - k];
    CHECK(y[m] == Approx(want).margin(1e-6));
  }
  // A GrainHit with the same embedding, class and seed is the same render.
  GrainHit hit;
  hit.class_a = hit.class_b = 1;
  hit.embedding = e.data();
  hit.seed = engine::kNoiseStreams;  // noise stream 0: the model's noise seed
  CHECK(engine::render_hit(*model, hit) == y);
  // With a given embedding the seed picks only the noise: seeds 8 apart are one stream.
  hit.seed = 3;
  const auto three = engine::render_hit(*model, hit);
  hit.seed = 3 + engine::kNoiseStreams;
  CHECK(engine::render_hit(*model, hit) == three);
  CHECK(three != y);
  CHECK(engine::hit_noise_seed(*model, 0) == model->noise_seed());
  CHECK(engine::hit_noise_seed(*model, 16) == model->noise_seed());
  std::vector<std::uint32_t> streams;
  for (std::uint32_t s = 0; s < std::uint32_t(engine::kNoiseStreams); ++s)
    streams.push_back(engine::hit_noise_seed(*model, s));
  std::sort(streams.begin(), streams.end());
  CHECK(std::unique(streams.begin(), streams.end()) == streams.end());
  CHECK(std::find(streams.begin(), streams.end(), 0u) == streams.end());
  // Another noise seed: another render of the same spectrum.
  const auto other = engine::render_hit(*model, e.data(), c.data(), 99);
  CHECK(other != y);
  CHECK(rms(other.data(), other.size()) == Approx(rms(y.data(), y.size())).epsilon(0.2));
}

TEST_CASE(
    "GrainSynth at 22050 Hz: blocks of 1, 128 and 517 frames give the offline renders "
    "on their samples",
    "[grain_synth]") {
  auto model = test_model();
  const auto e1 = embedding_of(8, 1.0f, 1), e2 = embedding_of(8, 0.7f, 2);
  GrainHit a;
  a.class_a = a.class_b = 0;
  a.embedding = e1.data();
  a.seed = 777;
  a.gain = 0.5f;
  GrainHit b = a;
  b.class_a = 1;
  b.class_b = 2;
  b.mix = 0.3f;
  b.embedding = e2.data();
  b.seed = 0;  // from the synth's generator
  const auto offline_a = engine::render_hit(*model, a);
  const int total = 9000 + GrainSynth::kSchedulingDelay + 34816;  // to hit b's last sample
  std::vector<std::vector<float>> outputs;
  for (int block : {1, 128, 517}) {
    GrainSynth synth(*model);
    REQUIRE(synth.prepare(22050.0, 517) == "");
    CHECK(synth.latency_samples() == GrainSynth::kSchedulingDelay);
    outputs.push_back(stream(synth, total, block, {{1000, a}, {9000, b}}));
    CHECK(synth.stats().hits == 2);
    CHECK(synth.stats().late_hits == 0);
    CHECK(synth.guard_state() == dsp::GuardState::kClean);
  }
  CHECK(outputs[0] == outputs[1]);
  CHECK(outputs[0] == outputs[2]);
  const auto& y = outputs[0];
  const int start_a = 1000 + GrainSynth::kSchedulingDelay;
  for (int i = 0; i < start_a; ++i) REQUIRE(y[size_t(i)] == 0.0f);
  // Hit a alone until hit b starts: the offline render sample for sample.
  const int start_b = 9000 + GrainSynth::kSchedulingDelay;
  for (int i = start_a; i < start_b; ++i) REQUIRE(y[size_t(i)] == offline_a[size_t(i - start_a)]);
  // Hit b's seed came from the synth's generator: after set_seed(0), its first
  // draw is xorshift32 once from murmur3's finaliser of 0x9E3779B9.
  std::uint32_t s = 0x9E3779B9u;
  s ^= s >> 16;
  s *= 0x85EBCA6Bu;
  s ^= s >> 13;
  s *= 0xC2B2AE35u;
  s ^= s >> 16;
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  GrainHit replay = b;
  replay.seed = s;
  const auto offline_b = engine::render_hit(*model, replay);
  std::vector<float> want(size_t(total), 0.0f);
  for (size_t i = 0; i + size_t(start_a) < want.size() && i < offline_a.size(); ++i)
    want[i + size_t(start_a)] += offline_a[i];
  for (size_t i = 0; i + size_t(start_b) < want.size() && i < offline_b.size(); ++i)
    want[i + size_t(start_b)] += offline_b[i];
  // Live, the FIR runs on past each hit's last sample (its taps' tail), the
  // offline render stops there: compared outside those 63 samples.
  const size_t end_a = size_t(start_a) + offline_a.size(), taps = model->post_filter().size();
  double difference = 0.0;
  for (size_t i = 0; i < want.size(); ++i)
    if (i < end_a || i >= end_a + taps)
      difference = std::max(difference, double(std::fabs(want[i] - y[i])));
  INFO("max difference " << difference << ", peak " << peak(y));
  // Overlapping hits: the FIR of the sum against the sum of FIRs, float rounding only.
  CHECK(difference < 1e-6);
}

TEST_CASE("GrainSynth at 48 kHz: any block size gives the same output, hits on time",
          "[grain_synth]") {
  auto model = test_model();
  std::vector<std::pair<int, GrainHit>> hits;
  std::mt19937 rng(5);
  for (int i = 0; i < 12; ++i) {
    GrainHit h;
    h.class_a = int(rng() % 3);
    h.class_b = int(rng() % 3);
    h.mix = float(rng() % 100) / 100.0f;
    h.temperature = 0.8f;
    h.gain = 0.4f;
    hits.push_back({int(1000 + i * 9001 + rng() % 700), h});
  }
  std::vector<std::vector<float>> outputs;
  for (int block : {1, 128, 517}) {
    GrainSynth synth(*model);
    REQUIRE(synth.prepare(48000.0, 517) == "");
    synth.set_seed(42);
    outputs.push_back(stream(synth, 140000, block, hits));
    CHECK(synth.stats().late_hits == 0);
    CHECK(synth.stats().hits == 12);
    CHECK(synth.stats().voices_stolen == 4);  // 12 hits 9000 frames apart, 1.6 s each
  }
  CHECK(outputs[0] == outputs[1]);
  CHECK(outputs[0] == outputs[2]);
  // The first hit appears latency_samples() after its frame (give or take the
  // resampler's filter spread).
  GrainSynth synth(*model);
  REQUIRE(synth.prepare(48000.0, 128) == "");
  const int latency = synth.latency_samples();
  INFO("latency " << latency);
  CHECK(latency > GrainSynth::kSchedulingDelay * 48000 / 22050);
  const auto& y = outputs[0];
  const int first = hits[0].first;
  CHECK(rms(y.data(), size_t(first + latency - 400)) < 1e-6);
  CHECK(rms(y.data() + first + latency, 2000) > 1e-3);
  for (float v : y) REQUIRE((std::isfinite(v) && std::fabs(v) <= 1.0f));
}

TEST_CASE(
    "GrainSynth noise: cached streams (65 grains) and streams made per grain (a longer "
    "one-shot) both play the offline render",
    "[grain_synth]") {
  for (int grains : {65, engine::kMaxCachedGrains + 1}) {
    test::GrainsSizes sizes;
    sizes.grains = grains;
    auto model = test_model(sizes);
    const auto e = embedding_of(8, 1.0f, 5);
    GrainHit hit;
    hit.class_a = hit.class_b = 2;
    hit.embedding = e.data();
    hit.seed = 13;  // noise stream 5
    const auto offline = engine::render_hit(*model, hit);
    GrainSynth synth(*model);
    REQUIRE(synth.prepare(22050.0, 256) == "");
    const int start = 300 + GrainSynth::kSchedulingDelay;
    const auto y = stream(synth, start + int(offline.size()), 256, {{300, hit}});
    INFO("grains " << grains);
    for (size_t i = 0; i + 64 < offline.size(); ++i)  // the FIR's tail aside
      REQUIRE(y[size_t(start) + i] == offline[i]);
  }
}

TEST_CASE("GrainSynth voices: eight sound at once, a ninth steals the oldest", "[grain_synth]") {
  auto model = test_model();
  GrainSynth synth(*model);
  REQUIRE(synth.prepare(44100.0, 128) == "");
  std::vector<float> block(128);
  for (int i = 0; i < 9; ++i) {
    GrainHit h;
    h.class_a = h.class_b = i % 3;
    h.offset = i * 10;
    synth.trigger(h);
    CHECK(synth.sounding_voices() == std::min(i + 1, 8));
  }
  CHECK(synth.stats().voices_stolen == 1);
  for (int q = 0; q < 100; ++q) synth.process(block.data(), 128);
  CHECK(synth.stats().peak_voices == 8);
  CHECK(synth.sounding_voices() == 8);
  // 34816 / 22050 s later every voice has played out.
  for (int q = 0; q < 700; ++q) synth.process(block.data(), 128);
  CHECK(synth.sounding_voices() == 0);
  CHECK(rms(block.data(), 128) == 0.0);
}

TEST_CASE("GrainSynth: a stolen hit fades out over 128 samples as the new one starts",
          "[grain_synth]") {
  test::GrainsSizes plain;
  plain.taps = 0;  // the fade is before the post-filter: compared without one
  auto model = test_model(plain);
  GrainSynth synth(*model);
  REQUIRE(synth.prepare(22050.0, 256) == "");
  std::vector<std::pair<int, GrainHit>> hits;
  std::vector<std::vector<float>> offline;
  for (int i = 0; i < 9; ++i) {
    GrainHit h;
    h.class_a = h.class_b = i % 3;
    h.seed = std::uint32_t(100 + i);
    h.gain = 0.1f;
    hits.push_back({100 + 1000 * i, h});
    offline.push_back(engine::render_hit(*model, h));
  }
  const int total = 100 + 8000 + GrainSynth::kSchedulingDelay + 34816;
  const auto y = stream(synth, total, 256, hits);
  CHECK(synth.stats().voices_stolen == 1);
  const int cut = 100 + 8000 + GrainSynth::kSchedulingDelay;  // where hit 8 starts
  std::vector<double> want(size_t(total), 0.0);
  for (int i = 0; i < 9; ++i) {
    const int start = 100 + 1000 * i + GrainSynth::kSchedulingDelay;
    for (size_t n = 0; n < offline[size_t(i)].size() && start + int(n) < total; ++n) {
      const int at = start + int(n);
      double w = 1.0;
      if (i == 0) w = at < cut ? 1.0 : std::max(0.0, 1.0 - double(at - cut) / 128.0);
      want[size_t(at)] += w * offline[size_t(i)][n];
    }
  }
  double worst = 0.0;
  for (size_t n = 0; n < want.size(); ++n) worst = std::max(worst, std::fabs(want[n] - y[n]));
  INFO("max difference " << worst);
  CHECK(worst < 1e-6);
  // Hit 0 was still sounding at the cut: the fade is not a no-op.
  CHECK(std::fabs(offline[0][size_t(cut - 100 - GrainSynth::kSchedulingDelay + 64)]) > 1e-5);
}

TEST_CASE("GrainSynth path voice: the offline path render, and it plays out when stopped",
          "[grain_synth]") {
  auto model = test_model();
  GrainSynth synth(*model);
  REQUIRE(synth.prepare(22050.0, 512) == "");
  std::vector<float> y(512 * 12, 0.0f);
  synth.process(y.data(), 512);  // one hop of silence: the path starts on a hop
  synth.set_path(true, 0.3f, -0.4f, 2, 1.0f);
  for (int t = 1; t < 10; ++t) synth.process(y.data() + t * 512, 512);
  synth.set_path(false, 0.3f, -0.4f, 2, 1.0f);
  CHECK(synth.path_sounding());
  for (int t = 10; t < 12; ++t) synth.process(y.data() + t * 512, 512);
  std::vector<float> xy;
  for (int t = 0; t < 9; ++t) xy.insert(xy.end(), {0.3f, -0.4f});
  const auto want = engine::render_path(*model, xy.data(), 9, 2, model->noise_seed());
  for (int i = 0; i < 512; ++i) REQUIRE(y[size_t(i)] == 0.0f);
  for (size_t i = 0; i < want.size(); ++i) REQUIRE(y[512 + i] == want[i]);
  CHECK(rms(want.data() + 2048, 2048) > 1e-3);
  // Stopped: three hops of the grains it holds, then silence.
  CHECK(rms(y.data() + 10 * 512, 512) > 0.0);
  std::vector<float> after(512 * 4);
  for (int t = 0; t < 4; ++t) synth.process(after.data() + t * 512, 512);
  CHECK_FALSE(synth.path_sounding());
  CHECK(rms(after.data() + 2 * 512, 1024) < 1e-6);
}

TEST_CASE("GrainSynth path voice: past g grains it cycles the cached noise streams, as offline",
          "[grain_synth]") {
  auto model = test_model();
  const int g = model->grains(), hops = 2 * g + 10;
  std::vector<float> xy;
  for (int t = 0; t < hops; ++t) xy.insert(xy.end(), {0.3f, -0.4f});  // a point held still
  const auto want = engine::render_path(*model, xy.data(), hops, 1, model->noise_seed());
  GrainSynth synth(*model);
  REQUIRE(synth.prepare(22050.0, 512) == "");
  std::vector<float> y(size_t(hops + 1) * 512, 0.0f);
  synth.process(y.data(), 512);
  for (int t = 1; t <= hops; ++t) {
    synth.set_path(true, 0.3f, -0.4f, 1, 1.0f);
    synth.process(y.data() + size_t(t) * 512, 512);
  }
  for (size_t i = 0; i < want.size(); ++i) REQUIRE(y[512 + i] == want[i]);
  // The second g grains play stream 1, not stream 0 again: a held point is no 1.5 s loop.
  const size_t period = size_t(g) * 512;
  double diff = 0.0, level = 0.0;
  for (size_t i = 4096; i < period; ++i) {
    diff += std::fabs(double(want[i + period]) - want[i]);
    level += std::fabs(double(want[i]));
  }
  CHECK(diff > 0.5 * level);
  // Another seed is not cached: its noise runs on, so it differs from the model seed's.
  const auto other = engine::render_path(*model, xy.data(), hops, 1, 12345u);
  CHECK(std::fabs(other[5000] - want[5000]) > 0.0f);
}

TEST_CASE("OnsetDetector: clicks at known times are found within 15 ms", "[grain_synth][onsets]") {
  const double rate = 22050.0;
  std::vector<size_t> at;
  for (int i = 0; i < 16; ++i) at.push_back(size_t(3000 + i * 3100 + (i * 977) % 1300));
  for (float level : {0.8f, 0.05f}) {
    const auto x = clicks(60000, at, rate, level);
    dsp::OnsetDetector detector;
    std::vector<std::int64_t> found;
    std::int64_t buffer[8];
    for (size_t done = 0; done < x.size(); done += 100) {
      const int n =
          detector.process(x.data() + done, int(std::min<size_t>(100, x.size() - done)), buffer, 8);
      found.insert(found.end(), buffer, buffer + n);
    }
    INFO("level " << level);
    REQUIRE(found.size() == at.size());
    double worst = 0.0;
    for (size_t i = 0; i < at.size(); ++i)
      worst = std::max(worst, std::fabs(double(found[i]) - double(at[i])) / rate);
    INFO("worst error " << worst * 1000 << " ms");
    CHECK(worst < 0.015);
    CHECK(worst < 0.002);  // the energy rise places them on the sample block
  }
  // Silence and a steady tone hold no onsets.
  std::vector<float> tone(40000);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.3f * std::sin(0.06f * float(i));
  for (size_t i = 0; i < 200; ++i) tone[i] *= float(i) / 200.0f;  // a soft start
  dsp::OnsetDetector detector;
  std::int64_t buffer[8];
  std::vector<float> silence(40000, 0.0f);
  CHECK(detector.process(silence.data(), 40000, buffer, 8) == 0);
  const int on_tone = detector.process(tone.data(), 40000, buffer, 8);
  CHECK(on_tone <= 1);  // its start, at most
}

TEST_CASE("GrainSynth beat-box: onsets become events and hits of the nearest class",
          "[grain_synth][onsets]") {
  auto model = test_model();
  const double rate = 48000.0;
  std::vector<size_t> at = {4800, 30000, 61000, 90000};
  const auto input = clicks(130000, at, rate, 0.6f);
  auto run = [&](GrainSynth& synth, int block, std::vector<engine::GrainEvent>* events) {
    REQUIRE(synth.prepare(rate, 517) == "");
    std::vector<float> out(input.size());
    engine::GrainEvent buffer[4];
    for (size_t q = 0; q < input.size(); q += size_t(block)) {
      const int n = int(std::min<size_t>(size_t(block), input.size() - q));
      synth.push_input(input.data() + q, n);
      synth.process(out.data() + q, n);
      const int k = synth.drain_events(buffer, 4);
      events->insert(events->end(), buffer, buffer + k);
    }
    return out;
  };
  GrainSynth synth(*model), other(*model);
  std::vector<engine::GrainEvent> events, other_events;
  const auto out = run(synth, 128, &events);
  // Another block size: the same events and hits, on the same samples.
  const auto other_out = run(other, 517, &other_events);
  CHECK(other_out == out);
  REQUIRE(other_events.size() == events.size());
  for (size_t i = 0; i < events.size(); ++i) CHECK(other_events[i].frame == events[i].frame);
  REQUIRE(events.size() == at.size());
  CHECK(synth.stats().hits == long(at.size()));
  CHECK(synth.stats().onsets == long(at.size()));
  for (size_t i = 0; i < at.size(); ++i) {
    INFO("onset " << i << ": event at frame " << events[i].frame << ", click at " << at[i]);
    CHECK(std::fabs(double(events[i].frame) - double(at[i])) < 0.015 * rate);
    CHECK(events[i].time_s == Approx(double(events[i].frame) / rate).margin(1.0 / rate));
    CHECK(events[i].class_index >= 0);
    CHECK(events[i].class_index < 3);
  }
  // The first hit starts beatbox_latency_samples() after its onset (the
  // resampler's filter spreads its attack by a few hundred frames).
  const int latency = synth.beatbox_latency_samples();
  INFO("beat-box latency " << latency);
  CHECK(latency > 2048 * 48000 / 22050);
  CHECK(latency < 8000);
  const size_t first = size_t(events[0].frame + latency);
  CHECK(rms(out.data(), first - 400) < 1e-6);
  CHECK(rms(out.data() + first, 4000) > 1e-3);
  // The offline beat-box finds the same onsets and classes.
  const auto offline_input = clicks(size_t(59719), {2205, 13781, 28022, 41344}, 22050.0, 0.6f);
  const auto r = engine::render_beatbox(*model, offline_input.data(), offline_input.size());
  REQUIRE(r.onsets.size() == 4);
  CHECK(r.classes.size() == 4);
  CHECK(r.samples.size() == offline_input.size() + 34816);
  CHECK(std::abs(r.onsets[1] - 13781) < 331);
  // Off: nothing happens.
  engine::BeatboxSettings off;
  off.enabled = false;
  synth.reset();
  synth.set_beatbox(off);
  std::vector<float> block(128);
  for (size_t q = 0; q + 128 <= input.size(); q += 128) {
    synth.push_input(input.data() + q, 128);
    synth.process(block.data(), 128);
  }
  engine::GrainEvent none[4];
  CHECK(synth.drain_events(none, 4) == 0);
  CHECK(synth.stats().hits == 0);
}

TEST_CASE("GrainSynth beat-box morph: each hit's grains move toward the voice's as morph falls",
          "[grain_synth][onsets]") {
  auto model = test_model();
  // A shift of zeros is no shift.
  const auto e = embedding_of(8, 1.0f, 4);
  GrainHit hit;
  hit.class_a = hit.class_b = 1;
  hit.embedding = e.data();
  const auto plain = engine::render_hit(*model, hit);
  const std::vector<float> zeros(size_t(model->latent()), 0.0f);
  hit.latent_shift = zeros.data();
  CHECK(engine::render_hit(*model, hit) == plain);
  // Offline beat-box: morph 1 is the class's own hit; lower, the hits move further from it.
  const auto input = clicks(size_t(59719), {2205, 13781, 28022, 41344}, 22050.0, 0.6f);
  auto render = [&](float morph) {
    engine::BeatboxSettings settings;
    settings.morph = morph;
    return engine::render_beatbox(*model, input.data(), input.size(), settings);
  };
  const auto whole = render(1.0f), half = render(0.5f), none = render(0.0f);
  CHECK(whole.samples == engine::render_beatbox(*model, input.data(), input.size()).samples);
  REQUIRE(half.onsets == whole.onsets);
  REQUIRE(none.classes == whole.classes);
  auto distance = [&](const std::vector<float>& a) {
    double d = 0.0;
    for (size_t i = 0; i < a.size(); ++i)
      d += double(a[i] - whole.samples[i]) * (a[i] - whole.samples[i]);
    return std::sqrt(d / double(a.size()));
  };
  const double d_half = distance(half.samples), d_none = distance(none.samples);
  INFO("rms distance from morph 1: morph 0.5 " << d_half << ", morph 0 " << d_none);
  CHECK(d_half > 1e-5);
  CHECK(d_none > 1.2 * d_half);
  for (float v : none.samples) REQUIRE(std::isfinite(v));
}

TEST_CASE("GrainSynth does not allocate while playing 8 voices, the path and the beat-box",
          "[grain_synth][realtime]") {
  auto model = test_model();
  GrainSynth synth(*model);
  engine::BeatboxSettings morphing;
  morphing.morph = 0.5f;  // each onset's grain encoded in the audio thread
  synth.set_beatbox(morphing);
  REQUIRE(synth.prepare(48000.0, 128) == "");
  const auto input = clicks(48000 * 3, {1000, 20000, 50000, 90000}, 48000.0, 0.5f);
  const auto e = embedding_of(8, 1.0f, 9);
  std::vector<float> block(128);
  engine::GrainEvent events[8];
  long drained = 0;
  double energy = 0.0;
  {
    test::AllocationCounter counter;
    for (int q = 0; q < int(input.size()) / 128; ++q) {
      if (q % 10 == 0) {
        GrainHit h;
        h.class_a = q % 3;
        h.class_b = (q / 10) % 3;
        h.mix = 0.5f;
        h.offset = q % 128;
        h.embedding = q % 20 == 0 ? e.data() : nullptr;
        h.around_class_mean = q % 30 == 0;
        synth.trigger(h);
      }
      synth.set_path(q % 200 < 150, 0.001f * float(q % 500), -0.3f, q % 3, 0.7f);
      synth.push_input(input.data() + q * 128, 128);
      synth.process(block.data(), 128);
      drained += synth.drain_events(events, 8);
      for (float v : block) energy += double(v) * v;
    }
    synth.reset();
    synth.process(block.data(), 128);
    CHECK(counter.count() == 0);
  }
  CHECK(drained == 4);
  CHECK(energy > 0.0);
}

TEST_CASE("GrainSynth output stays finite and within [-1, 1] when pushed", "[grain_synth]") {
  auto model = test_model();
  GrainSynth synth(*model);
  REQUIRE(synth.prepare(48000.0, 256) == "");
  std::vector<float> huge(8, 50.0f), nan(8, std::nanf(""));
  std::vector<float> block(256);
  float loudest = 0.0f;
  for (int q = 0; q < 400; ++q) {
    if (q < 16) {
      GrainHit h;
      h.gain = 1e9f;  // clamped to 8
      h.embedding = q % 2 ? huge.data() : nan.data();
      h.class_a = -5;
      h.class_b = 99;
      h.mix = std::nanf("");
      h.temperature = 1e30f;
      h.offset = -7;
      synth.trigger(h);
    }
    synth.set_path(true, 1e30f, std::nanf(""), 77, 1e6f);
    synth.process(block.data(), 256);
    for (float v : block) {
      REQUIRE(std::isfinite(v));
      REQUIRE(std::fabs(v) <= 1.0f);
      loudest = std::max(loudest, std::fabs(v));
    }
  }
  CHECK(loudest > 0.1f);
  // A bad device.
  CHECK(synth.prepare(44100.5, 128) != "");
  CHECK_FALSE(synth.prepared());
  synth.process(block.data(), 256);
  CHECK(rms(block.data(), 256) == 0.0);
  CHECK(synth.prepare(48000.0, 0) != "");
}
