// Note synthesis with the cross-modal VAE. Pitch, level and latent-path checks
// use the oracle model (crossmodal_test_model.h: a label decodes to the
// constant-Q features of a harmonic tone at its pitch), plumbing checks the
// random golden models.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "crossmodal_test_model.h"
#include "timbrel/dsp/output_guard.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/engine/note_synth.h"

using namespace timbrel;
using engine::Interpolation;
using engine::LiveNoteSynth;
using engine::NoteFrameSynth;
using engine::PhaseMethod;
using engine::RenderOptions;

namespace {

constexpr double kRate = 22050.0;
constexpr int kLatent = models::CrossmodalVae::kLatent;

midi::Note note(int pitch, double start_s, double end_s, int velocity = 80, int channel = 0) {
  midi::Note n;
  n.pitch = pitch;
  n.velocity = velocity;
  n.channel = channel;
  n.start_s = start_s;
  n.end_s = end_s;
  return n;
}

midi::Song song_of(std::vector<midi::Note> notes) {
  midi::Song song;
  song.format = 0;
  song.tracks = 1;
  for (const auto& n : notes) song.duration_s = std::max(song.duration_s, n.end_s);
  song.notes = std::move(notes);
  return song;
}

RenderOptions options_with(PhaseMethod phase) {
  RenderOptions o;
  o.phase = phase;
  return o;
}

// Median YIN f0 of the voiced 1024-sample frames within [from_s, to_s).
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

double midi_hz(int pitch) { return 440.0 * std::pow(2.0, (pitch - 69) / 12.0); }
double cents(double f, double reference) { return 1200.0 * std::log2(f / reference); }

double rms(const std::vector<float>& y, double from_s, double to_s) {
  const size_t a = size_t(from_s * kRate), b = std::min(y.size(), size_t(to_s * kRate));
  double e = 0.0;
  for (size_t i = a; i < b; ++i) e += double(y[i]) * y[i];
  return b > a ? std::sqrt(e / double(b - a)) : 0.0;
}

// Time of frame m's centre: an event at this time applies from frame m.
double frame_time(long m) { return (double(m) * 256.0 - 768.0) / kRate; }

// One latent value a fraction u along a voice's path from p1 to p2 (p0: where
// the path before started): the interpolation mode's formula, written out
// independently of the engine. Cubic is Hermite with tangents (p2 - p0) / 2
// at p1 and 0 at p2; none jumps to p2.
float latent_on_path(Interpolation mode, float p0, float p1, float p2, float u) {
  if (mode == Interpolation::kLinear) return (1 - u) * p1 + u * p2;
  if (mode == Interpolation::kCubic) {
    const float h00 = 2 * u * u * u - 3 * u * u + 1, h10 = u * u * u - 2 * u * u + u;
    const float h01 = -2 * u * u * u + 3 * u * u;
    return h00 * p1 + h10 * 0.5f * (p2 - p0) + h01 * p2;
  }
  return p2;
}

}  // namespace

TEST_CASE("A rendered note has the MIDI pitch (oracle model, both phase methods)", "[note_synth]") {
  auto model = test::load_oracle_model();
  for (const PhaseMethod phase : {PhaseMethod::kGriffinLim, PhaseMethod::kRtpghi}) {
    for (const int pitch : {50, 57, 69, 76, 83}) {
      const auto result =
          engine::render_song(*model, song_of({note(pitch, 0.1, 0.9)}), options_with(phase));
      const double f0 = median_f0(result.samples, 0.3, 0.8);
      INFO(engine::phase_method_name(phase)
           << ", MIDI " << pitch << ": f0 " << f0 << " Hz, want " << midi_hz(pitch));
      REQUIRE(f0 > 0.0);
      CHECK(std::fabs(cents(f0, midi_hz(pitch))) < 20.0);
      CHECK(result.report.notes_rendered == 1);
      CHECK(result.report.notes_transposed == 0);
      CHECK_FALSE(result.report.normalised);
    }
  }
}

TEST_CASE("A render streams its samples while it runs: every sample once, the same result",
          "[note_synth][stream]") {
  auto model = test::load_oracle_model();
  std::vector<midi::Note> notes;
  for (int i = 0; i < 8; ++i) notes.push_back(note(57 + 2 * i, 0.1 + 0.5 * i, 0.5 + 0.5 * i));
  for (const PhaseMethod phase : {PhaseMethod::kGriffinLim, PhaseMethod::kRtpghi}) {
    std::vector<float> streamed;
    int chunks = 0;
    size_t frames_at_first_chunk = 0;
    long frames_done = 0;
    const auto progress = [&](const char*, int done, int) {
      frames_done = done;
      return true;
    };
    const auto result =
        engine::render_song(*model, song_of(notes), options_with(phase), progress,
                            [&](const float* samples, size_t offset, size_t count) {
                              REQUIRE(offset == streamed.size());  // in order, each sample once
                              if (chunks++ == 0) frames_at_first_chunk = size_t(frames_done);
                              streamed.insert(streamed.end(), samples, samples + count);
                            });
    INFO(engine::phase_method_name(phase)
         << ": " << chunks << " chunks, the first after " << frames_at_first_chunk << " of "
         << result.report.frames << " frames");
    REQUIRE(streamed.size() == result.samples.size());
    // Nothing clipped here, so the streamed samples are the result's.
    REQUIRE_FALSE(result.report.normalised);
    CHECK(streamed == result.samples);
    // The first chunk came long before the render's end.
    CHECK(chunks >= 3);
    CHECK(frames_at_first_chunk < size_t(result.report.frames) / 2);
  }
  // Griffin-Lim in segments sounds like the whole-buffer run: same pitch, same level.
  const auto whole =
      engine::render_song(*model, song_of(notes), options_with(PhaseMethod::kGriffinLim));
  std::vector<float> streamed;
  engine::render_song(*model, song_of(notes), options_with(PhaseMethod::kGriffinLim), {},
                      [&](const float* samples, size_t, size_t count) {
                        streamed.insert(streamed.end(), samples, samples + count);
                      });
  for (int i = 0; i < 8; ++i) {
    const double from = 0.25 + 0.5 * i, to = 0.45 + 0.5 * i;
    CHECK(std::fabs(cents(median_f0(streamed, from, to), median_f0(whole.samples, from, to))) <
          10.0);
    CHECK(rms(streamed, from, to) == Approx(rms(whole.samples, from, to)).epsilon(0.1));
  }
}

TEST_CASE("Notes outside the model's range are moved by octaves into it, and counted",
          "[note_synth]") {
  auto model = test::load_oracle_model();  // range 48-84
  // 30 -> 54 (two octaves up), 100 -> 76 (two octaves down).
  const auto result =
      engine::render_song(*model, song_of({note(30, 0.1, 0.8), note(100, 1.0, 1.7)}),
                          options_with(PhaseMethod::kRtpghi));
  CHECK(result.report.notes_transposed == 2);
  CHECK(std::fabs(cents(median_f0(result.samples, 0.3, 0.7), midi_hz(54))) < 20.0);
  CHECK(std::fabs(cents(median_f0(result.samples, 1.2, 1.6), midi_hz(76))) < 20.0);
}

TEST_CASE("Streaming equals the offline render when both use RTPGHI", "[note_synth]") {
  auto model = test::load_oracle_model();
  // Events on frame boundaries: (frame, pitch, velocity; 0 = key-up).
  struct Command {
    long frame;
    int pitch, velocity;
  };
  const std::vector<Command> commands = {{10, 60, 80}, {40, 64, 100}, {60, 60, 0},   {61, 67, 60},
                                         {90, 64, 0},  {95, 67, 0},   {96, 72, 120}, {140, 72, 0}};
  std::vector<midi::Note> notes;
  for (const auto& c : commands) {
    if (c.velocity == 0) continue;
    const auto off = std::find_if(commands.begin(), commands.end(), [&](const Command& o) {
      return o.pitch == c.pitch && o.velocity == 0 && o.frame > c.frame;
    });
    notes.push_back(note(c.pitch, frame_time(c.frame), frame_time(off->frame), c.velocity));
  }
  RenderOptions options = options_with(PhaseMethod::kRtpghi);
  options.synth.temperature = 0.7f;  // the latent draws must line up too
  options.synth.interpolation = Interpolation::kCubic;
  const auto offline = engine::render_song(*model, song_of(notes), options);
  // Where the sum would clip, the offline render was scaled to -1 dBFS.
  const float gain = offline.report.gain;

  LiveNoteSynth live(*model, options.synth);
  std::vector<float> stream(size_t(offline.report.frames) * 256);
  size_t next = 0;
  for (long m = 0; m < offline.report.frames; ++m) {
    for (; next < commands.size() && commands[next].frame == m; ++next) {
      if (commands[next].velocity == 0)
        live.note_off(commands[next].pitch);
      else
        live.note_on(commands[next].pitch, commands[next].velocity);
    }
    live.process_hop(stream.data() + m * 256);
  }
  // The offline samples are in analysis time: the stream lags by window - hop.
  // The render's last stage is the output guard (dsp/output_guard.h, causal):
  // the same guard on the scaled stream.
  std::vector<float> expected;
  for (size_t n = 0; n < offline.samples.size() && n + 1792 < stream.size(); ++n)
    expected.push_back(gain * stream[n + 1792]);
  dsp::guard_offline(expected.data(), long(expected.size()), 22050.0);
  double worst = 0.0, peak = 0.0;
  for (size_t n = 0; n < expected.size(); ++n) {
    worst = std::max(worst, double(std::fabs(offline.samples[n] - expected[n])));
    peak = std::max(peak, double(std::fabs(offline.samples[n])));
  }
  INFO("max |offline - live| " << worst << ", peak " << peak);
  CHECK(peak > 0.01);
  CHECK(worst <= 1e-6);
  CHECK(live.stats().notes == 4);
}

TEST_CASE("Envelopes: silent before the note, silent after note-off + release", "[note_synth]") {
  auto model = test::load_oracle_model();
  for (const PhaseMethod phase : {PhaseMethod::kGriffinLim, PhaseMethod::kRtpghi}) {
    INFO(engine::phase_method_name(phase));
    const auto result =
        engine::render_song(*model, song_of({note(64, 0.5, 1.0)}), options_with(phase));
    const double sustain = rms(result.samples, 0.7, 0.95);
    REQUIRE(sustain > 0.01);
    // Before: the note's first frame reaches back half a window (46 ms) from its start.
    CHECK(rms(result.samples, 0.0, 0.5 - 0.05) < 1e-4 * sustain);
    // After: release 150 ms, then half a window of tail.
    const double after = rms(result.samples, 1.0 + 0.15 + 0.05, result.report.duration_s);
    INFO("sustain rms " << sustain << ", after release " << after);
    CHECK(after < 1e-3 * sustain);  // -60 dB
    // Mid-release the note is quieter than held, but not silent.
    const double mid_release = rms(result.samples, 1.05, 1.1);
    CHECK(mid_release < 0.8 * sustain);
    CHECK(mid_release > 0.05 * sustain);
    CHECK(result.report.duration_s >= 1.15);
  }
}

TEST_CASE("Velocity scales the level within its dynamics class; the class picks the label",
          "[note_synth]") {
  auto model = test::load_oracle_model();  // dynamics velocities 40, 80, 120
  auto level = [&](int velocity) {
    const auto r = engine::render_song(*model, song_of({note(60, 0.1, 0.8, velocity)}),
                                       options_with(PhaseMethod::kRtpghi));
    return rms(r.samples, 0.3, 0.7);
  };
  // 100 is mf (ties 80/120 go to the softer class) x 100/80: RTPGHI's phase
  // does not depend on the scale, so the output scales exactly.
  CHECK(level(100) / level(80) == Approx(1.25).epsilon(1e-3));
  CHECK(level(70) / level(80) == Approx(70.0 / 80.0).epsilon(1e-3));
  // ff's template is 0.4 / 0.15 times mf's in amplitude.
  CHECK(level(120) / level(80) == Approx(0.4 / 0.15).epsilon(0.1));
  CHECK(level(40) / level(80) == Approx(0.05 / 0.15).epsilon(0.1));
}

TEST_CASE("Above kMaxVoices the oldest note is stolen, counted and reported", "[note_synth]") {
  auto model = test::load_oracle_model();
  std::vector<midi::Note> chord;
  for (int i = 0; i < 10; ++i) chord.push_back(note(48 + 3 * i, 0.1 + 0.01 * i, 1.0));
  const auto result =
      engine::render_song(*model, song_of(chord), options_with(PhaseMethod::kRtpghi));
  CHECK(result.report.voices_stolen == 2);
  CHECK(result.report.peak_voices == engine::kMaxVoices);
  CHECK(result.report.notes_rendered == 10);

  // Stolen: the first two notes; their key-ups then find nothing to release.
  NoteFrameSynth synth(*model);
  std::vector<float> magnitude(NoteFrameSynth::kFftBins);
  for (int i = 0; i < 10; ++i) synth.note_on(48 + 3 * i, 80);
  synth.next_frame(magnitude.data());
  CHECK(synth.stats().voices_stolen == 2);
  CHECK(synth.sounding_voices() == 8);
  synth.note_off(48);
  synth.note_off(51);
  for (int k = 0; k < 20; ++k) synth.next_frame(magnitude.data());
  CHECK(synth.sounding_voices() == 8);  // still held: 54 .. 75
  synth.all_notes_off();
  for (int k = 0; k < 20; ++k) synth.next_frame(magnitude.data());
  CHECK(synth.sounding_voices() == 0);
  float sum = 0.0f;
  for (float v : magnitude) sum += v;
  CHECK(sum == 0.0f);
}

TEST_CASE("The drum channel is skipped and reported", "[note_synth]") {
  auto model = test::load_oracle_model();
  const auto result = engine::render_song(
      *model, song_of({note(36, 0.1, 0.3, 100, midi::kDrumChannel), note(60, 0.1, 0.5)}),
      options_with(PhaseMethod::kRtpghi));
  CHECK(result.report.notes == 2);
  CHECK(result.report.drum_notes_skipped == 1);
  CHECK(result.report.notes_rendered == 1);
  const auto only_drums =
      engine::render_song(*model, song_of({note(36, 0.1, 0.3, 100, midi::kDrumChannel)}),
                          options_with(PhaseMethod::kRtpghi));
  CHECK(only_drums.report.notes_rendered == 0);
  CHECK(rms(only_drums.samples, 0.0, only_drums.report.duration_s) == 0.0);
}

TEST_CASE("Successive notes of a voice follow the latent path of the interpolation mode",
          "[note_synth]") {
  auto model = test::load_oracle_model();
  const auto c4 = test::oracle_one_hot(60, 1), g4 = test::oracle_one_hot(67, 1),
             e4 = test::oracle_one_hot(64, 1);
  std::vector<float> magnitude(NoteFrameSynth::kFftBins);
  for (const Interpolation mode :
       {Interpolation::kNone, Interpolation::kLinear, Interpolation::kCubic}) {
    INFO(engine::interpolation_name(mode));
    engine::NoteSynthSettings settings;
    settings.interpolation = mode;
    settings.transition_s = 7 * 256 / kRate;  // 7 frames
    NoteFrameSynth synth(*model, settings);
    synth.note_on(60, 80);
    for (int k = 0; k < 10; ++k) synth.next_frame(magnitude.data());
    // Legato C4 -> G4: the same voice goes on.
    synth.note_off(60);
    synth.note_on(67, 80);
    for (int j = 1; j <= 7; ++j) {
      synth.next_frame(magnitude.data());
      REQUIRE(synth.voice_latent(0));
      CHECK_FALSE(synth.voice_latent(1));
      const float u = float(j) / 7.0f;
      // P0 = P1 = C4 (the voice's first note).
      for (int i = 0; i < kLatent; ++i)
        CHECK(synth.voice_latent(0)[i] ==
              Approx(latent_on_path(mode, c4[size_t(i)], c4[size_t(i)], g4[size_t(i)], u))
                  .margin(1e-5));
    }
    // G4 -> E4: P0 is now C4 (where the last path started).
    synth.note_off(67);
    synth.note_on(64, 80);
    synth.next_frame(magnitude.data());
    const float u = 1.0f / 7.0f;
    for (int i = 0; i < kLatent; ++i)
      CHECK(synth.voice_latent(0)[i] ==
            Approx(latent_on_path(mode, c4[size_t(i)], g4[size_t(i)], e4[size_t(i)], u))
                .margin(1e-5));
    // A held note at rest decodes once: only moving latents are decoded.
    for (int k = 0; k < 10; ++k) synth.next_frame(magnitude.data());
    const long decodes = synth.stats().decodes;
    for (int k = 0; k < 10; ++k) synth.next_frame(magnitude.data());
    CHECK(synth.stats().decodes == decodes);
  }
}

TEST_CASE("Temperature draws around the posterior mean, reproducibly per seed", "[note_synth]") {
  auto model = test::load_oracle_model();
  std::vector<float> magnitude(NoteFrameSynth::kFftBins);
  auto point = [&](float temperature, std::uint32_t seed) {
    engine::NoteSynthSettings settings;
    settings.temperature = temperature;
    settings.seed = seed;
    NoteFrameSynth synth(*model, settings);
    synth.note_on(62, 80);
    synth.next_frame(magnitude.data());
    return std::vector<float>(synth.voice_latent(0), synth.voice_latent(0) + kLatent);
  };
  const auto mean = test::oracle_one_hot(62, 1);
  const auto at_zero = point(0.0f, 1);
  for (int i = 0; i < kLatent; ++i) CHECK(at_zero[size_t(i)] == mean[size_t(i)]);
  CHECK(point(1.0f, 7) == point(1.0f, 7));
  CHECK(point(1.0f, 7) != point(1.0f, 8));
  // sigma = exp(logvar / 2) = 0.05: deviations at temperature 1 are of that size.
  const auto drawn = point(1.0f, 7);
  double sum2 = 0.0;
  for (int i = 0; i < kLatent; ++i) sum2 += std::pow(drawn[size_t(i)] - mean[size_t(i)], 2);
  const double spread = std::sqrt(sum2 / kLatent);
  CHECK(spread > 0.02);
  CHECK(spread < 0.1);
}

TEST_CASE("The XY pad and the morph play the latent points they are given", "[note_synth]") {
  auto model = test::load_oracle_model();  // pad: x = 1 is G4 mf, y = 1 is C4 ff
  auto play = [&](auto&& setup) {
    LiveNoteSynth live(*model);
    setup(live);
    live.pad_on(1.0f);
    std::vector<float> y(size_t(1.0 * kRate) / 256 * 256);
    for (size_t s = 0; s < y.size(); s += 256) live.process_hop(y.data() + s);
    return y;
  };
  const auto g4 = play([](LiveNoteSynth& l) { l.set_latent_point(1.0f, 0.0f); });
  CHECK(std::fabs(cents(median_f0(g4, 0.3, 0.9), midi_hz(67))) < 20.0);
  const auto c4 = play([](LiveNoteSynth& l) { l.set_latent_point(0.0f, 0.0f); });
  CHECK(std::fabs(cents(median_f0(c4, 0.3, 0.9), midi_hz(60))) < 20.0);
  const auto c4ff = play([](LiveNoteSynth& l) { l.set_latent_point(0.0f, 1.0f); });
  // The pad is level-normalised (position changes timbre, not loudness)...
  CHECK(rms(c4ff, 0.3, 0.9) / rms(c4, 0.3, 0.9) == Approx(1.0).epsilon(0.1));
  // ... the morph is not: from C4 mf to C4 ff it gets louder by A_ff / A_mf.
  const auto morph_ff = play([](LiveNoteSynth& l) {
    l.set_morph(60, 80, 60, 120);
    l.set_morph_position(1.0f);
  });
  const auto morph_mf = play([](LiveNoteSynth& l) {
    l.set_morph(60, 80, 60, 120);
    l.set_morph_position(0.0f);
  });
  CHECK(rms(morph_ff, 0.3, 0.9) / rms(morph_mf, 0.3, 0.9) == Approx(0.4 / 0.15).epsilon(0.1));
  const auto morph_b = play([](LiveNoteSynth& l) {
    l.set_morph(60, 80, 72, 80);
    l.set_morph_position(1.0f);
  });
  CHECK(std::fabs(cents(median_f0(morph_b, 0.3, 0.9), midi_hz(72))) < 20.0);
  const auto morph_a = play([](LiveNoteSynth& l) {
    l.set_morph(60, 80, 72, 80);
    l.set_morph_position(0.0f);
  });
  CHECK(std::fabs(cents(median_f0(morph_a, 0.3, 0.9), midi_hz(60))) < 20.0);

  // The pad glides to a new point (one pole, 30 ms) and stops when off.
  NoteFrameSynth synth(*model);
  std::vector<float> magnitude(NoteFrameSynth::kFftBins);
  synth.set_latent_point(0.0f, 0.0f);
  synth.pad_on(0.5f);
  synth.next_frame(magnitude.data());
  REQUIRE(synth.voice_latent(engine::kMaxVoices));
  CHECK(synth.voice_latent(engine::kMaxVoices)[0] == Approx(1.0f));  // C
  synth.set_latent_point(1.0f, 0.0f);
  synth.next_frame(magnitude.data());
  const float c_after_one = synth.voice_latent(engine::kMaxVoices)[0];
  CHECK(c_after_one < 1.0f);
  CHECK(c_after_one > 0.5f);
  for (int k = 0; k < 60; ++k) synth.next_frame(magnitude.data());
  CHECK(synth.voice_latent(engine::kMaxVoices)[0] == Approx(0.0f).margin(1e-3));
  CHECK(synth.voice_latent(engine::kMaxVoices)[7] == Approx(1.0f).margin(1e-3));  // G
  CHECK(synth.sounding_voices() == 0);  // the pad is not a note voice
  synth.pad_off();
  for (int k = 0; k < 20; ++k) synth.next_frame(magnitude.data());
  CHECK_FALSE(synth.voice_latent(engine::kMaxVoices));
}

TEST_CASE("LiveNoteSynth does not allocate while playing", "[note_synth][realtime]") {
  auto model = test::load_crossmodal_golden("mixture");
  engine::NoteSynthSettings settings;
  settings.temperature = 0.5f;
  LiveNoteSynth live(*model, settings);
  std::vector<float> out(256);
  float z[kLatent] = {};
  test::AllocationCounter counter;
  for (int hop = 0; hop < 200; ++hop) {
    if (hop % 7 == 0) live.note_on(40 + hop % 50, 30 + hop % 90);  // steals past 8
    if (hop % 11 == 0) live.note_off(40 + (hop - 22) % 50);
    if (hop == 50) live.pad_on(0.8f);
    if (hop == 60) live.set_latent_point(0.5f, -0.5f);
    if (hop == 80) live.set_latent(z);
    if (hop == 90) live.set_morph(50, 60, 70, 110);
    if (hop == 100) live.set_morph_position(0.4f);
    if (hop == 110) live.set_interpolation(Interpolation::kLinear);
    if (hop == 120) live.set_temperature(0.0f);
    if (hop == 150) live.pad_off();
    if (hop == 160) live.all_notes_off();
    live.process_hop(out.data());
  }
  live.reset();
  live.process_hop(out.data());
  CHECK(counter.count() == 0);
  CHECK(live.stats().notes == 0);  // reset cleared them
}

TEST_CASE("Mixture models play a note in unison on every slot (golden mixture model)",
          "[note_synth]") {
  auto model = test::load_crossmodal_golden("mixture");  // ranges 49-81 (sax), 55-96 (violin)
  const auto result = engine::render_song(
      *model, song_of({note(50, 0.1, 0.5), note(70, 0.6, 0.9), note(90, 1.0, 1.2)}),
      options_with(PhaseMethod::kGriffinLim));
  // 50 is below the violin's range, 90 above the sax's: both moved for one slot.
  CHECK(result.report.notes_transposed == 2);
  CHECK(result.report.notes_rendered == 3);
  bool finite = true;
  for (float v : result.samples) finite = finite && std::isfinite(v);
  CHECK(finite);
  CHECK(rms(result.samples, 0.2, 0.4) > 0.0);
}

TEST_CASE("render_song reports progress, can be cancelled, and rejects bad options",
          "[note_synth][errors]") {
  auto model = test::load_crossmodal_golden("solo");
  const auto song = song_of({note(60, 0.1, 2.0), note(64, 1.0, 2.5)});
  std::vector<std::pair<std::string, int>> calls;
  int frames_total = 0, phase_total = 0;
  RenderOptions options;
  options.iterations = 5;
  const auto result =
      engine::render_song(*model, song, options, [&](const char* stage, int done, int total) {
        calls.emplace_back(stage, done);
        (std::string(stage) == "frames" ? frames_total : phase_total) = total;
        return true;
      });
  REQUIRE(calls.size() > 5);
  CHECK(calls.front().first == "frames");
  CHECK(frames_total == result.report.frames);
  CHECK(phase_total == 5);
  CHECK(calls.back() == std::pair<std::string, int>{"phase", 5});
  const auto last_frames =
      std::find(calls.rbegin(), calls.rend(), std::pair<std::string, int>{"frames", frames_total});
  CHECK(last_frames != calls.rend());

  CHECK_THROWS_AS(engine::render_song(
                      *model, song, options,
                      [](const char* stage, int, int) { return std::string(stage) != "phase"; }),
                  dsp::Cancelled);
  RenderOptions bad;
  bad.synth.temperature = -1.0f;
  CHECK_THROWS_WITH(engine::render_song(*model, song, bad),
                    Catch::Contains("temperature must be within 0-4"));
  bad = RenderOptions();
  bad.synth.release_s = std::nan("");
  CHECK_THROWS_WITH(engine::render_song(*model, song, bad),
                    Catch::Contains("release_s must be within 0-10 s"));
  bad = RenderOptions();
  bad.iterations = -3;
  CHECK_THROWS_WITH(engine::render_song(*model, song, bad),
                    Catch::Contains("Griffin-Lim iterations must be within 0-1000"));
  engine::NoteSynthSettings settings;
  settings.attack_s = 20.0;
  CHECK_THROWS_WITH(NoteFrameSynth(*model, settings), Catch::Contains("attack_s"));

  Interpolation interpolation = Interpolation::kNone;
  CHECK(engine::parse_interpolation("cubic", &interpolation));
  CHECK(interpolation == Interpolation::kCubic);
  CHECK_FALSE(engine::parse_interpolation("spline", &interpolation));
  PhaseMethod phase = PhaseMethod::kGriffinLim;
  CHECK(engine::parse_phase_method("rtpghi", &phase));
  CHECK(phase == PhaseMethod::kRtpghi);
  CHECK_FALSE(engine::parse_phase_method("gl", &phase));
}

TEST_CASE("Event timing: an event applies from the frame centred at or after it", "[note_synth]") {
  CHECK(engine::frame_of_time(0.0) == 3);  // frame 3 is centred on sample 0
  CHECK(engine::frame_of_time(-1.0) == 0);
  for (long m = 3; m < 2000; m += 97) {
    CHECK(engine::frame_of_time(frame_time(m)) == m);
    CHECK(engine::frame_of_time(frame_time(m) + 1e-4) == m + 1);
  }
}
