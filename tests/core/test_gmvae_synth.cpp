// engine::GmvaeSynth (docs/gmvae.md, "Audio") with the oracle GMVAE
// (gmvae_test_model.h: the components' means decode to harmonic tones):
// pitch and level of rendered notes, sustain and release, streaming against
// the whole-note render, voices, and real-time safety.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "allocation_counter.h"
#include "crossmodal_test_model.h"  // tmbl_header, with_header
#include "gmvae_test_model.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/engine/gmvae_synth.h"

using namespace timbrel;
using engine::GmvaeSynth;
using models::Gmvae;

namespace {

constexpr double kRate = 22050.0;

double median_f0(const std::vector<float>& y, double from_s, double to_s) {
  dsp::Yin yin({kRate, 1024, 50.0, 2000.0, 0.15});
  std::vector<double> f0;
  for (size_t s = size_t(from_s * kRate); s + 1024 <= size_t(to_s * kRate) && s + 1024 <= y.size();
       s += 256) {
    const auto p = yin.estimate(y.data() + s);
    if (p.voiced) f0.push_back(p.f0_hz);
  }
  if (f0.empty()) return 0.0;
  std::nth_element(f0.begin(), f0.begin() + long(f0.size() / 2), f0.end());
  return f0[f0.size() / 2];
}

double rms(const std::vector<float>& y, double from_s, double to_s) {
  const size_t a = size_t(from_s * kRate), b = std::min(y.size(), size_t(to_s * kRate));
  double e = 0.0;
  for (size_t i = a; i < b; ++i) e += double(y[i]) * y[i];
  return b > a ? std::sqrt(e / double(b - a)) : 0.0;
}

double db(double x) { return 20.0 * std::log10(std::max(x, 1e-12)); }

std::vector<float> latent(Gmvae& model, const char* instrument, int midi, float spread = 0.0f,
                          unsigned seed = 1) {
  std::vector<float> z(Gmvae::kZ);
  model.sample(model.instrument_index(instrument), model.pitch_index(midi), spread, seed, z.data());
  return z;
}

}  // namespace

TEST_CASE("render_note: oboe A4 sounds at 440 Hz, finite, inside [-1, 1]", "[gmvae_synth]") {
  auto model = test::load_gmvae_oracle();
  const auto z = latent(*model, "oboe", 69);
  const auto r = engine::render_note(*model, z.data(), 1.0);
  CHECK(r.frames == 86 + GmvaeSynth::kReleaseFrames);  // round(1.0 * 22050 / 256) = 86 held
  CHECK(r.samples.size() == size_t(r.frames - 1) * 256 + 1024);
  CHECK_FALSE(r.guard.muted);
  for (float v : r.samples) {
    REQUIRE(std::isfinite(v));
    REQUIRE(std::fabs(v) <= 1.0f);
  }
  const double f0 = median_f0(r.samples, 0.1, 0.9);
  INFO("f0 " << f0 << " Hz, level " << db(rms(r.samples, 0.1, 0.9)) << " dBFS");
  CHECK(std::fabs(1200.0 * std::log2(f0 / 440.0)) < 20.0);
  CHECK(rms(r.samples, 0.1, 0.9) > 0.01);
  // C4 is an octave and a sixth lower.
  const auto c4 = engine::render_note(*model, latent(*model, "oboe", 60).data(), 0.5);
  CHECK(std::fabs(1200.0 * std::log2(median_f0(c4.samples, 0.1, 0.45) / 261.626)) < 20.0);
  // A spread draw stays near the pitch: sigma_p = e^-2 around a one-hot mean.
  const auto spread = engine::render_note(*model, latent(*model, "oboe", 69, 1.0f, 5).data(), 0.5);
  CHECK(std::fabs(1200.0 * std::log2(median_f0(spread.samples, 0.1, 0.45) / 440.0)) < 20.0);
}

TEST_CASE("render_note: sustain by slope (piano decays, oboe holds), then the release",
          "[gmvae_synth]") {
  auto model = test::load_gmvae_oracle();
  const auto oboe = engine::render_note(*model, latent(*model, "oboe", 64).data(), 2.0);
  const auto piano = engine::render_note(*model, latent(*model, "piano", 64).data(), 2.0);
  const double oboe_early = rms(oboe.samples, 0.2, 0.4), oboe_late = rms(oboe.samples, 1.6, 1.9);
  const double piano_early = rms(piano.samples, 0.2, 0.4),
               piano_late = rms(piano.samples, 1.6, 1.9);
  INFO("oboe " << db(oboe_early) << " -> " << db(oboe_late) << " dB, piano " << db(piano_early)
               << " -> " << db(piano_late));
  CHECK(std::fabs(db(oboe_late) - db(oboe_early)) < 3.0);
  CHECK(db(piano_late) < db(piano_early) - 20.0);
  // After key-up (2 s): 150 ms of fade plus half a window of synthesis tail.
  CHECK(rms(oboe.samples, 2.0 + 0.15 + 0.05, 2.0 + 0.22) < 1e-3 * oboe_early);
  CHECK(rms(oboe.samples, 2.0, 2.05) > 0.3 * oboe_early);
}

TEST_CASE("GmvaeSynth frames: velocity scales the magnitudes, the slope continues the patch",
          "[gmvae_synth]") {
  auto model = test::load_gmvae_oracle();
  // Band b: a line from 0 falling 0.01 per frame; band 0 rises (held flat after the patch).
  std::vector<float> patch(Gmvae::kPatch);
  for (int m = 0; m < Gmvae::kFrames; ++m)
    for (int b = 0; b < Gmvae::kMelBins; ++b)
      patch[size_t(m) * 256 + size_t(b)] = b == 0 ? -0.5f + 0.01f * m : -0.01f * m;
  GmvaeSynth loud(*model), soft(*model);
  loud.note_on_patch(60, 100, patch.data());
  soft.note_on_patch(60, 50, patch.data());
  std::vector<float> a(GmvaeSynth::kFftBins), b(GmvaeSynth::kFftBins);
  std::vector<std::vector<float>> frames;
  for (int m = 0; m < 60; ++m) {
    loud.next_frame(a.data());
    soft.next_frame(b.data());
    for (int k = 0; k < GmvaeSynth::kFftBins; k += 50)
      REQUIRE(b[size_t(k)] == Approx(0.5f * a[size_t(k)]));
    frames.push_back(a);
  }
  // Bin 500 (5.4 kHz) lies in bands whose level falls 0.01 (0.8 dB) per frame, in
  // the patch and after it alike: so does the magnitude (20 log10 |X| = 10 log10 |X|^2).
  const auto step_db = [&](int m) {
    return 20.0 * std::log10(double(frames[size_t(m + 1)][500]) / frames[size_t(m)][500]);
  };
  CHECK(step_db(30) == Approx(-0.8).margin(0.01));
  CHECK(step_db(50) == Approx(-0.8).margin(0.01));
  // Band 0 (20-32 Hz, bin 2) rose in the patch: after it, it holds (slope clamped at 0).
  CHECK(frames[50][2] == Approx(frames[43][2]).epsilon(1e-5));
  CHECK(frames[43][2] == Approx(frames[42][2]).epsilon(1e-5));
  // Release: 13 frames of linear fade, then silence.
  loud.note_off(60);
  loud.next_frame(a.data());
  const float first = a[500];
  for (int m = 1; m < GmvaeSynth::kReleaseFrames; ++m) loud.next_frame(a.data());
  CHECK(a[500] > 0.0f);
  CHECK(loud.sounding_voices() == 0);
  loud.next_frame(a.data());
  CHECK(a[500] == 0.0f);
  CHECK(first > 0.0f);
}

TEST_CASE("GmvaeSynth frames: the model's output_gain_db scales the magnitudes", "[gmvae_synth]") {
  const auto bytes = test::gmvae_oracle_bytes();
  auto header = test::tmbl_header(bytes);
  header["metadata"]["output_gain_db"] = 20.0 * std::log10(3.0);
  auto plain = test::load_gmvae(bytes);
  auto louder = test::load_gmvae(test::with_header(bytes, header));
  REQUIRE(louder->output_gain() == Approx(3.0f));
  CHECK(plain->output_gain() == 1.0f);
  std::vector<float> patch(Gmvae::kPatch);
  for (size_t i = 0; i < patch.size(); ++i) patch[i] = -0.3f + 0.001f * float(i % 256);
  GmvaeSynth a(*plain), b(*louder);
  a.note_on_patch(60, 100, patch.data());
  b.note_on_patch(60, 100, patch.data());
  std::vector<float> x(GmvaeSynth::kFftBins), y(GmvaeSynth::kFftBins);
  a.next_frame(x.data());
  b.next_frame(y.data());
  for (int k = 10; k < GmvaeSynth::kFftBins; k += 100)
    CHECK(y[size_t(k)] == Approx(3.0f * x[size_t(k)]));
}

TEST_CASE("GmvaeSynth voices: eight at most, the oldest held note is stolen", "[gmvae_synth]") {
  auto model = test::load_gmvae_oracle();
  GmvaeSynth synth(*model);
  std::vector<float> m(GmvaeSynth::kFftBins);
  for (int i = 0; i < 9; ++i) {
    synth.note_on(60 + i, 90, latent(*model, "french_horn", 60 + i % 12).data());
    synth.next_frame(m.data());
  }
  CHECK(synth.sounding_voices() == 8);
  CHECK(synth.stats().voices_stolen == 1);
  CHECK(synth.stats().decodes == 9);
  CHECK(synth.stats().peak_voices == 8);
  synth.note_off(60);  // stolen: its key no longer holds a voice
  synth.note_off(61);
  synth.next_frame(m.data());
  synth.note_on(80, 90, latent(*model, "oboe", 65).data());  // takes the releasing voice
  CHECK(synth.stats().voices_stolen == 1);
  synth.all_notes_off();
  for (int i = 0; i < GmvaeSynth::kReleaseFrames; ++i) synth.next_frame(m.data());
  CHECK(synth.sounding_voices() == 0);
}

TEST_CASE("Streaming (LiveGmvaeSynth hop by hop) reproduces the whole-note RTPGHI render",
          "[gmvae_synth]") {
  auto model = test::load_gmvae_oracle();
  const auto z = latent(*model, "piano", 67, 0.5f, 3);
  engine::GmvaeRenderOptions options;
  options.griffin_lim = false;
  const double held_s = 0.7;
  const auto offline = engine::render_note(*model, z.data(), held_s, options);
  REQUIRE_FALSE(offline.normalised);
  REQUIRE(offline.guard.limited == 0);
  engine::LiveGmvaeSynth live(*model);
  const long held = std::lround(held_s * kRate / 256);
  const int latency = engine::LiveGmvaeSynth::latency_samples();
  std::vector<float> stream;
  std::vector<float> hop(256);
  for (long m = 0; stream.size() < offline.samples.size() + size_t(latency); ++m) {
    if (m == 0) live.note_on(60, 100, z.data());
    if (m == held) live.note_off(60);
    live.process_hop(hop.data());
    stream.insert(stream.end(), hop.begin(), hop.end());
  }
  double worst = 0.0, peak = 0.0;
  for (size_t i = 0; i < offline.samples.size(); ++i) {
    worst = std::max(worst, double(std::fabs(stream[i + size_t(latency)] - offline.samples[i])));
    peak = std::max(peak, double(std::fabs(offline.samples[i])));
  }
  INFO("worst difference " << worst << " (peak " << peak << ")");
  CHECK(peak > 0.05);
  CHECK(worst <= 1e-6);
  // Before the note's first frame centre only its Hann fade-in: nothing ahead of time.
  CHECK(rms(stream, 0.0, double(latency - 1024) / kRate) == 0.0);
}

TEST_CASE("LiveGmvaeSynth and GmvaePlayer do not allocate while playing",
          "[gmvae_synth][realtime]") {
  auto model = test::load_gmvae_oracle();
  std::vector<std::vector<float>> z;
  for (int i = 0; i < 12; ++i) z.push_back(latent(*model, i % 2 ? "oboe" : "piano", 60 + i, 0.5f));
  std::vector<float> patch(Gmvae::kPatch, -0.2f);
  engine::LiveGmvaeSynth live(*model);
  std::vector<float> out(256);
  {
    test::AllocationCounter counter;
    for (int hop = 0; hop < 150; ++hop) {
      if (hop % 5 == 0) live.note_on(50 + hop % 30, 40 + hop % 80, z[size_t(hop % 12)].data());
      if (hop % 7 == 0) live.note_off(50 + (hop - 10) % 30);
      if (hop == 77) live.note_on_patch(99, 100, patch.data());
      if (hop == 120) live.all_notes_off();
      live.process_hop(out.data());
      for (float v : out) REQUIRE(std::fabs(v) <= 1.0f);
    }
    live.reset();
    live.process_hop(out.data());
    CHECK(counter.count() == 0);
  }
  engine::GmvaePlayer player({48000.0, 128});
  player.set_model(test::load_gmvae_oracle());
  std::vector<float> block(128);
  double energy = 0.0;
  {
    test::AllocationCounter counter;
    for (int q = 0; q < 400; ++q) {
      if (q % 40 == 0) player.note_on(60 + q % 12, 100, z[size_t(q % 12)].data());
      if (q % 40 == 30) player.note_off(60 + (q - 30) % 12);
      player.process(block.data(), 128);
      for (float v : block) energy += double(v) * v;
    }
    CHECK(counter.count() == 0);
  }
  CHECK(energy > 0.0);
  CHECK(player.latency_samples() > 2 * 1280);  // 48 kHz: more than twice the 22050 Hz latency
  CHECK(player.guard_state() != dsp::GuardState::kMuted);
}
