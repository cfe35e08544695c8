// Hostile audio through every engine: NaN/Inf bursts, DC, a full-scale square,
// denormals, sudden +40 dB jumps and minutes of silence (Voice, Listen), hostile
// curves (Draw) and commands (MIDI), loud sung input through the shipped voice
// models, and a model whose output is absurd. The output is always finite and
// inside [-1, 1]; nothing allocates; a NaN burst is forgotten within a window.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "crossmodal_test_model.h"
#include "signals.h"
#include "timbrel/engine/draw_player.h"
#include "timbrel/engine/listen_analyzer.h"
#include "timbrel/engine/midi_player.h"
#include "timbrel/engine/note_synth.h"
#include "timbrel/engine/voice_transfer.h"
#include "vq_test_model.h"

using namespace timbrel;
namespace fs = std::filesystem;

namespace {

constexpr double kRate = 48000.0;
constexpr int kBlock = 128;
const float kNan = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

fs::path models_dir() { return fs::path(TIMBREL_GOLDEN_DIR) / ".." / ".." / "models"; }

float peak(const std::vector<float>& x, size_t from = 0, size_t to = SIZE_MAX) {
  float p = 0.0f;
  for (size_t i = from; i < std::min(to, x.size()); ++i) p = std::max(p, std::fabs(x[i]));
  return p;
}

double rms(const std::vector<float>& x, size_t from, size_t to) {
  double e = 0.0;
  to = std::min(to, x.size());
  for (size_t i = from; i < to; ++i) e += double(x[i]) * x[i];
  return std::sqrt(e / double(std::max<size_t>(to - from, 1)));
}

bool finite_inside(const std::vector<float>& x) {
  return std::all_of(x.begin(), x.end(),
                     [](float v) { return std::isfinite(v) && std::fabs(v) <= 1.0f; });
}

// A sung-like tone: 196 Hz with vibrato and 30 harmonics.
std::vector<float> sung(double seconds, double amplitude, double rate = kRate) {
  std::vector<float> x(size_t(seconds * rate));
  const double pi = std::acos(-1.0);
  double phase = 0.0;
  for (size_t n = 0; n < x.size(); ++n) {
    const double f0 = 196.0 * (1.0 + 0.01 * std::sin(2.0 * pi * 5.5 * double(n) / rate));
    phase += 2.0 * pi * f0 / rate;
    double v = 0.0;
    for (int h = 1; h <= 30 && h * f0 < rate / 2; ++h) v += std::sin(h * phase + 0.3 * h) / h;
    x[n] = float(amplitude * v / 4.0);
  }
  return x;
}

std::vector<float> concat(std::initializer_list<std::vector<float>> parts) {
  std::vector<float> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// Everything hostile in one stream (device rate 48 kHz).
std::vector<float> hostile_stream() {
  auto nan_burst = std::vector<float>(size_t(0.02 * kRate), kNan);
  for (size_t i = 0; i < nan_burst.size(); i += 3) nan_burst[i] = i % 2 ? kInf : -kInf;
  std::vector<float> square(size_t(0.5 * kRate));
  for (size_t n = 0; n < square.size(); ++n) square[n] = (n / 109) % 2 ? 1.0f : -1.0f;
  auto jump_quiet = sung(0.5, 0.01);                                // -40 dB
  auto jump_loud = sung(1.0, 1.0);                                  // then +40 dB at once
  for (auto& v : jump_loud) v = std::clamp(3.0f * v, -1.0f, 1.0f);  // and clipped
  return concat({sung(0.5, 0.5), nan_burst, sung(1.0, 0.5), std::vector<float>(24000, 1.0f), square,
                 std::vector<float>(24000, 1e-39f), jump_quiet, jump_loud,
                 std::vector<float>(24000, -kInf), sung(0.5, 0.5)});
}

template <class Engine>
std::vector<float> stream(Engine& engine, const std::vector<float>& x, long* allocations) {
  std::vector<float> y(x.size());
  for (size_t pos = 0; pos < x.size(); pos += kBlock) {
    const int n = int(std::min<size_t>(kBlock, x.size() - pos));
    test::AllocationCounter counter;
    engine.process(x.data() + pos, y.data() + pos, n);
    *allocations += counter.count();
  }
  return y;
}

std::unique_ptr<models::VqTimbre> vq_model(const std::string& name) {
  const auto path = models_dir() / name / (name + ".tmbl");
  auto loaded = models::VqTimbre::load_file(path.string());
  INFO(path.string() << ": " << loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

}  // namespace

TEST_CASE("Hostile audio through the voice engine: finite, inside [-1, 1], no allocation",
          "[hostile][transfer]") {
  engine::VoiceTransfer voice({kRate, kBlock});
  voice.set_model(test::load_vq_test_model());
  voice.set_input_gain_db(12.0f);
  voice.set_dry_wet(0.7f);  // the dry voice too: its full-scale square is limited
  long allocations = 0;
  const auto y = stream(voice, hostile_stream(), &allocations);
  CHECK(finite_inside(y));
  CHECK(allocations == 0);
  CHECK(voice.nonfinite_inputs() > 0);
  CHECK(voice.guard_state() == dsp::GuardState::kLimiting);
  // The shipped models through the same stream: limited where needed, never muted.
  for (const char* name : {"flute", "trumpet"}) {
    engine::VoiceTransfer shipped({kRate, kBlock});
    shipped.set_model(vq_model(name));
    shipped.set_input_gain_db(12.0f);
    const auto z = stream(shipped, hostile_stream(), &allocations);
    INFO(name);
    CHECK(finite_inside(z));
    CHECK_FALSE(shipped.model_guard().muted());
  }
  // Two minutes of silence afterwards: silence out (no denormal noise, no drift).
  const auto quiet = stream(voice, std::vector<float>(size_t(120 * kRate), 0.0f), &allocations);
  CHECK(finite_inside(quiet));
  // The model's own noise floor, steady: no growth over two minutes.
  const size_t tail = size_t(10 * kRate);
  CHECK(rms(quiet, quiet.size() - tail, quiet.size()) <=
        1.01 * rms(quiet, size_t(30 * kRate), size_t(30 * kRate) + tail) + 1e-7);
  CHECK(allocations == 0);
}

TEST_CASE("Voice engine: a NaN burst is forgotten within one window", "[hostile][transfer]") {
  const auto clean = sung(2.0, 0.5);
  auto burst = clean;
  const size_t from = size_t(0.8 * kRate), to = from + size_t(0.02 * kRate);
  auto zeros = clean;
  for (size_t i = from; i < to; ++i) {
    burst[i] = i % 2 ? kNan : kInf;
    zeros[i] = 0.0f;
  }
  auto run = [](const std::vector<float>& x) {
    engine::VoiceTransfer voice({kRate, kBlock});
    voice.set_model(test::load_vq_test_model());
    long allocations = 0;
    auto y = stream(voice, x, &allocations);
    return std::make_pair(y, voice.latency_samples());
  };
  const auto [with_burst, latency] = run(burst);
  const auto [with_zeros, latency_z] = run(zeros);
  const auto [reference, latency_r] = run(clean);
  CHECK(finite_inside(with_burst));
  // The burst is exactly a gap of silence: nothing non-finite reaches the state.
  CHECK(with_burst == with_zeros);
  // One analysis window (1024 samples at 22050 Hz) after the burst has passed
  // through, the output is back to the clean run's level.
  const size_t window = size_t(std::ceil(1024 * kRate / 22050.0));
  const size_t back = to + size_t(latency) + window;
  const double a = rms(with_burst, back, back + size_t(0.5 * kRate));
  const double b = rms(reference, back, back + size_t(0.5 * kRate));
  INFO("rms after the burst " << a << ", clean " << b);
  CHECK(b > 1e-3);
  CHECK(std::fabs(20.0 * std::log10(a / b)) < 1.0);
}

TEST_CASE("Shipped voice models: loud sung input stays inside [-1, 1]; normal input untouched",
          "[hostile][transfer][shipped]") {
  // The models that exceeded full scale on loud speech before the guard, and the rest.
  for (const char* name : {"flute", "trumpet", "clarinet", "alto_sax", "violin", "cello"}) {
    if (!fs::exists(models_dir() / name)) continue;
    engine::VoiceTransfer voice({kRate, kBlock});
    voice.set_model(vq_model(name));
    auto loud = sung(3.0, 1.0);
    for (auto& v : loud) v = std::clamp(4.0f * v, -1.0f, 1.0f);  // loud and clipped
    voice.set_input_gain_db(12.0f);
    long allocations = 0;
    const auto y = stream(voice, loud, &allocations);
    const float model_peak = voice.output_guard().peak_in();
    const float reduction = voice.output_guard().min_gain_db();
    std::printf(
        "guard: %-9s loud clipped sung input (+12 dB): model peak %.2f (%+.1f dBFS), "
        "output peak %.3f, largest gain reduction %.1f dB\n",
        name, double(model_peak), 20.0 * std::log10(std::max(1e-9, double(model_peak))),
        double(peak(y)), double(reduction));
    INFO(name);
    CHECK(finite_inside(y));
    CHECK(peak(y) <= 0.8913f);
    CHECK_FALSE(voice.model_guard().muted());  // loud, but sound: limited, not muted
    CHECK(allocations == 0);

    // Normal level (peaks near -12 dBFS): the limiter never acts.
    engine::VoiceTransfer normal({kRate, kBlock});
    normal.set_model(vq_model(name));
    const auto z = stream(normal, sung(3.0, 0.25), &allocations);
    std::printf("guard: %-9s normal sung input: output peak %.3f, gain reduction %.1f dB\n", name,
                double(peak(z)), double(normal.output_guard().min_gain_db()));
    CHECK(normal.output_guard().min_gain_db() == 0.0f);
  }
}

TEST_CASE("A voice model whose output is absurd is muted and reported; the next one plays",
          "[hostile][transfer]") {
  test::VqTestModelOptions absurd;
  absurd.gain_bias = 60.0f;  // softplus(60) = 60: about +40 dB over the test model
  engine::VoiceTransfer voice({kRate, kBlock});
  voice.set_model(test::load_vq_test_model(absurd));
  long allocations = 0;
  const auto y = stream(voice, sung(1.5, 0.5), &allocations);
  CHECK(finite_inside(y));
  CHECK(voice.guard_state() == dsp::GuardState::kMuted);
  CHECK(std::string(voice.model_guard().mute_reason()) == "above +12 dBFS");
  CHECK(peak(y, y.size() / 2) == 0.0f);  // silent once muted (dry/wet 1: wet only)
  CHECK(allocations == 0);
  voice.set_model(test::load_vq_test_model());
  const auto z = stream(voice, sung(1.0, 0.5), &allocations);
  CHECK(voice.guard_state() != dsp::GuardState::kMuted);
  CHECK(peak(z, z.size() / 2) > 0.01f);
}

TEST_CASE("Hostile audio through the listen monitor: finite and inside [-1, 1]",
          "[hostile][listen]") {
  engine::ListenAnalyzer listen(engine::ListenAnalyzerConfig(kRate, kBlock));
  listen.set_monitor_gain(4.0f);
  long allocations = 0;
  const auto y = stream(listen, hostile_stream(), &allocations);
  CHECK(finite_inside(y));
  CHECK(allocations == 0);
  engine::AnalysisFrame frame;
  int frames = 0;
  while (listen.pop_frame(frame, nullptr)) {
    ++frames;
    CHECK(std::isfinite(frame.spectral.rms_db));
  }
  CHECK(frames > 0);
}

TEST_CASE("Hostile curves through the draw player: finite, inside [-1, 1]; absurd gain muted",
          "[hostile][draw]") {
  const auto file = fs::path(TIMBREL_GOLDEN_DIR) / "draw" / "model.tmbl";
  auto loaded = models::DescriptorSynth::load_file(file.string());
  INFO(loaded.error);
  REQUIRE(loaded.synth);
  engine::DrawPlayer player(engine::DrawPlayerConfig(kRate, kBlock, 400));
  player.set_synth(std::move(loaded.synth));
  auto& curves = player.pending();
  curves.hops = 300;
  const std::vector<float> hostile = {kNan, kInf, -kInf, 1e30f, -1e30f, 0.0f, 1e-39f, 3000.0f};
  for (auto d : models::kAllDescriptors) {
    curves.curve(d).resize(300);
    for (size_t t = 0; t < 300; ++t) curves.curve(d)[t] = hostile[(t / 7 + size_t(d)) % 8];
  }
  curves.gain.assign(300, 1.0f);
  for (size_t t = 0; t < 300; t += 11) curves.gain[t] = t % 2 ? kNan : 40.0f;
  REQUIRE(player.commit().empty());
  player.play();
  long allocations = 0;
  std::vector<float> y(size_t(4 * kRate));
  for (size_t pos = 0; pos < y.size(); pos += kBlock) {
    test::AllocationCounter counter;
    player.process(y.data() + pos, kBlock);
    allocations += counter.count();
  }
  CHECK(finite_inside(y));
  CHECK(allocations == 0);
  // A gain of 10^4 throughout: absurd, so muted (and said).
  curves.gain.assign(300, 1e4f);
  REQUIRE(player.commit().empty());
  player.play();
  for (size_t pos = 0; pos < y.size(); pos += kBlock) player.process(y.data() + pos, kBlock);
  CHECK(finite_inside(y));
  CHECK(player.guard_state() == dsp::GuardState::kMuted);
}

TEST_CASE("Hostile commands through the MIDI player and a dense song: finite, inside [-1, 1]",
          "[hostile][midi_player]") {
  const auto bytes = test::oracle_model_bytes();
  engine::MidiPlayer player({kRate, kBlock});
  REQUIRE(player.load_model(bytes.data(), bytes.size()).empty());
  long allocations = 0;
  std::vector<float> y(size_t(3 * kRate));
  for (size_t pos = 0, k = 0; pos < y.size(); pos += kBlock, ++k) {
    test::AllocationCounter counter;
    if (k % 40 == 0) {
      for (int p = 40; p < 90; p += 3) player.note_on(p, 127);  // every voice, loudest
      player.note_on(-5, 1000);
      player.note_on(300, -3);
      player.set_pad(kNan, kInf, true);
      player.set_morph(60, 127, 72, 127, kNan, true);
      player.set_temperature(kInf);
    }
    if (k % 40 == 20) player.all_notes_off();
    player.process(y.data() + pos, kBlock);
    allocations += counter.count();
  }
  CHECK(finite_inside(y));
  CHECK(allocations == 0);

  // Offline: 40 loud notes at once through render_song.
  auto loaded = models::CrossmodalVae::load(bytes.data(), bytes.size());
  REQUIRE(loaded.model);
  midi::Song song;
  for (int i = 0; i < 40; ++i) song.notes.push_back({0, 0, 40 + i, 127, 0.1, 1.5});
  song.duration_s = 1.5;
  engine::RenderOptions options;
  options.phase = engine::PhaseMethod::kRtpghi;
  const auto result = engine::render_song(*loaded.model, song, options);
  CHECK(finite_inside(result.samples));
  CHECK(peak(result.samples) <= 0.8913f);
  CHECK_FALSE(result.report.muted);
}

TEST_CASE("render_song refuses songs past the limits", "[hostile][note_synth]") {
  const auto bytes = test::oracle_model_bytes();
  auto loaded = models::CrossmodalVae::load(bytes.data(), bytes.size());
  REQUIRE(loaded.model);
  midi::Song song;
  song.notes.push_back({0, 0, 60, 100, 0.0, 3600.0});  // an hour
  song.duration_s = 3600.0;
  CHECK_THROWS_WITH(engine::render_song(*loaded.model, song, engine::RenderOptions{}),
                    Catch::Contains("at most 600 s"));
}
