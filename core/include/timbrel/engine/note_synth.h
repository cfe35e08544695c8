// Notes -> audio with a cross-modal VAE (Chemla-Romeu-Santos et al. 2019:
// p(x|y) = p(x|z) q(z|y)), offline (a MIDI file) and live (the worklet).
//
// Per voice, per frame (22050 Hz, hop 256 = 11.6 ms, window 2048):
//   label (pitch class, octave, dynamics) -> symbol encoder q(z|y) = N(mean,
//   exp(logvar)) -> the note's latent point z = mean + temperature * sigma *
//   eps (eps ~ N(0, I) from a seeded xorshift32, drawn once per note;
//   temperature 0 = the mean) -> the latent path between the voice's points
//   (below) -> signal decoder (only when z changed since the voice's last
//   decode) -> constant-Q magnitudes (ConstantQ::magnitudes_from_features:
//   clamped at 0) x envelope x velocity gain.
// All voices are summed in the constant-Q magnitude domain, back-projected to
// 1025 STFT magnitudes once (ConstantQ::stft_magnitude_from_cqt) and phase-
// reconstructed once: Griffin-Lim offline (30 iterations, fast GL started from
// RTPGHI) or RTPGHI, which is what the live synth uses.
//
// Successive notes of a voice are joined in latent space over transition_s
// (default 80 ms, 7 frames): none (jump), linear, or cubic Hermite from the
// voice's current point P1 to the new note's point P2 with tangents
// m1 = (P2 - P0) / 2 (P0: the voice's point before P1; P1 when it has none)
// and m2 = 0 (the path arrives at rest on the point the note then holds):
// the Catmull-Rom tangent where the past is known, the only causal choice
// for the future, so offline and live follow the same path.
//
// Voices (kMaxVoices = 8). A note takes, in this order: the releasing voice
// (key up, still sounding) nearest in pitch - the previous note of that line,
// so the two are joined as above and the envelope rises again from where it
// is (no click); else an idle voice (latent starts on the note's point,
// envelope from 0); else the voice whose note started first is stolen (counted
// in NoteSynthStats::voices_stolen) and joined like a releasing one.
// Envelope (linear, per frame, on the magnitudes): attack attack_s (default
// 20 ms: 2 frames) up to 1, release release_s (default 150 ms: 13 frames) down
// to 0 from key-up, after which the voice is idle; the synthesis window adds
// about half a window (46 ms) of tail.
// Velocity: the dynamics class is the one whose velocity in the model's
// dynamics_velocity (pp 40, mf 80, ff 120 in shipped models) is nearest (ties
// to the softer), and within the class the amplitude scales by
// velocity / class velocity (velocity 100 -> mf x 1.25, 60 -> pp x 1.5).
// Pitch: a note outside its instrument's pitch_range is moved by whole
// octaves into it (to the octave nearest the range when the range is narrower
// than an octave), counted in notes_transposed.
// Mixture models (M instruments): their training pairs always hold one note
// per instrument and there is no "silent" label, so a note sets every slot to
// its own label (each slot transposed into that instrument's range): the
// mixture plays the note in unison. Solo models (M = 1) are the ones to play.
//
// Timing: frame m is centred on sample m 256 - 768 (dsp::stft's alignment). An
// event at time t applies from frame ceil((t 22050 + 768) / 256) on; a note
// lasts at least one frame. Events of one frame: key-ups first, then notes.
//
// Real time: every method of NoteFrameSynth and LiveNoteSynth except the
// constructors is noexcept and allocation-free; nothing locks or logs.
// Commands and process_hop() must come from one thread (the worklet's).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/cqt.h"
#include "timbrel/dsp/phase_reconstruction.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

constexpr int kMaxVoices = 8;

enum class Interpolation { kNone, kLinear, kCubic };
// "none" / "linear" / "cubic"; false (value untouched) for anything else.
bool parse_interpolation(const std::string& text, Interpolation* interpolation);
const char* interpolation_name(Interpolation interpolation);

struct NoteSynthSettings {
  float temperature = 0.0f;  // sigma multiplier of the per-note latent draw (0: the mean)
  Interpolation interpolation = Interpolation::kCubic;
  double transition_s = 0.08;  // latent path between successive notes of a voice
  double attack_s = 0.02;
  double release_s = 0.15;
  // The XY pad and the morph glide to their target with this time constant
  // (one pole), so a dragged point does not step.
  double pad_glide_s = 0.03;
  std::uint32_t seed = 0x9E3779B9u;  // of the latent draws; 0 selects this default
};

// Empty when usable, else the problem (temperature 0-4, times 0-10 s, finite).
std::string validate(const NoteSynthSettings& settings);

struct NoteSynthStats {
  long notes = 0;             // note_on calls that started a voice
  long voices_stolen = 0;     // notes that took a voice whose key was still down
  long notes_transposed = 0;  // notes moved by octaves into the model's range
  int peak_voices = 0;        // most voices sounding in one frame (pad not counted)
  long decodes = 0;           // signal decoder runs (z changed)
};

// The spectral engine shared by the offline render and the live synth: notes
// in, one frame of STFT magnitudes (1025 bins, 2 / sum(w) scale) per hop out.
class NoteFrameSynth {
 public:
  static constexpr int kSampleRate = 22050, kWindow = 2048, kHop = 256;
  static constexpr int kFftBins = kWindow / 2 + 1;

  // Throws std::invalid_argument on settings validate() rejects. The model
  // must outlive the engine, and nothing else may use it meanwhile (its graphs
  // carry scratch).
  NoteFrameSynth(models::CrossmodalVae& model, const NoteSynthSettings& settings = {});
  ~NoteFrameSynth();
  // Another model (same rules), as if constructed anew: silence, every voice
  // idle, the pad at its start. The model-independent parts (constant-Q
  // tables, buffers) stay, so a switch builds nothing but the model's own state.
  void set_model(models::CrossmodalVae& model, const NoteSynthSettings& settings = {});
  NoteFrameSynth(const NoteFrameSynth&) = delete;
  NoteFrameSynth& operator=(const NoteFrameSynth&) = delete;

  // pitch 0-127 and velocity 1-127 (clamped); velocity 0 is a key-up.
  void note_on(int pitch, int velocity) noexcept TIMBREL_REALTIME;
  // Releases the held voice of this key that started first (none: ignored).
  void note_off(int pitch) noexcept TIMBREL_REALTIME;
  void all_notes_off() noexcept TIMBREL_REALTIME;

  // The pad voice (not one of the kMaxVoices, never stolen): sounds the latent
  // point set last by set_latent_point / set_latent / the morph, at `level`
  // (0-1) while on, with the note envelope.
  void pad_on(float level) noexcept TIMBREL_REALTIME;
  void pad_off() noexcept TIMBREL_REALTIME;
  // XY pad: CrossmodalVae::latent_from_point (among the labels' posterior
  // means). The pad's level is normalised to the model's median mf note
  // (boost at most kPadMaxBoostDb): the labels' own levels span ~50 dB (a
  // violin's high pp notes), and on the pad position should change the
  // timbre, not mostly the loudness. The morph and set_latent are not
  // normalised (a morph from pp to ff should get louder).
  static constexpr float kPadMaxBoostDb = 30.0f;
  void set_latent_point(float x, float y) noexcept TIMBREL_REALTIME;
  // z: kLatent values (non-finite values are taken as 0).
  void set_latent(const float* z) noexcept TIMBREL_REALTIME;
  // Morph between the posterior means of two notes (pitch, velocity) at
  // position 0 (a) .. 1 (b), linear in latent space.
  void set_morph(int pitch_a, int velocity_a, int pitch_b,
                 int velocity_b) noexcept TIMBREL_REALTIME;
  void set_morph_position(float position) noexcept TIMBREL_REALTIME;  // clamped to 0-1

  // Take effect from the next note.
  void set_temperature(float temperature) noexcept TIMBREL_REALTIME;  // clamped to 0-4
  void set_interpolation(Interpolation interpolation) noexcept TIMBREL_REALTIME;

  // The next frame: kFftBins STFT magnitudes.
  void next_frame(float* stft_magnitude) noexcept TIMBREL_REALTIME;
  // Silence, every voice idle, the pad off, the latent draws restarted at the
  // seed, stats cleared.
  void reset() noexcept TIMBREL_REALTIME;

  int sounding_voices() const noexcept TIMBREL_REALTIME;  // held or releasing (pad not counted)
  // The latent point voice i (0 .. kMaxVoices - 1; kMaxVoices: the pad)
  // decoded in the last frame, kLatent values; null while it is silent. For
  // showing the voices on the XY pad, and for tests of the latent path.
  const float* voice_latent(int voice) const noexcept TIMBREL_REALTIME;
  const NoteSynthStats& stats() const { return stats_; }
  const NoteSynthSettings& settings() const { return settings_; }
  const models::CrossmodalVae& model() const { return *model_; }
  const dsp::ConstantQ& constant_q() const { return cqt_; }
  long frames() const { return frames_; }

 private:
  struct Voice;
  // The labels (M) of `pitch` in each instrument slot; true when any slot transposed it.
  bool labels_for(int pitch, int velocity,
                  models::NoteLabel* labels) const noexcept TIMBREL_REALTIME;
  // Posterior of `labels` and a draw from it at the current temperature.
  void encode(const models::NoteLabel* labels, float* mean, float* point,
              bool draw) noexcept TIMBREL_REALTIME;
  Voice* allocate(int pitch) noexcept TIMBREL_REALTIME;
  void start_note(Voice& voice, bool join, const float* point) noexcept TIMBREL_REALTIME;
  // Advances the voice's latent and envelope by one frame; adds its magnitudes.
  void render_voice(Voice& voice, bool note_voice) noexcept TIMBREL_REALTIME;
  float next_gaussian() noexcept TIMBREL_REALTIME;

  models::CrossmodalVae* model_;
  NoteSynthSettings settings_;
  dsp::ConstantQ cqt_;
  int attack_frames_, release_frames_, transition_frames_;
  float pad_glide_;            // one-pole coefficient per frame
  std::vector<Voice> voices_;  // kMaxVoices note voices, then the pad
  std::vector<float> one_hot_, mean_, logvar_, features_, cqt_sum_;
  std::array<float, models::CrossmodalVae::kLatent> pad_target_{}, morph_a_{}, morph_b_{};
  float morph_position_ = 0.0f;
  bool pad_normalised_ = false;  // set_latent_point (true) or morph / set_latent
  float pad_reference_ = 0.0f;   // median L2 norm of the mf labels' CQT magnitudes
  float pad_norm_ = 1.0f;        // the pad voice's current normalising gain
  std::uint32_t random_state_;
  bool spare_ready_ = false;
  float spare_ = 0.0f;
  long order_ = 0;  // note counter: which note started first
  long frames_ = 0;
  NoteSynthStats stats_;
};

// Live playing at 22050 Hz for the AudioWorklet: NoteFrameSynth + RtpghiSynth.
class LiveNoteSynth {
 public:
  static constexpr int kSampleRate = NoteFrameSynth::kSampleRate, kHop = NoteFrameSynth::kHop;

  LiveNoteSynth(models::CrossmodalVae& model, const NoteSynthSettings& settings = {},
                const dsp::RtpghiOptions& phase = {});
  // NoteFrameSynth::set_model, and the phase reconstruction restarted (its FFT
  // and windows are kept: a model switch builds no DSP set-up).
  void set_model(models::CrossmodalVae& model, const NoteSynthSettings& settings = {});

  void note_on(int pitch, int velocity) noexcept TIMBREL_REALTIME {
    frames_.note_on(pitch, velocity);
  }
  void note_off(int pitch) noexcept TIMBREL_REALTIME { frames_.note_off(pitch); }
  void all_notes_off() noexcept TIMBREL_REALTIME { frames_.all_notes_off(); }
  void pad_on(float level) noexcept TIMBREL_REALTIME { frames_.pad_on(level); }
  void pad_off() noexcept TIMBREL_REALTIME { frames_.pad_off(); }
  void set_latent_point(float x, float y) noexcept TIMBREL_REALTIME {
    frames_.set_latent_point(x, y);
  }
  void set_latent(const float* z) noexcept TIMBREL_REALTIME { frames_.set_latent(z); }
  void set_morph(int pitch_a, int velocity_a, int pitch_b,
                 int velocity_b) noexcept TIMBREL_REALTIME {
    frames_.set_morph(pitch_a, velocity_a, pitch_b, velocity_b);
  }
  void set_morph_position(float position) noexcept TIMBREL_REALTIME {
    frames_.set_morph_position(position);
  }
  void set_temperature(float temperature) noexcept TIMBREL_REALTIME {
    frames_.set_temperature(temperature);
  }
  void set_interpolation(Interpolation interpolation) noexcept TIMBREL_REALTIME {
    frames_.set_interpolation(interpolation);
  }

  // Real-time safe: kHop samples.
  void process_hop(float* out) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;

  // From a note_on before process_hop() to the centre of its first frame in
  // that call's output onwards: window / 2 = 1024 samples (46 ms); the frame
  // fades in from the call itself.
  static constexpr int latency_samples() { return NoteFrameSynth::kWindow / 2; }
  const NoteFrameSynth& engine() const { return frames_; }
  const NoteSynthStats& stats() const { return frames_.stats(); }

 private:
  NoteFrameSynth frames_;
  dsp::RtpghiSynth phase_;
  std::vector<float> magnitude_;
};

// --- offline: a MIDI song -----------------------------------------------------

enum class PhaseMethod { kGriffinLim, kRtpghi };
// "griffin-lim" / "rtpghi"; false (value untouched) for anything else.
bool parse_phase_method(const std::string& text, PhaseMethod* method);
const char* phase_method_name(PhaseMethod method);

struct RenderOptions {
  NoteSynthSettings synth;
  PhaseMethod phase = PhaseMethod::kGriffinLim;
  int iterations = 30;  // Griffin-Lim
  dsp::RtpghiOptions rtpghi;
};

struct RenderReport {
  int notes = 0;               // in the song
  int drum_notes_skipped = 0;  // channel 10 (percussion): no pitch to play
  int notes_rendered = 0;
  long notes_transposed = 0;
  long voices_stolen = 0;
  int peak_voices = 0;
  long frames = 0;
  double duration_s = 0.0;  // of the output
  float peak = 0.0f;        // before normalisation
  // Only when the peak would clip (> 1): scaled to -1 dBFS (peak 0.891).
  bool normalised = false;
  float gain = 1.0f;
  // The output guard (dsp/output_guard.h) after that: samples the limiter
  // reduced, and `muted` when the model's output was not sound (non-finite or
  // above +12 dBFS for 100 ms): the samples are then silence, and callers
  // report it as an error (mute_reason says which).
  long limited = 0;
  bool muted = false;
  const char* mute_reason = "";
};

struct RenderResult {
  std::vector<float> samples;  // 22050 Hz, sample n at time n / 22050 s
  RenderReport report;
};

// stage "frames" (done/total frames, called every 64 frames and at the end)
// or "phase" (Griffin-Lim iterations; RTPGHI reports through "frames" only).
// Return false to cancel: render_song then throws dsp::Cancelled.
using RenderProgress = std::function<bool(const char* stage, int done, int total)>;

// Finished samples while the render runs, so it can be heard before it ends:
// samples [offset, offset + count) of RenderResult::samples, in order, each
// once, before any normalisation (report.gain is known only at the end), each
// through a streaming output guard (finite, inside [-1, 1]).
using RenderChunk = std::function<void(const float* samples, size_t offset, size_t count)>;

// Renders every pitched note of `song` (drum channel skipped) until the later
// of its duration and the last note's end + release, plus one window of tail.
// Throws std::invalid_argument on bad options (settings, iterations 0-1000).
// The model is used, not changed, and must not be shared with a running synth.
// With `chunk`, Griffin-Lim runs in segments (dsp::StreamingGriffinLim, 1.5 s
// each: the render streams, within a few % of the whole-buffer result) and
// progress reports stage "frames" only; RTPGHI streams as it is.
RenderResult render_song(models::CrossmodalVae& model, const midi::Song& song,
                         const RenderOptions& options, const RenderProgress& progress = {},
                         const RenderChunk& chunk = {});

// Frame index at which an event at time t applies (see "Timing" above).
long frame_of_time(double t_s) noexcept TIMBREL_REALTIME;

}  // namespace timbrel::engine
