#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "timbrel/midi/smf.h"

using namespace timbrel;
using Bytes = std::vector<std::uint8_t>;

namespace {

// A track chunk's events, written byte by byte so that tests can also write
// what a careful writer would not (running status, garbage).
class TrackBytes {
 public:
  TrackBytes& delta(std::uint32_t ticks) {
    std::uint8_t groups[4];
    int count = 0;
    do {
      groups[count++] = std::uint8_t(ticks & 0x7F);
      ticks >>= 7;
    } while (ticks != 0);
    for (int i = count - 1; i >= 0; --i) bytes.push_back(std::uint8_t(groups[i] | (i ? 0x80 : 0)));
    return *this;
  }
  TrackBytes& raw(std::initializer_list<int> values) {
    for (int v : values) bytes.push_back(std::uint8_t(v));
    return *this;
  }
  TrackBytes& on(std::uint32_t dt, int channel, int pitch, int velocity) {
    return delta(dt).raw({0x90 | channel, pitch, velocity});
  }
  TrackBytes& off(std::uint32_t dt, int channel, int pitch) {
    return delta(dt).raw({0x80 | channel, pitch, 64});
  }
  TrackBytes& tempo(std::uint32_t dt, std::uint32_t micros) {
    return delta(dt).raw(
        {0xFF, 0x51, 0x03, int(micros >> 16), int((micros >> 8) & 0xFF), int(micros & 0xFF)});
  }
  TrackBytes& name(std::uint32_t dt, const std::string& text) {
    delta(dt).raw({0xFF, 0x03, int(text.size())});
    bytes.insert(bytes.end(), text.begin(), text.end());
    return *this;
  }
  TrackBytes& end(std::uint32_t dt) { return delta(dt).raw({0xFF, 0x2F, 0x00}); }
  Bytes bytes;
};

void put_be(Bytes* out, std::uint32_t value, int count) {
  for (int i = count - 1; i >= 0; --i) out->push_back(std::uint8_t(value >> (8 * i)));
}

void put_chunk(Bytes* out, const char* type, const Bytes& body) {
  out->insert(out->end(), type, type + 4);
  put_be(out, std::uint32_t(body.size()), 4);
  out->insert(out->end(), body.begin(), body.end());
}

Bytes smf(int format, int division, const std::vector<TrackBytes>& tracks, int claimed = -1) {
  Bytes out = {'M', 'T', 'h', 'd'};
  put_be(&out, 6, 4);
  put_be(&out, std::uint32_t(format), 2);
  put_be(&out, std::uint32_t(claimed < 0 ? int(tracks.size()) : claimed), 2);
  put_be(&out, std::uint32_t(division), 2);
  for (const auto& t : tracks) put_chunk(&out, "MTrk", t.bytes);
  return out;
}

midi::SmfParseResult parse(const Bytes& bytes) {
  return midi::parse_smf(bytes.data(), bytes.size());
}

midi::Song parse_ok(const Bytes& bytes) {
  auto r = parse(bytes);
  INFO(r.error);
  REQUIRE(r.ok());
  return r.song;
}

std::string error_of(const Bytes& bytes) {
  auto r = parse(bytes);
  CHECK_FALSE(r.ok());
  CHECK(r.song.notes.empty());
  return r.error;
}

void check_note(const midi::Note& n, int track, int channel, int pitch, int velocity,
                double start_s, double end_s) {
  INFO("note pitch " << n.pitch << " start " << n.start_s << " end " << n.end_s);
  CHECK(n.track == track);
  CHECK(n.channel == channel);
  CHECK(n.pitch == pitch);
  CHECK(n.velocity == velocity);
  CHECK(n.start_s == Approx(start_s).margin(1e-12));
  CHECK(n.end_s == Approx(end_s).margin(1e-12));
}

// Format 1, 480 ticks per quarter: a tempo track (100 BPM, 200 BPM at tick
// 960), a violin track and a drum track (channel 10) that also sets 60 BPM at
// tick 1920; an unknown chunk sits between the tracks.
Bytes three_track_song() {
  TrackBytes tempo_track;
  tempo_track.name(0, "Tempo").tempo(0, 600000).tempo(960, 300000).end(0);
  TrackBytes violin;
  violin.name(0, "Violin")
      .on(480, 0, 67, 90)
      .off(960, 0, 67)
      .on(480, 0, 69, 100)
      .off(480, 0, 69)
      .end(0);
  TrackBytes drums;
  drums.name(0, "Drums").on(960, 9, 36, 120).off(240, 9, 36).tempo(720, 1000000).end(480);
  Bytes out = smf(1, 480, {tempo_track});
  put_chunk(&out, "XFIH", {1, 2, 3, 4, 5});  // unknown: skipped
  put_chunk(&out, "MTrk", violin.bytes);
  put_chunk(&out, "MTrk", drums.bytes);
  out[10] = 0;
  out[11] = 3;  // three tracks
  return out;
}

void check_invariants(const midi::Song& song) {
  REQUIRE(song.tracks >= 1);
  REQUIRE(int(song.track_names.size()) == song.tracks);
  for (size_t i = 0; i < song.notes.size(); ++i) {
    const auto& n = song.notes[i];
    REQUIRE(n.track >= 0);
    REQUIRE(n.track < song.tracks);
    REQUIRE(n.channel >= 0);
    REQUIRE(n.channel < 16);
    REQUIRE(n.pitch >= 0);
    REQUIRE(n.pitch < 128);
    REQUIRE(n.velocity >= 1);
    REQUIRE(n.velocity <= 127);
    REQUIRE(std::isfinite(n.start_s));
    REQUIRE(n.start_s >= 0.0);
    REQUIRE(n.end_s >= n.start_s);
    REQUIRE(n.end_s <= song.duration_s);
    if (i > 0) REQUIRE(song.notes[i - 1].start_s <= n.start_s);
  }
  for (size_t i = 1; i < song.tempo_changes.size(); ++i) {
    REQUIRE(song.tempo_changes[i - 1].tick < song.tempo_changes[i].tick);
    REQUIRE(song.tempo_changes[i - 1].time_s <= song.tempo_changes[i].time_s);
  }
}

std::vector<midi::Note> sorted(std::vector<midi::Note> notes) {
  std::sort(notes.begin(), notes.end(), [](const midi::Note& a, const midi::Note& b) {
    return std::tie(a.start_s, a.track, a.channel, a.pitch, a.end_s, a.velocity) <
           std::tie(b.start_s, b.track, b.channel, b.pitch, b.end_s, b.velocity);
  });
  return notes;
}

}  // namespace

TEST_CASE("SMF format 0 with a tempo change mid-song", "[smf]") {
  TrackBytes t;
  t.name(0, "Melody")
      .tempo(0, 500000)  // 120 BPM: 1/960 s per tick
      .on(0, 0, 60, 80)
      .off(480, 0, 60)     // 0 .. 0.5 s
      .tempo(480, 250000)  // 240 BPM from tick 960 = 1.0 s: 1/1920 s per tick
      .on(0, 0, 62, 81)    // 1.0 s
      .off(480, 0, 62)     // 1.25 s
      .on(0, 1, 64, 82)    // 1.25 s, channel 2
      .off(960, 1, 64)     // 1.75 s
      .end(192);           // 1.85 s
  const auto song = parse_ok(smf(0, 480, {t}));
  CHECK(song.format == 0);
  CHECK(song.tracks == 1);
  CHECK(song.division == 480);
  CHECK(song.track_names == std::vector<std::string>{"Melody"});
  REQUIRE(song.notes.size() == 3);
  check_note(song.notes[0], 0, 0, 60, 80, 0.0, 0.5);
  check_note(song.notes[1], 0, 0, 62, 81, 1.0, 1.25);
  check_note(song.notes[2], 0, 1, 64, 82, 1.25, 1.75);
  REQUIRE(song.tempo_changes.size() == 2);
  CHECK(song.tempo_changes[1].tick == 960);
  CHECK(song.tempo_changes[1].time_s == Approx(1.0));
  CHECK(song.tempo_changes[1].bpm() == Approx(240.0));
  CHECK(song.duration_s == Approx(1.85));
  CHECK(song.notes_closed_at_end == 0);
  CHECK(song.unmatched_note_offs == 0);
  CHECK(song.drum_notes() == 0);
  check_invariants(song);
}

TEST_CASE("SMF format 1: tempo changes of any track apply to every track", "[smf]") {
  const auto song = parse_ok(three_track_song());
  CHECK(song.format == 1);
  CHECK(song.tracks == 3);
  CHECK(song.track_names == std::vector<std::string>{"Tempo", "Violin", "Drums"});
  // 100 BPM: 1.25 ms per tick to tick 960 (1.2 s); 200 BPM: 0.625 ms per tick
  // to tick 1920 (1.8 s); then 60 BPM: 1/480 s per tick.
  REQUIRE(song.tempo_changes.size() == 3);
  CHECK(song.tempo_changes[0].bpm() == Approx(100.0));
  CHECK(song.tempo_changes[1].time_s == Approx(1.2));
  CHECK(song.tempo_changes[2].tick == 1920);
  CHECK(song.tempo_changes[2].time_s == Approx(1.8));
  REQUIRE(song.notes.size() == 3);
  check_note(song.notes[0], 1, 0, 67, 90, 0.6, 1.5);    // ticks 480 .. 1440
  check_note(song.notes[1], 2, 9, 36, 120, 1.2, 1.35);  // ticks 960 .. 1200, drums
  check_note(song.notes[2], 1, 0, 69, 100, 1.8, 2.8);   // ticks 1920 .. 2400
  CHECK(song.notes[1].drum());
  CHECK_FALSE(song.notes[0].drum());
  CHECK(song.drum_notes() == 1);
  CHECK(song.duration_s == Approx(2.8));  // the drum track ends at tick 2400 too
  check_invariants(song);
}

TEST_CASE("SMF two tempo events at one tick: the later one (by track, then order) holds", "[smf]") {
  TrackBytes a, b;
  a.tempo(0, 1000000).tempo(0, 250000).on(480, 0, 60, 64).off(480, 0, 60).end(0);
  b.tempo(480, 500000).end(0);
  const auto song = parse_ok(smf(1, 480, {a, b}));
  REQUIRE(song.tempo_changes.size() == 2);
  CHECK(song.tempo_changes[0].micros_per_quarter == 250000);
  CHECK(song.tempo_changes[1].time_s == Approx(0.25));
  REQUIRE(song.notes.size() == 1);
  check_note(song.notes[0], 0, 0, 60, 64, 0.25, 0.75);
}

TEST_CASE("SMF running status, also across meta and sysex events", "[smf]") {
  TrackBytes t;
  t.delta(0)
      .raw({0x91, 60, 100})  // note-on, channel 2
      .delta(240)
      .raw({64, 90})  // running status: another note-on
      .delta(0)
      .raw({0xFF, 0x01, 0x02, 'h', 'i'})  // text meta
      .delta(0)
      .raw({0xF0, 0x03, 0x7E, 0x7F, 0xF7})  // sysex, skipped
      .delta(240)
      .raw({60, 0})  // still note-on status: velocity 0 ends 60
      .delta(0)
      .raw({0xB1, 7, 100})  // control change: new running status
      .delta(0)
      .raw({10, 64})  // running control change, not a note
      .delta(480)
      .raw({0x81, 64, 0})
      .end(0);
  const auto song = parse_ok(smf(0, 480, {t}));
  REQUIRE(song.notes.size() == 2);
  check_note(song.notes[0], 0, 1, 60, 100, 0.0, 0.5);
  check_note(song.notes[1], 0, 1, 64, 90, 0.25, 1.0);
  CHECK(song.unmatched_note_offs == 0);
  check_invariants(song);
}

TEST_CASE("SMF note-on with velocity 0 is a note-off", "[smf]") {
  TrackBytes t;
  t.on(0, 3, 70, 55).on(960, 3, 70, 0).on(0, 3, 71, 0).end(0);
  const auto song = parse_ok(smf(0, 960, {t}));
  REQUIRE(song.notes.size() == 1);
  check_note(song.notes[0], 0, 3, 70, 55, 0.0, 0.5);
  CHECK(song.unmatched_note_offs == 1);  // pitch 71 was never on
  CHECK(song.notes_closed_at_end == 0);
}

TEST_CASE("SMF overlapping notes of one pitch and channel pair first in, first out", "[smf]") {
  TrackBytes t;
  t.on(0, 0, 60, 100)     // A at tick 0
      .on(96, 0, 60, 50)  // B at 96
      .on(0, 1, 60, 30)   // same pitch, other channel: separate
      .off(96, 0, 60)     // 192: ends A (the oldest)
      .off(96, 1, 60)     // 288: ends the channel 2 note
      .off(96, 0, 60)     // 384: ends B
      .end(0);
  const auto song = parse_ok(smf(0, 96, {t}));  // 96 ticks = 0.5 s at 120 BPM
  REQUIRE(song.notes.size() == 3);
  check_note(song.notes[0], 0, 0, 60, 100, 0.0, 1.0);
  check_note(song.notes[1], 0, 0, 60, 50, 0.5, 2.0);
  check_note(song.notes[2], 0, 1, 60, 30, 0.5, 1.5);
}

TEST_CASE("SMF notes never released end with their track and are counted", "[smf]") {
  TrackBytes with_end, without_end;
  with_end.on(0, 0, 60, 100).on(480, 0, 62, 100).off(0, 0, 62).end(960);  // 60 open: ends at 1440
  // A note-off in another track does not end track 0's note: pairing is per track.
  without_end.off(0, 0, 60)
      .on(0, 0, 48, 70)
      .raw({0x00, 0xB0, 7, 100})
      .delta(480)
      .raw({0xB0, 7, 90});
  const auto song = parse_ok(smf(1, 480, {with_end, without_end}));
  REQUIRE(song.notes.size() == 3);
  CHECK(song.notes_closed_at_end == 2);
  check_note(song.notes[0], 0, 0, 60, 100, 0.0, 1.5);
  // No end-of-track event: the track ends at its last event (tick 480).
  check_note(song.notes[1], 1, 0, 48, 70, 0.0, 0.5);
  check_note(song.notes[2], 0, 0, 62, 100, 0.5, 0.5);
  CHECK(song.unmatched_note_offs == 1);
  CHECK(song.duration_s == Approx(1.5));
}

TEST_CASE("SMF with thousands of tracks", "[smf]") {
  std::vector<TrackBytes> tracks(3000);
  for (auto& t : tracks) t.end(0);
  tracks.back().bytes.clear();
  tracks.back().on(0, 5, 60, 100).on(96, 5, 61, 100).end(96);  // both close at the end
  const auto song = parse_ok(smf(1, 96, tracks));
  CHECK(song.tracks == 3000);
  CHECK(song.track_names.size() == 3000);
  REQUIRE(song.notes.size() == 2);
  check_note(song.notes[0], 2999, 5, 60, 100, 0.0, 1.0);
  check_note(song.notes[1], 2999, 5, 61, 100, 0.5, 1.0);
  CHECK(song.notes_closed_at_end == 2);
}

TEST_CASE("SMF with SMPTE time ignores tempo events", "[smf]") {
  TrackBytes t;
  t.tempo(0, 250000).on(1000, 0, 72, 64).off(1500, 0, 72).end(0);
  const int division = (0x100 - 25) << 8 | 40;  // 25 fps x 40 ticks: 1 ms per tick
  const auto song = parse_ok(smf(0, division, {t}));
  CHECK(song.division == 0);
  CHECK(song.smpte_fps == 25.0);
  CHECK(song.ticks_per_frame == 40);
  CHECK(song.tempo_changes.empty());
  REQUIRE(song.notes.size() == 1);
  check_note(song.notes[0], 0, 0, 72, 64, 1.0, 2.5);

  const int drop_frame = (0x100 - 29) << 8 | 100;
  const auto ntsc = parse_ok(smf(0, drop_frame, {t}));
  CHECK(ntsc.smpte_fps == Approx(29.97).epsilon(1e-4));
  REQUIRE(ntsc.notes.size() == 1);
  CHECK(ntsc.notes[0].start_s == Approx(1000.0 / (100 * 30000.0 / 1001.0)));
}

TEST_CASE("SMF without notes is an empty song, not an error", "[smf]") {
  TrackBytes t;
  t.name(0, "Silence").tempo(0, 400000).end(960);
  const auto song = parse_ok(smf(0, 480, {t}));
  CHECK(song.notes.empty());
  CHECK(song.track_names == std::vector<std::string>{"Silence"});
  CHECK(song.duration_s == Approx(0.8));
}

TEST_CASE("SMF: every malformed file gets its own message", "[smf]") {
  TrackBytes good;
  good.on(0, 0, 60, 100).off(480, 0, 60).end(0);
  const Bytes valid = smf(1, 480, {good});
  parse_ok(valid);

  CHECK(midi::parse_smf(nullptr, 0).error == "empty file: no MIDI header");
  CHECK(error_of({'R', 'I', 'F', 'F', 0, 0, 0, 4, 'M', 'I', 'D', 'I', 0, 0}) ==
        "not a Standard MIDI File: it starts with 'RIFF', not 'MThd'");
  CHECK(error_of({'M', 'X'}) == "not a Standard MIDI File: it starts with 'MX', not 'MThd'");
  CHECK(error_of({valid.begin(), valid.begin() + 10}) ==
        "header too short: the file holds 10 bytes, a MIDI header needs 14");
  auto short_header = valid;
  short_header[7] = 4;
  CHECK(error_of(short_header) == "header too short: 'MThd' length 4, needs at least 6");
  auto long_header = valid;
  long_header[6] = 1;
  CHECK_THAT(error_of(long_header), Catch::StartsWith("truncated file: the 'MThd' header claims"));

  auto truncated = valid;
  truncated.resize(truncated.size() - 3);
  CHECK(error_of(truncated) ==
        "truncated file: chunk 'MTrk' at byte 14 claims 13 bytes, only 10 remain");
  auto huge_chunk = valid;
  huge_chunk[18] = 0xFF;  // chunk length 0xFF00000D
  CHECK_THAT(error_of(huge_chunk),
             Catch::StartsWith("truncated file: chunk 'MTrk' at byte 14 claims 4278190093 bytes"));

  CHECK(error_of(smf(1, 480, {good}, 200)) ==
        "too many tracks claimed: the header claims 200 tracks, the file ends after 1 (or it was "
        "cut at a chunk boundary, byte 35)");
  auto cut_chunk_header = smf(1, 480, {good}, 2);
  cut_chunk_header.insert(cut_chunk_header.end(), {'M', 'T', 'r'});
  CHECK(error_of(cut_chunk_header) ==
        "truncated file: a chunk header at byte 35 is cut short (3 of 8 bytes)");
  CHECK(error_of(smf(1, 480, {good}, 0)) == "the header claims no tracks");
  CHECK(error_of(smf(0, 480, {good, good})) ==
        "format 0 holds exactly one track, the header claims 2");
  CHECK_THAT(error_of(smf(2, 480, {good})), Catch::StartsWith("format 2 (independent sequences"));
  CHECK(error_of(smf(3, 480, {good})) == "unknown format 3 (known: 0, 1)");
  CHECK(error_of(smf(1, 0, {good})) == "zero division: 0 ticks per quarter note");
  CHECK(error_of(smf(1, 0xE700, {good})) == "zero division: SMPTE time of 0 ticks per frame");
  CHECK(parse(smf(1, 0xE828, {good})).ok());  // 0xE8 is -24 frames per second
  CHECK(error_of(smf(1, 0xEC28, {good})) ==
        "SMPTE division with an unknown frame rate 20 (known: 24, 25, 29, 30)");

  TrackBytes long_vlq;
  long_vlq.on(0, 0, 60, 100).raw({0x81, 0x80, 0x80, 0x80, 0x00, 0x80, 60, 0}).end(0);
  CHECK(error_of(smf(0, 480, {long_vlq})) ==
        "track 0, event at byte 26: delta time: variable-length quantity longer than 4 bytes");
  TrackBytes long_meta_length;
  long_meta_length.raw({0x00, 0xFF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F});
  CHECK(error_of(smf(0, 480, {long_meta_length})) ==
        "track 0, event at byte 22: meta event length: variable-length quantity longer than 4 "
        "bytes");
  TrackBytes no_status;
  no_status.raw({0x00, 60, 100}).end(0);
  CHECK(error_of(smf(0, 480, {no_status})) ==
        "track 0, event at byte 22: running status with no previous status byte (data byte 0x3C "
        "where an event should start)");
  TrackBytes garbage;
  garbage.on(0, 0, 60, 100).raw({0x00, 0xF4, 1, 2}).end(0);
  CHECK(error_of(smf(0, 480, {garbage})) ==
        "track 0, event at byte 26: unknown status byte 0xF4 (system common and real-time "
        "messages have no place in a MIDI file)");
  TrackBytes bad_data;
  bad_data.raw({0x00, 0x90, 60, 0x90}).end(0);
  CHECK(error_of(smf(0, 480, {bad_data})) ==
        "track 0, event at byte 22: data byte 0x90 above 127 in a note-on message (status 0x90)");
  TrackBytes cut_event;
  cut_event.raw({0x00, 0x90, 60});
  CHECK(error_of(smf(0, 480, {cut_event})) ==
        "track 0, event at byte 22: note-on runs past the end of the track chunk");
  TrackBytes cut_meta;
  cut_meta.raw({0x00, 0xFF, 0x03, 0x10, 'a', 'b'});
  CHECK(error_of(smf(0, 480, {cut_meta})) ==
        "track 0, event at byte 22: meta event of 16 bytes runs past the end of the track chunk "
        "(2 bytes left)");
  TrackBytes cut_sysex;
  cut_sysex.raw({0x00, 0xF0, 0x05, 0x7E});
  CHECK_THAT(error_of(smf(0, 480, {cut_sysex})),
             Catch::Contains("sysex event of 5 bytes runs past the end of the track chunk"));
  TrackBytes dangling_delta;
  dangling_delta.on(0, 0, 60, 100).delta(10);
  CHECK(error_of(smf(0, 480, {dangling_delta})) ==
        "track 0, event at byte 26: the track ends after a delta time, in the middle of an "
        "event");
  TrackBytes bad_tempo;
  bad_tempo.raw({0x00, 0xFF, 0x51, 0x02, 0x07, 0xA1}).end(0);
  CHECK(error_of(smf(0, 480, {bad_tempo})) ==
        "track 0, event at byte 22: tempo meta event of 2 bytes (expected 3)");
  TrackBytes zero_tempo;
  zero_tempo.tempo(0, 0).end(0);
  CHECK(error_of(smf(0, 480, {zero_tempo})) ==
        "track 0, event at byte 22: tempo meta event of 0 microseconds per quarter note");
  // The chunk name of a truncated unknown chunk is printed safely.
  Bytes odd_chunk = smf(1, 480, {}, 1);
  odd_chunk.insert(odd_chunk.end(), {0x01, 'a', 0xFF, 'b', 0, 0, 0, 9});
  CHECK(error_of(odd_chunk) ==
        "truncated file: chunk '\\x01a\\xFFb' at byte 14 claims 9 bytes, only 0 remain");
}

TEST_CASE("SMF: every truncation of a valid file is an error, never a crash", "[smf]") {
  const Bytes valid = three_track_song();
  parse_ok(valid);
  // Cut where a chunk ends, a file cannot tell truncation from a header that
  // claims too many tracks.
  std::vector<size_t> chunk_ends = {14};
  while (chunk_ends.back() < valid.size()) {
    const size_t at = chunk_ends.back();
    chunk_ends.push_back(at + 8 + (size_t(valid[at + 6]) << 8 | valid[at + 7]));
  }
  REQUIRE(chunk_ends.size() == 5);  // header, three tracks, one unknown chunk
  REQUIRE(chunk_ends.back() == valid.size());
  for (size_t length = 0; length < valid.size(); ++length) {
    // An exact-size copy, so that a read past the end is a heap overflow under ASan.
    const Bytes prefix(valid.begin(), valid.begin() + std::ptrdiff_t(length));
    const auto r = midi::parse_smf(prefix.empty() ? nullptr : prefix.data(), prefix.size());
    INFO("prefix of " << length << " bytes: " << r.error);
    REQUIRE_FALSE(r.ok());
    if (length == 0)
      CHECK(r.error == "empty file: no MIDI header");
    else if (length < 14)
      CHECK_THAT(r.error, Catch::StartsWith("header too short"));
    else if (std::count(chunk_ends.begin(), chunk_ends.end(), length))
      CHECK_THAT(r.error, Catch::StartsWith("too many tracks claimed"));
    else
      CHECK_THAT(r.error, Catch::StartsWith("truncated file"));
  }
}

TEST_CASE("SMF: random byte mutations of a valid file never crash", "[smf]") {
  const Bytes valid = three_track_song();
  std::mt19937 random(20190901);
  std::uniform_int_distribution<size_t> position(0, valid.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255), count(1, 4), action(0, 9);
  int parsed = 0, rejected = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    Bytes mutated = valid;
    const int changes = count(random);
    for (int c = 0; c < changes; ++c) {
      const int a = action(random);
      const size_t at = position(random) % mutated.size();
      if (a == 0 && mutated.size() > 1)
        mutated.erase(mutated.begin() + std::ptrdiff_t(at));
      else if (a == 1)
        mutated.insert(mutated.begin() + std::ptrdiff_t(at), std::uint8_t(byte(random)));
      else
        mutated[at] = std::uint8_t(byte(random));
    }
    mutated.shrink_to_fit();  // so that ASan sees reads past the end
    const auto r = parse(mutated);
    INFO("trial " << trial << ": " << r.error);
    if (r.ok()) {
      ++parsed;
      check_invariants(r.song);
    } else {
      ++rejected;
      REQUIRE(r.song.notes.empty());
    }
  }
  // Both paths were exercised.
  CHECK(parsed > 100);
  CHECK(rejected > 100);
}

TEST_CASE("SMF writer round trip: format 0 that reads back as the same notes", "[smf]") {
  for (double bpm : {120.0, 97.0, 333.3}) {
    for (int division : {480, 96, 1}) {
      INFO("tempo " << bpm << " BPM, division " << division);
      const double micros = std::round(60e6 / bpm);
      const double tick = micros / (1e6 * division);
      std::mt19937 random(7);
      // At one tick per quarter a tick is half a second or more: fewer of
      // them, so the song stays within the 10 minutes Timbrel reads.
      std::uniform_int_distribution<int> pitch(21, 108), velocity(1, 127),
          start(0, division == 1 ? 800 : 4000), length(0, division == 1 ? 100 : 500),
          channel(0, 15);
      std::vector<midi::Note> notes;
      for (int i = 0; i < 300; ++i) {
        const int s = start(random);
        notes.push_back({0, channel(random), pitch(random), velocity(random), s * tick,
                         (s + length(random)) * tick});
      }
      // Same pitch and channel overlapping in first-in, first-out order; a
      // zero-length note at the end of another; drums.
      notes.push_back({0, 2, 60, 10, 100 * tick, 300 * tick});
      notes.push_back({0, 2, 60, 20, 200 * tick, 400 * tick});
      notes.push_back({0, 2, 60, 30, 300 * tick, 300 * tick});
      notes.push_back({0, 2, 60, 40, 300 * tick, 350 * tick});
      notes.push_back({0, midi::kDrumChannel, 38, 127, 0.0, 10 * tick});
      // Keep only what the file format can hold: among notes of one channel and
      // pitch, starting later means ending no earlier.
      std::vector<midi::Note> representable;
      for (const auto& n : notes) {
        const bool crosses =
            std::any_of(representable.begin(), representable.end(), [&](const midi::Note& o) {
              return o.channel == n.channel && o.pitch == n.pitch &&
                     ((o.start_s < n.start_s && o.end_s > n.end_s) ||
                      (n.start_s < o.start_s && n.end_s > o.end_s));
            });
        if (!crosses) representable.push_back(n);
      }
      REQUIRE(representable.size() > 250);
      const auto bytes = midi::write_smf(representable, bpm, division);
      const auto song = parse_ok(bytes);
      CHECK(song.format == 0);
      CHECK(song.division == division);
      REQUIRE(song.tempo_changes.size() == 1);
      CHECK(song.tempo_changes[0].micros_per_quarter == std::uint32_t(micros));
      CHECK(song.notes_closed_at_end == 0);
      CHECK(song.unmatched_note_offs == 0);
      const auto expected = sorted(representable);
      REQUIRE(song.notes.size() == expected.size());
      double last_end = 0.0;
      for (size_t i = 0; i < expected.size(); ++i) {
        INFO("note " << i);
        check_note(song.notes[i], 0, expected[i].channel, expected[i].pitch, expected[i].velocity,
                   expected[i].start_s, expected[i].end_s);
        last_end = std::max(last_end, expected[i].end_s);
      }
      CHECK(song.duration_s == Approx(last_end).margin(1e-12));
      CHECK(song.drum_notes() ==
            std::count_if(expected.begin(), expected.end(), [](auto& n) { return n.drum(); }));
    }
  }
}

TEST_CASE("SMF writer rounds times off the tick grid to the nearest tick", "[smf]") {
  std::mt19937 random(11);
  std::uniform_real_distribution<double> time(0.0, 20.0), length(0.0, 2.0);
  std::vector<midi::Note> notes;
  for (int i = 0; i < 200; ++i) {
    const double s = time(random);
    // One note per channel and pitch: no same-key overlaps to pair.
    notes.push_back({0, i / 100, 20 + i % 100, 64, s, s + length(random)});
  }
  const double half_tick = 0.5 * 0.5 / 480;
  const auto song = parse_ok(midi::write_smf(notes, 120.0, 480));
  REQUIRE(song.notes.size() == notes.size());
  // Each written note is read back within half a tick of where it was.
  for (const auto& n : notes) {
    const bool found = std::any_of(song.notes.begin(), song.notes.end(), [&](const midi::Note& m) {
      return m.channel == n.channel && m.pitch == n.pitch &&
             std::abs(m.start_s - n.start_s) <= half_tick + 1e-12 &&
             std::abs(m.end_s - n.end_s) <= half_tick + 1e-12;
    });
    INFO("pitch " << n.pitch << " at " << n.start_s);
    CHECK(found);
  }
}

TEST_CASE("SMF writer: crossing same-pitch notes read back paired first in, first out", "[smf]") {
  // A holds 0..1.0 s, B (same key) 0.25..0.5 s: the file holds on, on, off,
  // off, so reading gives A 0..0.5 s and B 0.25..1.0 s, as documented.
  const std::vector<midi::Note> crossing = {{0, 0, 60, 100, 0.0, 1.0}, {0, 0, 60, 50, 0.25, 0.5}};
  const auto song = parse_ok(midi::write_smf(crossing));
  REQUIRE(song.notes.size() == 2);
  check_note(song.notes[0], 0, 0, 60, 100, 0.0, 0.5);
  check_note(song.notes[1], 0, 0, 60, 50, 0.25, 1.0);
}

TEST_CASE("SMF writer rejects values a MIDI file cannot hold", "[smf]") {
  const midi::Note ok{0, 0, 60, 100, 0.0, 1.0};
  auto with = [&](auto change) {
    auto n = ok;
    change(n);
    return std::vector<midi::Note>{ok, n};
  };
  CHECK_NOTHROW(midi::write_smf({ok}));
  CHECK_THROWS_WITH(midi::write_smf(with([](midi::Note& n) { n.pitch = 128; })),
                    "write_smf: note 1 has pitch 128 (must lie in 0..127)");
  CHECK_THROWS_WITH(midi::write_smf(with([](midi::Note& n) { n.velocity = 0; })),
                    "write_smf: note 1 has velocity 0 (must lie in 1..127)");
  CHECK_THROWS_WITH(midi::write_smf(with([](midi::Note& n) { n.channel = 16; })),
                    "write_smf: note 1 has channel 16 (must lie in 0..15)");
  CHECK_THROWS_WITH(midi::write_smf(with([](midi::Note& n) { n.end_s = -1.0; })),
                    Catch::StartsWith("write_smf: note 1 has times 0.000000 to -1.000000 s"));
  CHECK_THROWS_WITH(midi::write_smf(with([](midi::Note& n) { n.start_s = std::nan(""); })),
                    Catch::Contains("must be finite"));
  CHECK_THROWS_WITH(midi::write_smf(with([](midi::Note& n) { n.end_s = 1e9; })),
                    Catch::Contains("past the longest time"));
  CHECK_THROWS_WITH(midi::write_smf({ok}, 0.0), Catch::Contains("positive number of BPM"));
  CHECK_THROWS_WITH(midi::write_smf({ok}, 1.0), Catch::Contains("outside what a MIDI file holds"));
  CHECK_THROWS_WITH(midi::write_smf({ok}, 120.0, 0), Catch::Contains("must lie in 1..32767"));
  CHECK_THROWS_WITH(midi::write_smf({ok}, 120.0, 40000), Catch::Contains("must lie in 1..32767"));
}

TEST_CASE("SMF golden files and the file reader", "[smf]") {
  const auto song = midi::read_smf_file(TIMBREL_GOLDEN_DIR "/midi/two_tracks.mid");
  INFO(song.error);
  REQUIRE(song.ok());
  // Written by scripts/timbrel/golden/midi.py: see its docstring.
  CHECK(song.song.format == 1);
  CHECK(song.song.tracks == 2);
  CHECK(song.song.track_names == std::vector<std::string>{"Tempo", "Violin"});
  const int melody[] = {67, 69, 71, 72, 74, 72, 71, 67};
  const double starts[] = {0.0, 0.5, 1.0, 1.5, 2.0, 2.4, 2.8, 3.2, 3.6};
  REQUIRE(song.song.notes.size() == 8);
  for (int i = 0; i < 8; ++i)
    check_note(song.song.notes[size_t(i)], 1, 0, melody[i], 90, starts[i], starts[i + 1]);
  CHECK(song.song.duration_s == Approx(3.6));
  check_invariants(song.song);
  const auto truncated = midi::read_smf_file(TIMBREL_GOLDEN_DIR "/midi/truncated.mid");
  CHECK_THAT(truncated.error, Catch::EndsWith("truncated.mid: truncated file: chunk 'MTrk' at "
                                              "byte 59 claims 200 bytes, only 74 remain"));
  CHECK(midi::read_smf_file("/nonexistent/song.mid").error ==
        "/nonexistent/song.mid: cannot open file");
}

TEST_CASE("SMF limits: tiny files that ask for hours of audio are refused", "[smf][limits]") {
  // 36 bytes: one note held for an hour at 120 BPM (before: an hour of audio, 7.5 GB).
  TrackBytes hour;
  hour.on(0, 0, 60, 100).off(96 * 2 * 3600, 0, 60).end(0);
  const Bytes one_hour = smf(0, 96, {hour});
  CHECK(one_hour.size() < 43);
  CHECK_THAT(error_of(one_hour), Catch::Contains("the song lasts 3600.0") &&
                                     Catch::Contains("at most 600 s (10 minutes)"));
  // The slowest tempo the format holds and the longest delta time (before: 93 TB asked).
  TrackBytes slow;
  slow.tempo(0, 0xFFFFFF).on(0, 0, 60, 100).off(0x0FFFFFFF, 0, 60).end(0);
  CHECK_THAT(error_of(smf(0, 1, {slow})),
             Catch::Contains("tempo of 3.58 BPM") && Catch::Contains("tempos of 10-1000 BPM"));
  // The longest delta at 120 BPM and one tick per quarter: no tempo event needed.
  TrackBytes far;
  far.on(0, 0, 60, 100).off(0x0FFFFFFF, 0, 60).end(0);
  CHECK_THAT(error_of(smf(0, 1, {far})), Catch::Contains("at most 600 s"));
  // An end-of-track far away with no notes at all is as long.
  TrackBytes late_end;
  late_end.end(0x0FFFFFFF);
  CHECK_THAT(error_of(smf(0, 1, {late_end})), Catch::Contains("at most 600 s"));
  // A tempo too fast to play.
  TrackBytes fast;
  fast.tempo(0, 1000).on(0, 0, 60, 100).off(10, 0, 60).end(0);
  CHECK_THAT(error_of(smf(0, 480, {fast})), Catch::Contains("tempo of 60000.0"));
  // More notes than Timbrel plays, closed or left open.
  TrackBytes many, open;
  for (int i = 0; i <= midi::kMaxNotes; ++i) many.on(0, 0, 60, 100).off(1, 0, 60);
  many.end(0);
  CHECK_THAT(error_of(smf(0, 960, {many})), Catch::Contains("more than 50000 notes"));
  for (int i = 0; i <= midi::kMaxNotes; ++i) open.on(1, 0, 60, 100);
  open.end(0);
  CHECK_THAT(error_of(smf(0, 960, {open})), Catch::Contains("more than 50000 notes"));
  // At the limits: ten minutes and 50000 notes play.
  TrackBytes ten;
  ten.on(0, 0, 60, 100).off(2 * 600, 0, 60).end(0);
  CHECK(parse_ok(smf(0, 1, {ten})).duration_s == Approx(600.0));
  TrackBytes most;
  for (int i = 0; i < midi::kMaxNotes; ++i) most.on(0, 0, 60, 100).off(1, 0, 60);
  most.end(0);
  CHECK(parse_ok(smf(0, 960, {most})).notes.size() == size_t(midi::kMaxNotes));
}
