// Transcription: note segmentation on hand-made frame sequences (no model),
// and the whole path (constant-Q -> encoder -> symbol decoder -> gate -> notes
// -> SMF) with a small model built here whose symbol decoder is set by hand.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "crossmodal_test_model.h"
#include "timbrel/engine/transcriber.h"
#include "timbrel/midi/smf.h"
#include "tmbl_writer.h"

using namespace timbrel;
using engine::segment_notes;
using engine::TranscriberSettings;
using engine::TranscriptionFrame;

namespace {

const std::vector<int> kVelocities = {40, 80, 120};
constexpr double kFrameS = 256.0 / 22050.0;

// Frames built by appending runs; frame m's time is m hops.
struct FrameBuilder {
  std::vector<TranscriptionFrame> frames;
  FrameBuilder& add(int count, int pitch, float level_db = -20.0f, int dynamics = 1, int slot = 0) {
    for (int i = 0; i < count; ++i) {
      TranscriptionFrame f;
      f.time_s = double(frames.size()) * kFrameS;
      f.level_db = level_db;
      f.active = true;
      f.slots[size_t(slot)].pitch = pitch;
      f.slots[size_t(slot)].dynamics = dynamics;
      f.slots[size_t(slot)].confidence = 0.9f;
      frames.push_back(f);
    }
    return *this;
  }
  FrameBuilder& silence(int count) {
    for (int i = 0; i < count; ++i) {
      TranscriptionFrame f;
      f.time_s = double(frames.size()) * kFrameS;
      f.level_db = -90.0f;
      f.active = false;
      f.slots[0].pitch = 37;  // whatever the model says in silence must not matter
      frames.push_back(f);
    }
    return *this;
  }
  // Overwrites the pitch of frames [first, first + count).
  FrameBuilder& set_pitch(int first, int count, int pitch) {
    for (int i = first; i < first + count; ++i) frames[size_t(i)].slots[0].pitch = pitch;
    return *this;
  }
};

std::vector<midi::Note> notes_of(const FrameBuilder& b, const TranscriberSettings& s = {}) {
  return segment_notes(b.frames, 0, s, kVelocities);
}

}  // namespace

TEST_CASE("segment_notes: one held note, bounded by silence", "[transcriber]") {
  FrameBuilder b;
  b.silence(10).add(40, 60).silence(10);
  const auto notes = notes_of(b);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].pitch == 60);
  CHECK(notes[0].velocity == 80);
  CHECK(notes[0].track == 0);
  CHECK(notes[0].channel == 0);
  CHECK(notes[0].start_s == Approx(10 * kFrameS));
  CHECK(notes[0].end_s == Approx(50 * kFrameS));
}

TEST_CASE("segment_notes: octave flicker is filtered", "[transcriber]") {
  FrameBuilder b;
  b.silence(5).add(60, 60).silence(5);
  // Isolated octave jumps, a pair, and three in a row (survives the median,
  // then too short to count as a pitch change).
  b.set_pitch(10, 1, 72).set_pitch(20, 2, 72).set_pitch(35, 3, 48).set_pitch(50, 1, 72);
  const auto notes = notes_of(b);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].pitch == 60);
  CHECK(notes[0].start_s == Approx(5 * kFrameS));
  CHECK(notes[0].end_s == Approx(65 * kFrameS));

  // Without the median and with a one-frame hold, the flicker would split it.
  TranscriberSettings raw;
  raw.median_frames = 1;
  raw.pitch_change_frames = 1;
  raw.min_note_frames = 1;
  CHECK(notes_of(b, raw).size() > 3);
}

TEST_CASE("segment_notes: a pitch change ends a note, a legato line gives one note each",
          "[transcriber]") {
  FrameBuilder b;
  b.silence(4).add(30, 60).add(30, 62).add(8, 64).silence(4);
  const auto notes = notes_of(b);
  REQUIRE(notes.size() == 3);
  CHECK(notes[0].pitch == 60);
  CHECK(notes[1].pitch == 62);
  CHECK(notes[2].pitch == 64);
  CHECK(notes[1].start_s == Approx(34 * kFrameS));
  CHECK(notes[0].end_s == Approx(notes[1].start_s));
  CHECK(notes[2].start_s == Approx(64 * kFrameS));
  CHECK(notes[2].end_s == Approx(72 * kFrameS));
}

TEST_CASE("segment_notes: a deviation shorter than the hold time is absorbed", "[transcriber]") {
  FrameBuilder b;
  b.silence(2).add(20, 60).add(3, 64).add(20, 60).silence(2);
  auto notes = notes_of(b);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].pitch == 60);
  CHECK(notes[0].end_s == Approx(45 * kFrameS));

  // A wrong label on the first frames of a note goes to the note that follows.
  FrameBuilder start;
  start.silence(3).add(2, 67).add(30, 55).silence(3);
  notes = notes_of(start);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].pitch == 55);
  CHECK(notes[0].start_s == Approx(3 * kFrameS));
}

TEST_CASE("segment_notes: gaps and level onsets separate repeated notes", "[transcriber]") {
  SECTION("a gap in activity") {
    FrameBuilder b;
    b.add(20, 60).silence(5).add(20, 60);
    const auto notes = notes_of(b);
    REQUIRE(notes.size() == 2);
    CHECK(notes[0].pitch == 60);
    CHECK(notes[1].pitch == 60);
    CHECK(notes[1].start_s == Approx(25 * kFrameS));
  }
  SECTION("a dip and a re-attack above the gate") {
    FrameBuilder b;
    b.silence(3).add(20, 60, -20.0f).add(2, 60, -32.0f).add(20, 60, -18.0f).silence(3);
    const auto notes = notes_of(b);
    REQUIRE(notes.size() == 2);
    CHECK(notes[0].start_s == Approx(3 * kFrameS));
    // The new note starts on the frame after the lowest one.
    CHECK(notes[1].start_s == Approx(25 * kFrameS));
    CHECK(notes[0].end_s == Approx(notes[1].start_s));
  }
  SECTION("a rise of exactly the threshold does not split") {
    FrameBuilder b;
    b.add(20, 60, -26.0f).add(20, 60, -20.0f);
    CHECK(notes_of(b).size() == 1);
  }
  SECTION("a crescendo is not an onset") {
    FrameBuilder b;
    for (int i = 0; i < 60; ++i) b.add(1, 60, -40.0f + 0.5f * float(i));
    CHECK(notes_of(b).size() == 1);
  }
}

TEST_CASE("segment_notes: minimum note length", "[transcriber]") {
  TranscriberSettings s;
  REQUIRE(s.min_note_frames == 7);  // 81 ms
  FrameBuilder shortest;
  shortest.silence(3).add(6, 60).silence(3).add(7, 62).silence(3);
  const auto notes = notes_of(shortest, s);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].pitch == 62);
  CHECK(notes[0].end_s - notes[0].start_s == Approx(7 * kFrameS));

  // A short note between two others joins the one before it.
  FrameBuilder between;
  between.add(20, 60).add(6, 62).add(20, 64);
  const auto joined = notes_of(between, s);
  REQUIRE(joined.size() == 2);
  CHECK(joined[0].pitch == 60);
  CHECK(joined[0].end_s == Approx(26 * kFrameS));
  CHECK(joined[1].pitch == 64);
}

TEST_CASE("segment_notes: a pitch change moves back to the largest flux", "[transcriber]") {
  // The label switches at frame 40; the new partials arrived at frame 33.
  FrameBuilder b;
  b.add(40, 60).add(30, 67);
  for (auto& f : b.frames) f.flux = 1.0f;
  b.frames[33].flux = 9.0f;
  b.frames[45].flux = 20.0f;  // after the change: not a candidate
  auto notes = notes_of(b);
  REQUIRE(notes.size() == 2);
  CHECK(notes[1].start_s == Approx(33 * kFrameS));
  CHECK(notes[0].end_s == Approx(33 * kFrameS));

  // Only the 12 frames before the change are searched ...
  b.frames[33].flux = 1.0f;
  b.frames[27].flux = 9.0f;
  notes = notes_of(b);
  REQUIRE(notes.size() == 2);
  CHECK(notes[1].start_s == Approx(40 * kFrameS));
  // ... and the note before keeps its minimum length.
  FrameBuilder close;
  close.add(9, 60).add(30, 67);
  close.frames[1].flux = 9.0f;
  notes = notes_of(close);
  REQUIRE(notes.size() == 2);
  CHECK(notes[1].start_s == Approx(9 * kFrameS));
  close.frames[7].flux = 9.0f;
  notes = notes_of(close);
  CHECK(notes[1].start_s == Approx(7 * kFrameS));
  TranscriberSettings off;
  off.boundary_search_frames = 0;
  CHECK(notes_of(close, off)[1].start_s == Approx(9 * kFrameS));
}

TEST_CASE("segment_notes: a note that opens the gate starts where its level rose",
          "[transcriber]") {
  FrameBuilder b;
  b.silence(10);
  // Under the gate: -70 (too far under it), -61, -58, -55, -52, then open at -48.
  const float attack[] = {-70.0f, -61.0f, -58.0f, -55.0f, -52.0f};
  for (int i = 0; i < 5; ++i) b.frames[size_t(5 + i)].level_db = attack[i];
  b.add(20, 60, -48.0f);
  auto notes = notes_of(b);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].start_s == Approx(6 * kFrameS));  // 4 frames back: -61 ... -52
  b.frames[6].level_db = -66.0f;                   // more than 12 dB under the gate
  CHECK(notes_of(b)[0].start_s == Approx(7 * kFrameS));
  b.frames[8].level_db = -51.8f;  // less than 0.5 dB under the next frame: the rise began later
  CHECK(notes_of(b)[0].start_s == Approx(9 * kFrameS));
  TranscriberSettings off;
  off.backtrack_frames = 0;
  CHECK(notes_of(b, off)[0].start_s == Approx(10 * kFrameS));
}

TEST_CASE("segment_notes: velocity from the most frequent dynamics class", "[transcriber]") {
  FrameBuilder b;
  b.add(10, 60, -20.0f, 2).add(6, 60, -20.0f, 0).silence(2).add(5, 62, -20.0f, 0);
  b.add(5, 62, -20.0f, 2).silence(2);  // a tie: the softer class
  // The second note is one pitch run of 10 frames after the gap.
  const auto notes = notes_of(b);
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].velocity == 120);
  CHECK(notes[1].velocity == 40);
}

TEST_CASE("segment_notes: instrument slots become tracks and channels", "[transcriber]") {
  FrameBuilder b;
  b.add(20, 60);
  for (auto& f : b.frames) {
    f.slots[1].pitch = 48;
    f.slots[1].dynamics = 2;
  }
  const auto violin = segment_notes(b.frames, 0, {}, kVelocities);
  const auto sax = segment_notes(b.frames, 1, {}, kVelocities);
  REQUIRE(violin.size() == 1);
  REQUIRE(sax.size() == 1);
  CHECK(sax[0].pitch == 48);
  CHECK(sax[0].track == 1);
  CHECK(sax[0].channel == 1);
  CHECK(sax[0].velocity == 120);
}

TEST_CASE("segment_notes: bad arguments are refused with a message", "[transcriber]") {
  FrameBuilder b;
  b.add(10, 60);
  CHECK_THROWS_WITH(segment_notes(b.frames, 8, {}, kVelocities),
                    Catch::Contains("slot 8 out of range"));
  CHECK_THROWS_WITH(segment_notes(b.frames, 0, {}, {40, 80}),
                    Catch::Contains("one velocity per dynamics class"));
  CHECK_THROWS_WITH(segment_notes(b.frames, 0, {}, {40, 80, 200}),
                    Catch::Contains("velocity 200 outside 1-127"));
  TranscriberSettings even;
  even.median_frames = 4;
  CHECK_THROWS_WITH(segment_notes(b.frames, 0, even, kVelocities), Catch::Contains("odd"));
  TranscriberSettings gate;
  gate.gate_close_db = -40.0f;
  CHECK_THROWS_WITH(segment_notes(b.frames, 0, gate, kVelocities), Catch::Contains("gate"));
  CHECK(segment_notes({}, 0, {}, kVelocities).empty());
}

TEST_CASE("LevelGate: hysteresis between the open and close levels", "[transcriber]") {
  engine::LevelGate gate(-50.0f, -56.0f);
  CHECK_FALSE(gate.update(-52.0f));
  CHECK(gate.update(-49.0f));
  CHECK(gate.update(-55.0f));  // under the open level, over the close level: stays open
  CHECK_FALSE(gate.update(-57.0f));
  CHECK_FALSE(gate.update(-52.0f));  // stays closed until it passes -50 again
  CHECK(gate.update(-45.0f));
}

// --- the whole path, with a model set by hand ---------------------------------

namespace {

// A crossmodal_vae model (M = 1) whose encoder mean[0] is +0.01 x (sum of the
// features below bin 210, ~625 Hz) - 0.01 x (sum above), and whose symbol
// decoder gives pitch class C when mean[0] > 0 and G when it is < 0, octave 3
// and mf always: a low tone transcribes as C3 (48), a high one as G3 (55).
// The signal decoder and symbol encoder are zeros (unused here).
std::vector<std::uint8_t> two_tone_model_bytes(int instruments = 1) {
  using nlohmann::json;
  constexpr int kLatent = 32, kBins = 409, kSplit = 210;
  const int symbols = 24 * instruments;
  std::map<std::string, test::TestTensor> t;
  t["signal_encoder.weight"] = test::zero_tensor({2 * kLatent, kBins});
  t["signal_encoder.bias"] = test::zero_tensor({2 * kLatent});
  for (int b = 0; b < kBins; ++b)
    t["signal_encoder.weight"].data[size_t(b)] = b < kSplit ? 0.01f : -0.01f;
  t["signal_decoder.weight"] = test::zero_tensor({kBins, kLatent});
  t["signal_decoder.bias"] = test::zero_tensor({kBins});
  t["symbol_encoder.weight"] = test::zero_tensor({2 * kLatent, symbols});
  t["symbol_encoder.bias"] = test::zero_tensor({2 * kLatent});
  t["symbol_decoder.weight"] = test::zero_tensor({symbols, kLatent});
  t["symbol_decoder.bias"] = test::zero_tensor({symbols});
  for (int m = 0; m < instruments; ++m) {
    const int base = 24 * m;
    t["symbol_decoder.weight"].data[size_t((base + 0) * kLatent)] = 10.0f;   // C
    t["symbol_decoder.weight"].data[size_t((base + 7) * kLatent)] = -10.0f;  // G
    t["symbol_decoder.bias"].data[size_t(base + 12 + 3)] = 5.0f;             // octave 3
    t["symbol_decoder.bias"].data[size_t(base + 21 + 1)] = 5.0f;             // mf
  }
  std::vector<float> mean(kLatent, 0.0f), x_axis(kLatent, 0.0f), y_axis(kLatent, 0.0f);
  x_axis[0] = 1.0f;
  y_axis[1] = 1.0f;
  json names = json::array(), ranges = json::array();
  for (int m = 0; m < instruments; ++m) {
    names.push_back("tone" + std::to_string(m));
    ranges.push_back({36, 84});
  }
  const json projection = {
      {"mean", mean}, {"axes", {x_axis, y_axis}}, {"extent", {{-1, 1}, {-1, 1}}}};
  using test::linear_op;
  json header = {{"family", "crossmodal_vae"},
                 {"name", "two-tone"},
                 {"metadata", test::crossmodal_metadata(names, ranges, projection)},
                 {"graphs",
                  {{"signal_encoder", {linear_op("signal_encoder")}},
                   {"signal_decoder", {linear_op("signal_decoder")}},
                   {"symbol_encoder", {linear_op("symbol_encoder")}},
                   {"symbol_decoder", {linear_op("symbol_decoder")}}}}};
  return test::write_tmbl(header, t);
}

std::unique_ptr<models::CrossmodalVae> two_tone_model(int instruments = 1) {
  return test::load_crossmodal(two_tone_model_bytes(instruments));
}

constexpr double kRate = 22050.0;

// Appends a sine of `seconds` (amplitude 0 for silence) with 2 ms ramps.
void append_tone(std::vector<float>& x, double hz, double seconds, double amplitude) {
  const size_t n = size_t(std::lround(seconds * kRate));
  const size_t ramp = size_t(0.002 * kRate);
  for (size_t i = 0; i < n; ++i) {
    const double edge = std::min({1.0, double(i) / ramp, double(n - i) / ramp});
    x.push_back(float(amplitude * edge * std::sin(2.0 * M_PI * hz * double(i) / kRate)));
  }
}

// Low tone 0.40 s, rest 0.25 s, high tone 0.40 s, rest 0.25 s, low tone twice
// (0.30 s, a 0.05 s dip to -26 dB relative, 0.30 s: a repeated note), rest.
std::vector<float> tone_sequence() {
  std::vector<float> x;
  append_tone(x, 220.0, 0.40, 0.3);
  append_tone(x, 0.0, 0.25, 0.0);
  append_tone(x, 1760.0, 0.40, 0.3);
  append_tone(x, 0.0, 0.25, 0.0);
  append_tone(x, 220.0, 0.30, 0.3);
  append_tone(x, 220.0, 0.05, 0.015);
  append_tone(x, 220.0, 0.30, 0.3);
  append_tone(x, 0.0, 0.20, 0.0);
  return x;
}

}  // namespace

TEST_CASE("Transcriber: tones become notes with their onsets", "[transcriber]") {
  auto model = two_tone_model();
  engine::Transcriber transcriber(*model);
  const auto x = tone_sequence();
  const auto result = transcriber.transcribe(x.data(), x.size());
  INFO(result.summary);
  REQUIRE(result.notes.size() == 4);
  const double onsets[] = {0.0, 0.65, 1.30, 1.65};
  const int pitches[] = {48, 55, 48, 48};
  for (size_t i = 0; i < 4; ++i) {
    INFO("note " << i << " at " << result.notes[i].start_s);
    CHECK(result.notes[i].pitch == pitches[i]);
    CHECK(result.notes[i].velocity == 80);
    CHECK(std::fabs(result.notes[i].start_s - onsets[i]) < 0.03);
  }
  // Ends: the gate closes when the 1024-sample level window has left the tone
  // (up to 23 ms late), and a note ends one frame (11.6 ms) after its last one.
  CHECK(std::fabs(result.notes[0].end_s - 0.40) < 0.036);
  CHECK(std::fabs(result.notes[1].end_s - 1.05) < 0.036);
  CHECK(std::fabs(result.notes[3].end_s - 1.95) < 0.036);
  CHECK(result.summary.rfind("4 notes", 0) == 0);

  // Frames cover the clip (last centre at or past the last sample), 11.6 ms apart.
  REQUIRE(result.frames.size() > 100);
  CHECK(result.frames.back().time_s >= double(x.size() - 1) / kRate);
  CHECK(result.frames[1].time_s - result.frames[0].time_s == Approx(256.0 / kRate));
  CHECK(result.frames[10].slots[0].confidence > 0.5f);
}

TEST_CASE("Transcriber: streaming frames equal the offline ones and never allocate",
          "[transcriber]") {
  auto model = two_tone_model();
  engine::Transcriber transcriber(*model);
  const auto x = tone_sequence();
  const auto offline = transcriber.transcribe(x.data(), x.size());
  std::vector<float> padded = x;
  padded.resize(offline.frames.size() * 256, 0.0f);
  long allocations = 0;
  for (size_t h = 0; h < offline.frames.size(); ++h) {
    test::AllocationCounter counter;
    const auto& f = transcriber.push_hop(padded.data() + h * 256);
    allocations += counter.count();
    const auto& g = offline.frames[h];
    REQUIRE(f.time_s == g.time_s);
    REQUIRE(f.level_db == g.level_db);
    REQUIRE(f.active == g.active);
    REQUIRE(f.slots[0].pitch == g.slots[0].pitch);
    REQUIRE(f.slots[0].confidence == g.slots[0].confidence);
  }
  CHECK(allocations == 0);

  // A NaN or Inf sample in the stream is silence, not a poisoned state.
  transcriber.reset();
  std::vector<float> hop(256, std::numeric_limits<float>::quiet_NaN());
  hop[3] = std::numeric_limits<float>::infinity();
  const auto& f = transcriber.push_hop(hop.data());
  CHECK(f.level_db == -120.0f);
  CHECK_FALSE(f.active);
  CHECK(std::isfinite(f.slots[0].confidence));
}

TEST_CASE("Transcriber: bad input is refused with the sample named", "[transcriber]") {
  auto model = two_tone_model();
  engine::Transcriber transcriber(*model);
  std::vector<float> x(5000, 0.1f);
  CHECK_THROWS_WITH(transcriber.transcribe(x.data(), 0), Catch::Contains("empty"));
  x[1234] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(transcriber.transcribe(x.data(), x.size()),
                    Catch::Contains("sample 1234") && Catch::Contains("NaN"));
  x[1234] = 0.0f;
  x[4999] = -std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(transcriber.transcribe(x.data(), x.size()),
                    Catch::Contains("sample 4999") && Catch::Contains("infinite"));
  TranscriberSettings bad;
  bad.min_note_frames = 0;
  CHECK_THROWS_AS(engine::Transcriber(*model, bad), std::invalid_argument);
}

TEST_CASE("Transcriber: silence gives no notes and says why", "[transcriber]") {
  auto model = two_tone_model();
  engine::Transcriber transcriber(*model);
  std::vector<float> silence(22050, 0.0f);
  auto result = transcriber.transcribe(silence.data(), silence.size());
  CHECK(result.notes.empty());
  CHECK_FALSE(result.frames.empty());
  CHECK(result.summary.rfind("no notes found: the loudest frame is -120.0 dBFS", 0) == 0);
  CHECK_THAT(result.summary, Catch::Contains("-50.0 dBFS gate"));

  // Faint noise under the gate: still no notes.
  std::vector<float> faint(22050);
  for (size_t i = 0; i < faint.size(); ++i) faint[i] = (i % 2 ? 1e-4f : -1e-4f);
  result = transcriber.transcribe(faint.data(), faint.size());
  CHECK(result.notes.empty());
  CHECK_THAT(result.summary, Catch::Contains("-80.0 dBFS"));
}

TEST_CASE("Transcriber: transcribed notes survive a MIDI file round trip", "[transcriber]") {
  auto model = two_tone_model();
  engine::Transcriber transcriber(*model);
  const auto x = tone_sequence();
  const auto result = transcriber.transcribe(x.data(), x.size());
  REQUIRE(result.notes.size() == 4);
  const auto bytes = midi::write_smf(result.notes, 120.0, 480);
  const auto parsed = midi::parse_smf(bytes.data(), bytes.size());
  INFO(parsed.error);
  REQUIRE(parsed.ok());
  CHECK(parsed.song.format == 0);
  REQUIRE(parsed.song.notes.size() == result.notes.size());
  const double half_tick = 0.5 * 60.0 / 120.0 / 480.0;
  for (size_t i = 0; i < result.notes.size(); ++i) {
    const auto& a = result.notes[i];
    const auto& b = parsed.song.notes[i];
    CHECK(b.pitch == a.pitch);
    CHECK(b.velocity == a.velocity);
    CHECK(b.channel == a.channel);
    CHECK(std::fabs(b.start_s - a.start_s) <= half_tick + 1e-9);
    CHECK(std::fabs(b.end_s - a.end_s) <= half_tick + 1e-9);
  }
}

TEST_CASE("Transcriber: a mixture model gives one track per instrument", "[transcriber]") {
  auto model = two_tone_model(2);
  engine::Transcriber transcriber(*model);
  REQUIRE(transcriber.instruments() == 2);
  const auto x = tone_sequence();
  const auto result = transcriber.transcribe(x.data(), x.size());
  CHECK(result.instruments == 2);
  REQUIRE(result.notes.size() == 8);
  int per_track[2] = {0, 0};
  for (const auto& n : result.notes) {
    REQUIRE((n.track == 0 || n.track == 1));
    CHECK(n.channel == n.track);
    ++per_track[n.track];
  }
  CHECK(per_track[0] == 4);
  CHECK(per_track[1] == 4);

  // The golden mixture model (random weights, from the PyTorch side) runs too.
  auto golden = test::load_crossmodal_golden("mixture");
  engine::Transcriber plain(*golden);
  const auto r = plain.transcribe(x.data(), x.size());
  CHECK(r.instruments == golden->instruments());
  for (const auto& n : r.notes) CHECK(n.track < golden->instruments());
}
