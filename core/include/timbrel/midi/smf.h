// Standard MIDI Files (SMF): notes in seconds from formats 0 and 1, and a
// format 0 writer for transcriptions. Like the model file loader, parsing
// never throws: a bad file gives an error message naming the problem and the
// byte where it was found, so the page and the CLI keep running.
//
// Reading rules (the SMF 1.0 specification, and what common files rely on):
// - format 0 and 1; format 2 (independent sequences) is rejected.
// - metrical time (ticks per quarter note) with tempo meta events merged
//   across all tracks into one tempo map (120 BPM until the first one), or
//   SMPTE time (frames per second x ticks per frame; tempo events ignored).
// - running status; meta and sysex events neither set nor cancel it (some
//   writers rely on that, and no valid file is read differently).
// - note-on with velocity 0 is a note-off; each note-off ends the oldest open
//   note of its track, channel and pitch (first in, first out); a note-off
//   without an open note is counted and ignored; notes still open at the end
//   of their track end there and are counted.
// - sysex (F0/F7) skipped; unknown chunk types skipped; bytes after a track's
//   end-of-track event ignored.
// - limits on what Timbrel plays (the README's "Reliability" section): a
//   file longer than kMaxSongSeconds, with more than kMaxNotes notes, or a
//   tempo outside kMinTempoBpm-kMaxTempoBpm is refused with a message naming
//   the limit, so no file of a few bytes can ask for hours of audio.
//   Resolution: 1-32767 ticks per quarter note (the format's 15 bits) or SMPTE
//   24/25/29.97/30 fps x 1-255 ticks per frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace timbrel::midi {

// Zero-based channel 9 is General MIDI channel 10: percussion.
constexpr int kDrumChannel = 9;
constexpr int kDefaultTempoMicrosPerQuarter = 500000;  // 120 BPM

constexpr double kMaxSongSeconds = 600.0;  // 10 minutes: the last note's end and the last event
constexpr int kMaxNotes = 50000;
constexpr double kMinTempoBpm = 10.0;    // 6,000,000 microseconds per quarter note
constexpr double kMaxTempoBpm = 1000.0;  // 60,000 microseconds per quarter note

struct Note {
  int track = 0;     // index of the track chunk the note came from
  int channel = 0;   // 0-15
  int pitch = 0;     // MIDI key number 0-127
  int velocity = 0;  // 1-127
  double start_s = 0.0;
  double end_s = 0.0;
  // Percussion: callers that want pitched notes skip these.
  bool drum() const { return channel == kDrumChannel; }
  bool operator==(const Note& o) const {
    return track == o.track && channel == o.channel && pitch == o.pitch && velocity == o.velocity &&
           start_s == o.start_s && end_s == o.end_s;
  }
};

struct TempoChange {
  std::uint64_t tick = 0;
  double time_s = 0.0;
  std::uint32_t micros_per_quarter = kDefaultTempoMicrosPerQuarter;
  double bpm() const { return 60e6 / double(micros_per_quarter); }
};

struct Song {
  int format = 0;
  int tracks = 0;    // track chunks read (as the header claims)
  int division = 0;  // ticks per quarter note; 0 with SMPTE time
  // SMPTE time only: frames per second (29.97 for the "29" drop-frame code)
  // and ticks per frame.
  double smpte_fps = 0.0;
  int ticks_per_frame = 0;
  std::vector<Note> notes;                 // sorted by start, then track, channel, pitch, end
  std::vector<TempoChange> tempo_changes;  // merged map, by tick; empty: 120 BPM throughout
  double duration_s = 0.0;  // end of the longest track (its end-of-track event or last event)
  std::vector<std::string> track_names;  // one per track, "" when it has none
  int notes_closed_at_end = 0;           // never released: ended at their track's end
  int unmatched_note_offs = 0;           // note-offs with no open note to end
  int drum_notes() const;
};

struct SmfParseResult {
  Song song;
  std::string error;  // empty on success; a song without notes is not an error
  bool ok() const { return error.empty(); }
};

SmfParseResult parse_smf(const std::uint8_t* data, std::size_t size);
SmfParseResult read_smf_file(const std::string& path);

// A format 0 file at one tempo holding `notes` (their `track` is not stored:
// they read back as track 0). Times are rounded to the nearest tick, at
// tempo_bpm rounded to whole microseconds per quarter. parse_smf reads back
// the same notes (times within half a tick) except for notes of one channel
// and pitch where a later-starting note ends before an earlier one: the file
// format cannot tell those apart, and reading pairs them first in, first out.
// Throws std::invalid_argument naming the first out-of-range value (pitch,
// velocity 1-127, channel, times that are negative, not finite or end before
// they start, tempo, division 1-32767).
std::vector<std::uint8_t> write_smf(const std::vector<Note>& notes, double tempo_bpm = 120.0,
                                    int division = 480);

}  // namespace timbrel::midi
