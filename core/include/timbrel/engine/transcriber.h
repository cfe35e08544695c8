// Transcription with a cross-modal VAE (signal -> symbols -> notes), after
// Chemla-Romeu-Santos et al. 2019: p(y|x) = p(y|z) q(z|x).
//
// Per frame (22050 Hz, hop 256, window 2048, the dsp::stft alignment: frame m
// covers samples [m hop - 1792, m hop + 256)):
//   constant-Q features -> signal encoder mean -> symbol decoder -> per
//   instrument slot the argmax label (pitch class, octave, dynamics) and its
//   confidence (product of the three winning probabilities);
//   level = RMS of the frame's central 1024 samples in dBFS (time-aligned with
//   the window's centre, where the Hann-weighted label looks; sharper in time
//   than the 2048 window, so onsets land within a hop or two);
//   activity = a gate with hysteresis on that level (opens above -50 dBFS,
//   closes below -56 dBFS);
//   flux = sum over bins of the rise of the features since the previous frame
//   (positive spectral flux: new partials).
// A frame's time is its window centre, (m hop + hop - 1024) / 22050 s.
//
// Notes (segment_notes, a pure function of the frames so it is testable
// without a model): median of the pitch over 5 frames; a note is a stretch of
// active frames of one pitch; it ends where activity ends, where another pitch
// holds for >= 6 frames (70 ms; shorter deviations are absorbed), or at a level
// onset (> 6 dB above the lowest of the 3 frames before it), which separates
// repeated notes of one pitch; notes shorter than 7 frames (81 ms) are merged
// into their neighbour in the same active run or dropped. Two corrections of
// the onset times, because labels and the gate lag the note: the label of a
// new pitch wins only once the new note dominates the 93 ms window (in legato,
// 50-120 ms after its start), so a pitch change moves back to the frame of
// largest flux among the 12 before it; and a note that opens the gate starts
// where its level began to rise (up to 4 frames earlier, each at least 0.5 dB
// quieter, none more than 12 dB under the gate). The defaults were chosen on
// the performance corpus's train split (timbrel.eval.transcription --split
// train), never on its test split. Velocity: the model's velocity of the
// note's most frequent dynamics class. A mixture model (M instruments) gives
// one note list per slot (track = channel = slot); its symbols have no
// "silent" class, so every slot is active whenever the gate is open.
// Limitation: legato repeats of one pitch without a 6 dB dip merge into one
// note (the labels and the flux do not change).
//
// Streaming: push_hop() is real-time safe (nothing allocates, locks, throws or
// logs) and returns the frame for live display; notes need the median filter
// and the hold times above, so the page records frames (or audio) and calls
// segment_notes() / transcribe() when the take ends.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/cqt.h"
#include "timbrel/dsp/stft.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

constexpr int kMaxTranscribedInstruments = 8;

// One instrument slot of one frame.
struct SlotSymbol {
  int pitch = 0;            // MIDI pitch of the decoded label
  int dynamics = 0;         // 0 pp, 1 mf, 2 ff
  float confidence = 0.0f;  // product of the winning softmax probabilities (0-1)
};

struct TranscriptionFrame {
  double time_s = 0.0;       // centre of the analysis window
  float level_db = -120.0f;  // RMS of the central 1024 samples, dBFS (floor -120)
  bool active = false;       // gate state after hysteresis
  float flux = 0.0f;         // positive spectral flux of the features (>= 0)
  std::array<SlotSymbol, kMaxTranscribedInstruments> slots{};
};

struct TranscriberSettings {
  float gate_open_db = -50.0f;      // the gate opens above this level
  float gate_close_db = -56.0f;     // and closes below this one (hysteresis)
  int median_frames = 5;            // odd; 1 disables the pitch median
  int pitch_change_frames = 6;      // a new pitch must hold this long to end a note
  int min_note_frames = 7;          // 81 ms at 86.1 frames/s
  float onset_rise_db = 6.0f;       // level onset: rise above the lowest of ...
  int onset_window_frames = 3;      // ... this many frames before
  int boundary_search_frames = 12;  // a pitch change moves back to the largest flux
  int backtrack_frames = 4;         // a gate opening moves back along a rising level
  float backtrack_step_db = 0.5f;   // by frames at least this much quieter
  double frame_rate_hz = 22050.0 / 256.0;
};

// Empty when usable, else what is wrong.
std::string validate(const TranscriberSettings& settings);

// The activity gate with hysteresis, one frame at a time. Real-time safe.
class LevelGate {
 public:
  explicit LevelGate(float open_db = -50.0f, float close_db = -56.0f)
      : open_db_(open_db), close_db_(close_db) {}
  bool update(float level_db) noexcept TIMBREL_REALTIME {
    active_ = active_ ? level_db >= close_db_ : level_db > open_db_;
    return active_;
  }
  bool active() const { return active_; }
  void reset() noexcept TIMBREL_REALTIME { active_ = false; }

 private:
  float open_db_, close_db_;
  bool active_ = false;
};

// Notes of instrument slot `slot` from consecutive frames (uses time_s, active,
// level_db, flux and the slot's pitch and dynamics). dynamics_velocity: velocity per
// dynamics class (pp, mf, ff). Notes have track = channel = slot, start at the
// first frame's time (not before 0) and end one frame after their last frame.
// Throws std::invalid_argument for bad settings, slot or velocities.
std::vector<midi::Note> segment_notes(const std::vector<TranscriptionFrame>& frames, int slot,
                                      const TranscriberSettings& settings,
                                      const std::vector<int>& dynamics_velocity);

struct Transcription {
  std::vector<TranscriptionFrame> frames;
  std::vector<midi::Note> notes;  // every slot, by start time then track
  int instruments = 1;
  // One line for the user: how many notes, or why none were found.
  std::string summary;
};

class Transcriber {
 public:
  static constexpr int kSampleRate = models::CrossmodalVae::kSampleRate;
  static constexpr int kWindow = models::CrossmodalVae::kWindow;
  static constexpr int kHop = models::CrossmodalVae::kHop;
  static constexpr int kLevelWindow = 1024;  // central samples the level is measured on

  // Throws std::invalid_argument for bad settings or a model with more than
  // kMaxTranscribedInstruments slots. The model must outlive the transcriber
  // (it carries per-frame scratch: one thread drives both).
  explicit Transcriber(models::CrossmodalVae& model, const TranscriberSettings& settings = {});
  ~Transcriber();
  Transcriber(const Transcriber&) = delete;
  Transcriber& operator=(const Transcriber&) = delete;

  // Whole clip at 22050 Hz (resample first: dsp::resample). Throws
  // std::invalid_argument for empty audio or a NaN/Inf sample (naming it).
  // Silence is not an error: no notes, and the summary says why.
  // Frames run until every sample has been a window centre. Starts from a
  // reset state and leaves the streaming state reset.
  Transcription transcribe(const float* audio, std::size_t count);

  // --- streaming (real-time safe) ------------------------------------------
  // hop: kHop new samples (non-finite ones are taken as silence). Returns the
  // frame whose window ends with this hop, valid until the next call.
  const TranscriptionFrame& push_hop(const float* hop) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;

  int instruments() const { return model_.instruments(); }
  const TranscriberSettings& settings() const { return settings_; }
  const models::CrossmodalVae& model() const { return model_; }

 private:
  models::CrossmodalVae& model_;
  TranscriberSettings settings_;
  LevelGate gate_;
  dsp::ConstantQ cqt_;
  dsp::StftAnalyzer stft_;
  std::vector<float> hop_;  // the hop being pushed, non-finite samples silenced
  std::vector<float> features_;
  std::vector<float> previous_features_;
  std::vector<float> mean_, logvar_, logits_;
  std::vector<models::NoteLabel> labels_;
  std::vector<float> confidence_;
  long frame_index_ = 0;
  TranscriptionFrame frame_;
};

}  // namespace timbrel::engine
