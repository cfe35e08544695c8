#include "timbrel/midi/smf.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <tuple>

namespace timbrel::midi {

namespace {

// A number with `digits` decimals, for messages ("3.58 BPM", "3600.0 s").
std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

constexpr int kChannels = 16;
constexpr int kPitches = 128;
constexpr std::size_t kChunkHeaderBytes = 8;
constexpr std::size_t kMinHeaderLength = 6;
// The largest variable-length quantity (4 bytes of 7 bits).
constexpr std::uint64_t kMaxVlq = 0x0FFFFFFF;

// Internal only: parse_smf turns it into SmfParseResult::error.
struct SmfError {
  std::string message;
};

std::string hex_byte(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", value & 0xFFu);
  return text;
}

// A chunk type for a message: printable ASCII as is, anything else as \xNN.
std::string chunk_name(const std::uint8_t* type, std::size_t count = 4) {
  std::string name;
  for (std::size_t i = 0; i < count; ++i) {
    if (type[i] >= 0x20 && type[i] < 0x7F) {
      name += char(type[i]);
    } else {
      char text[8];
      std::snprintf(text, sizeof text, "\\x%02X", unsigned(type[i]));
      name += text;
    }
  }
  return name;
}

std::uint32_t big_endian(const std::uint8_t* p, int bytes) {
  std::uint32_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | p[i];
  return value;
}

const char* channel_message_name(unsigned status) {
  switch (status & 0xF0) {
    case 0x80:
      return "note-off";
    case 0x90:
      return "note-on";
    case 0xA0:
      return "key pressure";
    case 0xB0:
      return "control change";
    case 0xC0:
      return "program change";
    case 0xD0:
      return "channel pressure";
    default:
      return "pitch bend";
  }
}

struct OpenNote {
  std::uint64_t tick;
  int velocity;
};

struct TickNote {
  int track, channel, pitch, velocity;
  std::uint64_t on, off;
};

struct TempoEvent {
  std::uint64_t tick;
  std::uint32_t micros_per_quarter;
};

// Reads one track chunk [begin, end) of the file; every read is checked
// against `end`, so no input reaches past the chunk.
class TrackReader {
 public:
  // `open` (one queue per channel * 128 + pitch) is empty before and after:
  // shared by the tracks so that a file of many tracks costs no more.
  TrackReader(const std::uint8_t* file, std::size_t begin, std::size_t end, int track,
              std::vector<std::deque<OpenNote>>* open)
      : file_(file), pos_(begin), end_(end), track_(track), open_(*open) {}

  void read(std::vector<TickNote>* notes, std::vector<TempoEvent>* tempos, std::string* name,
            int* closed_at_end, int* unmatched_offs) {
    std::uint64_t tick = 0;
    unsigned running_status = 0;
    while (pos_ < end_) {
      event_start_ = pos_;
      tick += variable_length("delta time");
      if (pos_ >= end_) fail("the track ends after a delta time, in the middle of an event");
      unsigned status = file_[pos_];
      if (status < 0x80) {
        if (running_status == 0)
          fail("running status with no previous status byte (data byte " + hex_byte(status) +
               " where an event should start)");
        status = running_status;  // the byte is the first data byte: not consumed
      } else {
        ++pos_;
      }
      if (status < 0xF0) {
        running_status = status;
        channel_message(status, tick, notes, unmatched_offs);
      } else if (status == 0xFF) {
        const unsigned type = byte("meta event type");
        const std::uint64_t length = variable_length("meta event length");
        const std::uint8_t* data = bytes(length, "meta event");
        if (type == 0x2F) break;  // end of track: later bytes are not events
        if (type == 0x51) {
          if (length != 3)
            fail("tempo meta event of " + std::to_string(length) + " bytes (expected 3)");
          const std::uint32_t micros = big_endian(data, 3);
          if (micros == 0) fail("tempo meta event of 0 microseconds per quarter note");
          const double bpm = 60e6 / double(micros);
          if (bpm < kMinTempoBpm || bpm > kMaxTempoBpm)
            fail("tempo of " + fixed(bpm, 2) + " BPM (" + std::to_string(micros) +
                 " microseconds per quarter note): Timbrel plays tempos of " +
                 std::to_string(int(kMinTempoBpm)) + "-" + std::to_string(int(kMaxTempoBpm)) +
                 " BPM");
          tempos->push_back({tick, micros});
        } else if (type == 0x03 && name->empty()) {
          name->assign(reinterpret_cast<const char*>(data), std::size_t(length));
        }
      } else if (status == 0xF0 || status == 0xF7) {
        bytes(variable_length("sysex length"), "sysex event");  // skipped
      } else {
        fail("unknown status byte " + hex_byte(status) +
             " (system common and real-time messages have no place in a MIDI file)");
      }
    }
    // Notes never released end with their track.
    for (int key = 0; key < kChannels * kPitches; ++key) {
      auto& queue = open_[std::size_t(key)];
      for (const OpenNote& open : queue) {
        notes->push_back({track_, key / kPitches, key % kPitches, open.velocity, open.tick, tick});
        if (notes->size() > std::size_t(kMaxNotes))
          fail("more than " + std::to_string(kMaxNotes) + " notes: Timbrel plays at most " +
               std::to_string(kMaxNotes) + " notes of a file");
        ++*closed_at_end;
      }
      queue.clear();
    }
    end_tick_ = tick;
  }

  std::uint64_t end_tick() const { return end_tick_; }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw SmfError{"track " + std::to_string(track_) + ", event at byte " +
                   std::to_string(event_start_) + ": " + what};
  }

  unsigned byte(const char* what) {
    if (pos_ >= end_) fail(std::string(what) + " runs past the end of the track chunk");
    return file_[pos_++];
  }

  const std::uint8_t* bytes(std::uint64_t count, const char* what) {
    if (count > end_ - pos_)
      fail(std::string(what) + " of " + std::to_string(count) + " bytes runs past the end of " +
           "the track chunk (" + std::to_string(end_ - pos_) + " bytes left)");
    const std::uint8_t* data = file_ + pos_;
    pos_ += std::size_t(count);
    return data;
  }

  std::uint64_t variable_length(const char* what) {
    std::uint64_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned b = byte(what);
      value = (value << 7) | (b & 0x7F);
      if (!(b & 0x80)) return value;
    }
    fail(std::string(what) + ": variable-length quantity longer than 4 bytes");
  }

  unsigned data_byte(unsigned status) {
    const unsigned b = byte(channel_message_name(status));
    if (b >= 0x80)
      fail("data byte " + hex_byte(b) + " above 127 in a " + channel_message_name(status) +
           " message (status " + hex_byte(status) + ")");
    return b;
  }

  void channel_message(unsigned status, std::uint64_t tick, std::vector<TickNote>* notes,
                       int* unmatched_offs) {
    const unsigned kind = status & 0xF0;
    const unsigned first = data_byte(status);
    if (kind == 0xC0 || kind == 0xD0) return;  // one data byte
    const unsigned second = data_byte(status);
    if (kind != 0x80 && kind != 0x90) return;
    const int channel = int(status & 0x0F);
    auto& open = open_[std::size_t(channel * kPitches + int(first))];
    if (kind == 0x90 && second > 0) {
      if (notes->size() + ++open_now_ > std::size_t(kMaxNotes))
        fail("more than " + std::to_string(kMaxNotes) + " notes: Timbrel plays at most " +
             std::to_string(kMaxNotes) + " notes of a file");
      open.push_back({tick, int(second)});
      return;
    }
    // Note-off (or note-on at velocity 0): the oldest open note ends.
    if (open.empty()) {
      ++*unmatched_offs;
      return;
    }
    notes->push_back({track_, channel, int(first), open.front().velocity, open.front().tick, tick});
    if (notes->size() > std::size_t(kMaxNotes))
      fail("more than " + std::to_string(kMaxNotes) + " notes: Timbrel plays at most " +
           std::to_string(kMaxNotes) + " notes of a file");
    open.pop_front();
    --open_now_;
  }

  const std::uint8_t* file_;
  std::size_t pos_, end_;
  std::size_t event_start_ = 0;
  int track_;
  std::uint64_t end_tick_ = 0;
  std::size_t open_now_ = 0;  // notes of this track started and not ended yet
  std::vector<std::deque<OpenNote>>& open_;
};

// Ticks to seconds through the merged tempo map (or SMPTE time).
class Clock {
 public:
  Clock(const Song& song) : song_(song) {}

  double seconds(std::uint64_t tick) const {
    if (song_.division == 0) return double(tick) / (song_.smpte_fps * song_.ticks_per_frame);
    const auto& map = song_.tempo_changes;
    auto after = std::upper_bound(
        map.begin(), map.end(), tick,
        [](std::uint64_t t, const TempoChange& change) { return t < change.tick; });
    std::uint64_t base_tick = 0;
    double base_s = 0.0;
    std::uint32_t micros = kDefaultTempoMicrosPerQuarter;
    if (after != map.begin()) {
      const TempoChange& change = *(after - 1);
      base_tick = change.tick;
      base_s = change.time_s;
      micros = change.micros_per_quarter;
    }
    return base_s + double(tick - base_tick) * double(micros) / (1e6 * song_.division);
  }

 private:
  const Song& song_;
};

void read_header(const std::uint8_t* data, std::size_t size, Song* song, int* claimed_tracks,
                 std::size_t* first_chunk) {
  static const std::uint8_t kMagic[4] = {'M', 'T', 'h', 'd'};
  if (std::memcmp(data, kMagic, std::min<std::size_t>(size, 4)) != 0)
    throw SmfError{"not a Standard MIDI File: it starts with '" +
                   chunk_name(data, std::min<std::size_t>(size, 4)) + "', not 'MThd'"};
  if (size < kChunkHeaderBytes + kMinHeaderLength)
    throw SmfError{"header too short: the file holds " + std::to_string(size) +
                   " bytes, a MIDI header needs 14"};
  const std::uint32_t length = big_endian(data + 4, 4);
  if (length < kMinHeaderLength)
    throw SmfError{"header too short: 'MThd' length " + std::to_string(length) +
                   ", needs at least 6"};
  if (length > size - kChunkHeaderBytes)
    throw SmfError{"truncated file: the 'MThd' header claims " + std::to_string(length) +
                   " bytes, only " + std::to_string(size - kChunkHeaderBytes) + " follow"};
  const std::uint8_t* h = data + kChunkHeaderBytes;
  song->format = int(big_endian(h, 2));
  const int tracks = int(big_endian(h + 2, 2));
  const std::uint32_t division = big_endian(h + 4, 2);
  if (song->format == 2)
    throw SmfError{
        "format 2 (independent sequences, not one song) is not supported: save it as format 0 "
        "or 1"};
  if (song->format > 2)
    throw SmfError{"unknown format " + std::to_string(song->format) + " (known: 0, 1)"};
  if (tracks == 0) throw SmfError{"the header claims no tracks"};
  if (song->format == 0 && tracks != 1)
    throw SmfError{"format 0 holds exactly one track, the header claims " + std::to_string(tracks)};
  *first_chunk = kChunkHeaderBytes + length;
  if (division & 0x8000) {
    // SMPTE: the high byte is minus the frame rate, the low byte ticks per frame.
    const int fps = -int(std::int8_t(std::uint8_t(division >> 8)));
    if (fps != 24 && fps != 25 && fps != 29 && fps != 30)
      throw SmfError{"SMPTE division with an unknown frame rate " + std::to_string(fps) +
                     " (known: 24, 25, 29, 30)"};
    song->smpte_fps = fps == 29 ? 30000.0 / 1001.0 : double(fps);
    song->ticks_per_frame = int(division & 0xFF);
    if (song->ticks_per_frame == 0)
      throw SmfError{"zero division: SMPTE time of 0 ticks per frame"};
    song->division = 0;
  } else {
    if (division == 0) throw SmfError{"zero division: 0 ticks per quarter note"};
    song->division = int(division);
  }
  *claimed_tracks = tracks;
}

Song parse(const std::uint8_t* data, std::size_t size) {
  Song song;
  int claimed_tracks = 0;
  std::size_t pos = 0;
  read_header(data, size, &song, &claimed_tracks, &pos);

  std::vector<TickNote> tick_notes;
  std::vector<TempoEvent> tempos;  // in track order, then file order
  std::uint64_t end_tick = 0;
  std::vector<std::deque<OpenNote>> open(kChannels * kPitches);
  int track = 0;
  while (track < claimed_tracks) {
    if (pos == size)
      throw SmfError{"too many tracks claimed: the header claims " +
                     std::to_string(claimed_tracks) + " tracks, the file ends after " +
                     std::to_string(track) + " (or it was cut at a chunk boundary, byte " +
                     std::to_string(size) + ")"};
    if (size - pos < kChunkHeaderBytes)
      throw SmfError{"truncated file: a chunk header at byte " + std::to_string(pos) +
                     " is cut short (" + std::to_string(size - pos) + " of 8 bytes)"};
    const std::uint8_t* type = data + pos;
    const std::uint32_t length = big_endian(data + pos + 4, 4);
    const std::size_t body = pos + kChunkHeaderBytes;
    if (length > size - body)
      throw SmfError{"truncated file: chunk '" + chunk_name(type) + "' at byte " +
                     std::to_string(pos) + " claims " + std::to_string(length) + " bytes, only " +
                     std::to_string(size - body) + " remain"};
    if (std::memcmp(type, "MTrk", 4) == 0) {
      TrackReader reader(data, body, body + length, track, &open);
      std::string name;
      reader.read(&tick_notes, &tempos, &name, &song.notes_closed_at_end,
                  &song.unmatched_note_offs);
      song.track_names.push_back(name);
      end_tick = std::max(end_tick, reader.end_tick());
      ++track;
    }  // other chunk types are skipped, as the specification asks
    pos = body + length;
  }
  song.tracks = claimed_tracks;

  // One tempo map for all tracks; of several changes at one tick the last
  // (by track, then file order) holds.
  if (song.division != 0) {
    std::stable_sort(tempos.begin(), tempos.end(),
                     [](const TempoEvent& a, const TempoEvent& b) { return a.tick < b.tick; });
    for (const TempoEvent& t : tempos) {
      if (!song.tempo_changes.empty() && song.tempo_changes.back().tick == t.tick) {
        song.tempo_changes.back().micros_per_quarter = t.micros_per_quarter;
        continue;
      }
      TempoChange change;
      change.tick = t.tick;
      change.time_s = Clock(song).seconds(t.tick);
      change.micros_per_quarter = t.micros_per_quarter;
      song.tempo_changes.push_back(change);
    }
  }

  const Clock clock(song);
  song.notes.reserve(tick_notes.size());
  for (const TickNote& n : tick_notes)
    song.notes.push_back(
        {n.track, n.channel, n.pitch, n.velocity, clock.seconds(n.on), clock.seconds(n.off)});
  std::sort(song.notes.begin(), song.notes.end(), [](const Note& a, const Note& b) {
    return std::tie(a.start_s, a.track, a.channel, a.pitch, a.end_s, a.velocity) <
           std::tie(b.start_s, b.track, b.channel, b.pitch, b.end_s, b.velocity);
  });
  song.duration_s = clock.seconds(end_tick);
  double last_s = song.duration_s;
  for (const Note& n : song.notes) last_s = std::max(last_s, n.end_s);
  if (!(last_s <= kMaxSongSeconds))
    throw SmfError{"the song lasts " + fixed(last_s, 1) + " s (" + fixed(last_s / 3600.0, 1) +
                   " hours): Timbrel plays at most " + std::to_string(int(kMaxSongSeconds)) +
                   " s (" + std::to_string(int(kMaxSongSeconds / 60)) + " minutes) of a MIDI file"};
  return song;
}

void put_u32(std::vector<std::uint8_t>* out, std::uint32_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(std::uint8_t(value >> (8 * i)));
}

void put_variable_length(std::vector<std::uint8_t>* out, std::uint64_t value) {
  std::uint8_t groups[4];
  int count = 0;
  do {
    groups[count++] = std::uint8_t(value & 0x7F);
    value >>= 7;
  } while (value != 0 && count < 4);
  for (int i = count - 1; i >= 0; --i) out->push_back(std::uint8_t(groups[i] | (i ? 0x80 : 0)));
}

void check_range(int value, int low, int high, const char* what, std::size_t index) {
  if (value < low || value > high)
    throw std::invalid_argument("write_smf: note " + std::to_string(index) + " has " + what + " " +
                                std::to_string(value) + " (must lie in " + std::to_string(low) +
                                ".." + std::to_string(high) + ")");
}

}  // namespace

int Song::drum_notes() const {
  return int(std::count_if(notes.begin(), notes.end(), [](const Note& n) { return n.drum(); }));
}

SmfParseResult parse_smf(const std::uint8_t* data, std::size_t size) {
  SmfParseResult result;
  if (data == nullptr || size == 0) {
    result.error = "empty file: no MIDI header";
    return result;
  }
  try {
    result.song = parse(data, size);
  } catch (const SmfError& e) {
    result.song = Song();
    result.error = e.message;
  }
  return result;
}

SmfParseResult read_smf_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return {Song(), path + ": cannot open file"};
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                                        std::istreambuf_iterator<char>());
  auto result = parse_smf(bytes.data(), bytes.size());
  if (!result.ok()) result.error = path + ": " + result.error;
  return result;
}

std::vector<std::uint8_t> write_smf(const std::vector<Note>& notes, double tempo_bpm,
                                    int division) {
  if (!(tempo_bpm > 0.0) || !std::isfinite(tempo_bpm))
    throw std::invalid_argument("write_smf: tempo must be a positive number of BPM");
  const double micros_exact = 60e6 / tempo_bpm;
  // A tempo meta event holds 3 bytes of microseconds per quarter note.
  if (micros_exact < 1.0 || micros_exact > double(0xFFFFFF))
    throw std::invalid_argument("write_smf: tempo " + std::to_string(tempo_bpm) +
                                " BPM is outside what a MIDI file holds (3.58 to 6e7 BPM)");
  const auto micros = std::uint32_t(std::lround(micros_exact));
  if (division < 1 || division > 0x7FFF)
    throw std::invalid_argument("write_smf: division " + std::to_string(division) +
                                " ticks per quarter note must lie in 1..32767");
  const double seconds_per_tick = double(micros) / (1e6 * division);

  struct Event {
    std::uint64_t tick;
    int group;            // 0: ends of earlier notes, 1: starts, 2: ends of notes that start here
    std::uint64_t order;  // starts: by end (first in, first out); ends: by start
    std::size_t index;
    bool on;
  };
  std::vector<Event> events;
  events.reserve(2 * notes.size());
  for (std::size_t i = 0; i < notes.size(); ++i) {
    const Note& n = notes[i];
    check_range(n.channel, 0, kChannels - 1, "channel", i);
    check_range(n.pitch, 0, kPitches - 1, "pitch", i);
    check_range(n.velocity, 1, 127, "velocity", i);  // 0 would read back as a note-off
    if (!std::isfinite(n.start_s) || !std::isfinite(n.end_s) || n.start_s < 0.0 ||
        n.end_s < n.start_s)
      throw std::invalid_argument("write_smf: note " + std::to_string(i) + " has times " +
                                  std::to_string(n.start_s) + " to " + std::to_string(n.end_s) +
                                  " s (must be finite, not negative, and end after start)");
    if (n.end_s / seconds_per_tick > double(kMaxVlq))
      throw std::invalid_argument("write_smf: note " + std::to_string(i) + " ends at " +
                                  std::to_string(n.end_s) +
                                  " s, past the longest time a file at this tempo and division "
                                  "holds");
    const auto on = std::uint64_t(std::llround(n.start_s / seconds_per_tick));
    const auto off = std::uint64_t(std::llround(n.end_s / seconds_per_tick));
    events.push_back({on, 1, off, i, true});
    events.push_back({off, off == on ? 2 : 0, on, i, false});
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.tick, a.group, a.order, a.index) <
           std::tie(b.tick, b.group, b.order, b.index);
  });

  std::vector<std::uint8_t> track;
  track.reserve(16 + 4 * events.size());
  put_variable_length(&track, 0);
  for (std::uint8_t b : {0xFF, 0x51, 0x03}) track.push_back(b);
  put_u32(&track, micros, 3);
  std::uint64_t last_tick = 0;
  for (const Event& e : events) {
    const Note& n = notes[e.index];
    put_variable_length(&track, e.tick - last_tick);
    last_tick = e.tick;
    track.push_back(std::uint8_t((e.on ? 0x90 : 0x80) | n.channel));
    track.push_back(std::uint8_t(n.pitch));
    track.push_back(std::uint8_t(e.on ? n.velocity : 64));
  }
  put_variable_length(&track, 0);
  for (std::uint8_t b : {0xFF, 0x2F, 0x00}) track.push_back(b);

  std::vector<std::uint8_t> file = {'M', 'T', 'h', 'd'};
  put_u32(&file, 6, 4);
  put_u32(&file, 0, 2);  // format 0
  put_u32(&file, 1, 2);  // one track
  put_u32(&file, std::uint32_t(division), 2);
  for (char c : {'M', 'T', 'r', 'k'}) file.push_back(std::uint8_t(c));
  put_u32(&file, std::uint32_t(track.size()), 4);
  file.insert(file.end(), track.begin(), track.end());
  return file;
}

}  // namespace timbrel::midi
