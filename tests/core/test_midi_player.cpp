// MidiPlayer (engine/midi_player.h): notes, pad and morph at the
// device rate. Pitch is checked with the hand-set oracle model
// (crossmodal_test_model.h), whose labels decode to harmonic tones at their
// pitch; the golden random models check the plumbing of solo and mixture files.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <vector>

#include "allocation_counter.h"
#include "crossmodal_test_model.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/engine/midi_player.h"

using namespace timbrel;
using engine::MidiPlayer;
using engine::MidiPlayerConfig;

namespace {

constexpr int kBlock = 128;

// The oracle file, built once (its templates take a second to compute).
const std::vector<std::uint8_t>& oracle_bytes() {
  static const auto bytes = test::oracle_model_bytes();
  return bytes;
}

std::unique_ptr<MidiPlayer> oracle_player(double rate, int max_block = kBlock) {
  auto player = std::make_unique<MidiPlayer>(MidiPlayerConfig{rate, max_block});
  const auto error = player->load_model(oracle_bytes().data(), oracle_bytes().size());
  INFO(error);
  REQUIRE(player->has_model());
  return player;
}

// n samples of the player's output in blocks of `block`.
std::vector<float> play(MidiPlayer& player, size_t n, int block = kBlock) {
  std::vector<float> out(n), chunk(static_cast<size_t>(block));
  for (size_t at = 0; at < n; at += size_t(block)) {
    const int count = int(std::min<size_t>(size_t(block), n - at));
    player.process(chunk.data(), count);
    std::copy(chunk.begin(), chunk.begin() + count, out.begin() + long(at));
  }
  return out;
}

double rms(const std::vector<float>& x, size_t from, size_t to) {
  double sum = 0.0;
  for (size_t i = from; i < to; ++i) sum += double(x[i]) * x[i];
  return std::sqrt(sum / double(std::max<size_t>(1, to - from)));
}

// Median YIN f0 of a device-rate stretch, resampled back to 22050 Hz first.
double median_f0(const std::vector<float>& device, double rate, size_t from, size_t to) {
  const std::vector<float> stretch(device.begin() + long(from), device.begin() + long(to));
  const auto x = dsp::resample(stretch, int(rate), 22050);
  dsp::Yin yin(dsp::YinConfig{});
  std::vector<double> f0;
  for (size_t at = 0; at + 1024 <= x.size(); at += 256) {
    const auto p = yin.estimate(x.data() + at);
    if (p.voiced) f0.push_back(p.f0_hz);
  }
  REQUIRE(f0.size() >= 5);
  std::sort(f0.begin(), f0.end());
  return f0[f0.size() / 2];
}

double cents(double f, double reference) { return 1200.0 * std::log2(f / reference); }
double midi_hz(int pitch) { return 440.0 * std::pow(2.0, (pitch - 69) / 12.0); }

// The shipped violin (models/crossmodal/violin); REQUIREs that it loads.
std::unique_ptr<models::CrossmodalVae> load_shipped_violin() {
  const auto path = std::filesystem::path(TIMBREL_GOLDEN_DIR) / ".." / ".." / "models" /
                    "crossmodal" / "violin" / "violin.tmbl";
  auto loaded = models::CrossmodalVae::load_file(path.string());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

}  // namespace

TEST_CASE("MidiPlayer: bad configurations are explained", "[midi_player]") {
  CHECK_THAT(MidiPlayer::validate({1000.0, 128}), Catch::Contains("1000 Hz"));
  CHECK_THAT(MidiPlayer::validate({48000.5, 128}), Catch::Contains("whole numbers"));
  CHECK_THAT(MidiPlayer::validate({48000.0, 0}), Catch::Contains("block size"));
  CHECK(MidiPlayer::validate({44100.0, 128}).empty());
  CHECK_THROWS_WITH(MidiPlayer(MidiPlayerConfig{48000.0, 9000}),
                    Catch::Contains("between 1 and 8192"));
}

TEST_CASE("MidiPlayer: model errors keep the player usable", "[midi_player]") {
  MidiPlayer player({48000.0, kBlock});
  const std::vector<std::uint8_t> junk{1, 2, 3};
  CHECK_FALSE(player.load_model(junk.data(), junk.size()).empty());
  CHECK_FALSE(player.has_model());
  // Without a model: commands are ignored and the output is silence.
  player.note_on(60, 100);
  const auto out = play(player, 4096);
  CHECK(rms(out, 0, out.size()) == 0.0);
  // Settings the synth rejects are reported before anything is loaded.
  const auto& bytes = oracle_bytes();
  engine::NoteSynthSettings bad;
  bad.temperature = -1.0f;
  CHECK_THAT(player.load_model(bytes.data(), bytes.size(), bad), Catch::Contains("temperature"));
  CHECK_FALSE(player.has_model());
  CHECK(player.load_model(bytes.data(), bytes.size()).empty());
  CHECK(player.has_model());
}

TEST_CASE("MidiPlayer: a note at 48 kHz has its pitch, then falls silent, without allocating",
          "[midi_player]") {
  const double rate = 48000.0;
  auto player = oracle_player(rate);
  const size_t note = size_t(0.6 * rate), tail = size_t(0.4 * rate);
  std::vector<float> out;
  long allocations = 0;
  {
    std::vector<float> block(kBlock);
    for (size_t at = 0; at < note + tail; at += kBlock) {
      test::AllocationCounter counter;
      if (at == 0) player->note_on(69, 100);  // A4 440 Hz
      if (at == note) player->note_off(69);
      player->process(block.data(), kBlock);
      allocations += counter.count();
      out.insert(out.end(), block.begin(), block.end());
    }
  }
  CHECK(allocations == 0);
  const double f0 = median_f0(out, rate, size_t(0.15 * rate), note);
  INFO("A4 f0 " << f0 << " Hz");
  CHECK(std::fabs(cents(f0, 440.0)) < 10.0);
  const double level = rms(out, size_t(0.15 * rate), note);
  INFO("note rms " << level);
  CHECK(level > 0.01);
  // Release 150 ms + half a window of tail + latency, then silence.
  const double after = rms(out, note + size_t(0.3 * rate), out.size());
  INFO("rms after release " << after);
  CHECK(after < 1e-4 * level);
}

TEST_CASE("MidiPlayer: successive notes at several block sizes and rates", "[midi_player]") {
  for (double rate : {22050.0, 44100.0, 48000.0}) {
    for (int block : {1, 128, 500}) {
      auto player = oracle_player(rate, block);
      player->note_on(60, 80);  // C4
      const auto first = play(*player, size_t(0.4 * rate), block);
      player->note_off(60);
      player->note_on(72, 80);  // C5
      const auto second = play(*player, size_t(0.4 * rate), block);
      INFO(rate << " Hz, block " << block);
      CHECK(std::fabs(cents(median_f0(first, rate, size_t(0.15 * rate), first.size()),
                            midi_hz(60))) < 10.0);
      CHECK(std::fabs(cents(median_f0(second, rate, size_t(0.2 * rate), second.size()),
                            midi_hz(72))) < 10.0);
    }
  }
}

TEST_CASE("MidiPlayer: the XY pad and the morph sound the latent point they are given",
          "[midi_player]") {
  const double rate = 48000.0;
  auto player = oracle_player(rate);
  const size_t stretch = size_t(0.4 * rate), settle = size_t(0.2 * rate);
  long allocations = 0;
  auto run = [&](auto command) {
    std::vector<float> out;
    std::vector<float> block(kBlock);
    for (size_t at = 0; at < stretch; at += kBlock) {
      test::AllocationCounter counter;
      if (at == 0) command();
      player->process(block.data(), kBlock);
      allocations += counter.count();
      out.insert(out.end(), block.begin(), block.end());
    }
    return median_f0(out, rate, settle, stretch);
  };
  // The oracle's projection: (0, 0) is C4 mf, (1, 0) G4 mf.
  CHECK(std::fabs(cents(run([&] { player->set_pad(0.0f, 0.0f, true); }), midi_hz(60))) < 10.0);
  CHECK(std::fabs(cents(run([&] { player->set_pad(1.0f, 0.0f, true); }), midi_hz(67))) < 10.0);
  CHECK(std::fabs(cents(run([&] { player->set_morph(60, 80, 64, 80, 1.0f, true); }), midi_hz(64))) <
        10.0);
  CHECK(std::fabs(cents(run([&] { player->set_morph(60, 80, 64, 80, 0.0f, true); }), midi_hz(60))) <
        10.0);
  CHECK(allocations == 0);
  // Pad off: silence after the release.
  player->set_pad(0.0f, 0.0f, false);
  const auto out = play(*player, size_t(0.5 * rate));
  CHECK(rms(out, size_t(0.3 * rate), out.size()) < 1e-5);
  // all_notes_off releases notes and the pad.
  player->note_on(60, 100);
  player->set_pad(0.5f, 0.5f, true);
  play(*player, size_t(0.2 * rate));
  CHECK(player->sounding_voices() == 1);
  player->all_notes_off();
  const auto released = play(*player, size_t(0.5 * rate));
  CHECK(player->sounding_voices() == 0);
  CHECK(rms(released, size_t(0.3 * rate), released.size()) < 1e-5);
}

TEST_CASE("MidiPlayer: the stated latency bounds the measured one", "[midi_player]") {
  const double rate = 48000.0, ratio = rate / 22050.0;
  // Reference: the synth itself at 22050 Hz, note on before its first hop,
  // brought to the device rate with the delay-free whole-buffer resampler.
  auto loaded = models::CrossmodalVae::load(oracle_bytes().data(), oracle_bytes().size());
  REQUIRE(loaded.model);
  engine::LiveNoteSynth synth(*loaded.model);
  synth.note_on(69, 100);
  std::vector<float> at_model(22050 / 2);
  for (size_t at = 0; at + 256 <= at_model.size(); at += 256)
    synth.process_hop(at_model.data() + at);
  const auto reference = dsp::resample(at_model, 22050, int(rate));
  const double reference_centre = engine::LiveNoteSynth::latency_samples() * ratio;
  // Onset: where the RMS over the last 256 samples first exceeds 10 % of the
  // reference's (interpolated between samples). An envelope, not the waveform:
  // the tone is periodic and its fine structure (RTPGHI's phases) may differ.
  auto envelope = [](const std::vector<float>& x) {
    std::vector<double> env(x.size());
    double sum = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      sum += double(x[i]) * x[i];
      if (i >= 256) sum -= double(x[i - 256]) * x[i - 256];
      env[i] = std::sqrt(std::max(0.0, sum) / 256.0);
    }
    return env;
  };
  const auto reference_envelope = envelope(reference);
  const double threshold =
      0.1 * *std::max_element(reference_envelope.begin(), reference_envelope.end());
  auto onset = [&](const std::vector<double>& env) {
    for (size_t i = 1; i < env.size(); ++i)
      if (env[i] > threshold) return double(i) - (env[i] - threshold) / (env[i] - env[i - 1]);
    return -1.0;
  };
  const double reference_onset = onset(reference_envelope);
  REQUIRE(reference_onset > 0.0);
  auto player = oracle_player(rate);
  INFO("stated " << player->min_latency_samples() << " .. " << player->max_latency_samples()
                 << ", mean " << player->latency_samples() << " samples (" << player->latency_ms()
                 << " ms)");
  std::vector<double> measured;
  for (int lead_blocks = 0; lead_blocks < 24; ++lead_blocks) {
    player->reset();
    play(*player, size_t(lead_blocks) * kBlock);
    player->note_on(69, 100);
    const auto out = play(*player, size_t(0.45 * rate));
    const double lag = onset(envelope(out)) - reference_onset;
    measured.push_back(lag + reference_centre);
  }
  double mean = 0.0;
  for (double m : measured) {
    CHECK(m >= player->min_latency_samples() - 2);
    CHECK(m <= player->max_latency_samples() + 2);
    mean += m / double(measured.size());
  }
  const auto [shortest, longest] = std::minmax_element(measured.begin(), measured.end());
  INFO("measured " << *shortest << " .. " << *longest << ", mean " << mean);
  // The backlog spreads over most of a device hop.
  CHECK(*longest - *shortest > 0.7 * 256 * ratio);
  CHECK(std::fabs(mean - player->latency_samples()) < 0.15 * 256 * ratio);
}

TEST_CASE("MidiPlayer: golden solo and mixture files play (plumbing)", "[midi_player]") {
  for (const char* which : {"solo", "mixture"}) {
    INFO(which);
    MidiPlayer player({44100.0, kBlock});
    player.set_model(test::load_crossmodal_golden(which));
    std::vector<float> out;
    long allocations = 0;
    std::vector<float> block(kBlock);
    for (int b = 0; b < 400; ++b) {  // 1.16 s
      test::AllocationCounter counter;
      if (b == 0) player.note_on(70, 90);
      if (b == 150) player.note_off(70);
      player.process(block.data(), kBlock);
      allocations += counter.count();
      out.insert(out.end(), block.begin(), block.end());
    }
    CHECK(allocations == 0);
    CHECK(std::all_of(out.begin(), out.end(), [](float v) { return std::isfinite(v); }));
    // Random weights: a quiet sound, but a sound.
    const double level = rms(out, 0, 150 * kBlock);
    CHECK(level > 1e-6);
    CHECK(rms(out, 300 * kBlock, out.size()) < 1e-3 * level);
  }
}

TEST_CASE("MidiPlayer: stated latency at common device rates", "[midi_player]") {
  struct Expected {
    double rate;
    int min, max, mean;
  };
  // The figures of midi_player.h's header comment.
  for (const auto& e : {Expected{48000.0, 2508, 3065, 2786}, Expected{44100.0, 2304, 2815, 2559},
                        Expected{22050.0, 1024, 1279, 1151}}) {
    MidiPlayer player({e.rate, kBlock});
    INFO(e.rate << " Hz: " << player.min_latency_samples() << " .. " << player.max_latency_samples()
                << ", mean " << player.latency_samples());
    CHECK(player.min_latency_samples() == e.min);
    CHECK(player.max_latency_samples() == e.max);
    CHECK(player.latency_samples() == e.mean);
  }
}

// The shipped violin (models/crossmodal/violin, trained on FluidR3 notes):
// what the page plays. Measured: within 3 cents over its range.
TEST_CASE("MidiPlayer: a trained model's notes at 48 kHz have their pitch", "[midi_player]") {
  auto violin = load_shipped_violin();
  const double rate = 48000.0;
  MidiPlayer player({rate, kBlock});
  player.set_model(std::move(violin));
  for (int pitch : {57, 62, 69, 76, 81}) {
    player.note_on(pitch, 100);
    const auto out = play(player, size_t(0.5 * rate));
    player.note_off(pitch);
    play(player, size_t(0.4 * rate));
    const double f0 = median_f0(out, rate, size_t(0.15 * rate), out.size());
    INFO("violin MIDI " << pitch << ": f0 " << f0 << " Hz, " << cents(f0, midi_hz(pitch))
                        << " cents");
    CHECK(std::fabs(cents(f0, midi_hz(pitch))) < 20.0);
  }
}

// The pad plays latent points among the labels' posterior means (see
// CrossmodalVae::latent_from_point) at the median mf note's level: anywhere
// on the shipped violin's pad the level stays within 12 dB of a played A4 mf
// and within 6 dB of itself (the plain linear projection, unnormalised, was
// 6-35 dB quieter than the note and spread over 29 dB).
TEST_CASE("MidiPlayer: the XY pad of a trained model is about as loud as a note", "[midi_player]") {
  auto violin = load_shipped_violin();
  const auto extent = violin->latent_projection().extent;
  const double rate = 48000.0;
  MidiPlayer player({rate, kBlock});
  player.set_model(std::move(violin));
  auto level_db = [](const std::vector<float>& x, size_t from) {
    double sum = 0.0;
    for (size_t i = from; i < x.size(); ++i) sum += double(x[i]) * x[i];
    return 10.0 * std::log10(sum / double(x.size() - from) + 1e-20);
  };
  player.note_on(69, 80);
  const double note_db = level_db(play(player, size_t(0.5 * rate)), size_t(0.2 * rate));
  player.note_off(69);
  play(player, size_t(0.4 * rate));
  double quietest = 0.0, loudest = -200.0;
  for (float fx : {0.2f, 0.5f, 0.8f})
    for (float fy : {0.3f, 0.7f}) {
      const float x = extent[0][0] + fx * (extent[0][1] - extent[0][0]);
      const float y = extent[1][0] + fy * (extent[1][1] - extent[1][0]);
      player.set_pad(x, y, true);
      const double pad_db = level_db(play(player, size_t(0.5 * rate)), size_t(0.2 * rate));
      player.set_pad(x, y, false);
      play(player, size_t(0.4 * rate));
      INFO("pad (" << fx << ", " << fy << "): " << pad_db << " dB, note " << note_db << " dB");
      CHECK(pad_db > note_db - 12.0);
      quietest = std::min(quietest, pad_db);
      loudest = std::max(loudest, pad_db);
    }
  CHECK(loudest - quietest < 6.0);
}
