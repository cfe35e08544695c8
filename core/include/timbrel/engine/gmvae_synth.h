// Notes -> audio with a GMVAE (models/gmvae.h; docs/gmvae.md, "Audio"),
// offline (the CLI, the Worker's renders) and live (the AudioWorklet).
//
// A note is its decoded 43-frame log-mel patch (500 ms), decoded at note-on
// from its latent point [z_pitch, z_timbre] (or handed over decoded, e.g. by
// ONNX Runtime), then, while the key is held, each mel band continues at its
// level slope over the patch's last kSlopeFrames (13) frames (least squares in
// the scaled domain, i.e. in dB, clamped to <= 0: a piano keeps decaying, a
// flute holds), from the patch's last frame on; after key-up a linear fade of
// the magnitudes over kReleaseFrames (13 frames, 150 ms), after which the
// voice is idle. Velocity scales the magnitudes by velocity / 100.
//
// Per hop (256 samples at 22050 Hz) every sounding voice's frame goes through
// the mel inverse (dsp/mel.h) to 1025 STFT magnitudes, laid onto the harmonics
// of the note's f0 (MelSpectrogram::harmonic_gains: the pitch component nearest
// the latent's z_pitch, or the key for a bare patch); the voices (up to
// kVoices = 8) are summed as magnitudes and phase-reconstructed once: RTPGHI
// live, RTPGHI then fast Griffin-Lim offline (as engine/note_synth.h does).
// A note takes an idle voice, else the releasing voice nearest its end, else
// the voice whose note started first (stolen).
//
// Timing: a command before next_frame() applies to that frame; a voice's
// frame m is centred on note sample m * 256 (the features' alignment). In
// render_note()'s output sample 0 is the note's onset; live, the onset's frame
// centre comes LiveGmvaeSynth::latency_samples() (1280) samples after the
// process_hop() call that starts it (RTPGHI's look-ahead hop + half a window).
//
// Real time: every method of GmvaeSynth, LiveGmvaeSynth and GmvaePlayer except
// the constructors and the model loaders is noexcept and allocation-free,
// decoding at note-on included (the model's preallocated buffers); nothing
// locks or logs. Commands and processing come from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/output_guard.h"
#include "timbrel/dsp/phase_reconstruction.h"
#include "timbrel/engine/device_stream.h"
#include "timbrel/models/gmvae.h"
#include "timbrel/nn/model_image.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

struct GmvaeSynthStats {
  long notes = 0;          // note_on calls that started a voice
  long voices_stolen = 0;  // notes that took a voice whose key was still down
  long decodes = 0;        // decoder runs
  int peak_voices = 0;     // most voices sounding in one frame
};

// The spectral engine: notes in, one frame of STFT magnitudes per hop out.
class GmvaeSynth {
 public:
  static constexpr int kVoices = 8;
  static constexpr int kSampleRate = models::Gmvae::kSampleRate, kHop = models::Gmvae::kHop;
  static constexpr int kWindow = models::Gmvae::kWindow, kFftBins = kWindow / 2 + 1;
  static constexpr int kFrames = models::Gmvae::kFrames, kMelBins = models::Gmvae::kMelBins;
  static constexpr int kSlopeFrames = 13;
  static constexpr int kReleaseFrames = 13;  // 150 ms: round(0.15 * 22050 / 256)

  // The model must outlive the synth, and nothing else may run its graphs
  // meanwhile (they carry scratch).
  explicit GmvaeSynth(models::Gmvae& model);
  ~GmvaeSynth();
  GmvaeSynth(const GmvaeSynth&) = delete;
  GmvaeSynth& operator=(const GmvaeSynth&) = delete;
  // Another model: every voice idle, stats cleared.
  void set_model(models::Gmvae& model) noexcept;

  // key 0-127 (for note_off), velocity 1-127 (clamped; 0: note_off); z: kZ
  // values [z_pitch, z_timbre] (non-finite values count as 0), decoded here.
  void note_on(int key, int velocity, const float* z) noexcept TIMBREL_REALTIME;
  // The same with the patch already decoded: kPatch scaled values in [-1, 1].
  void note_on_patch(int key, int velocity, const float* patch) noexcept TIMBREL_REALTIME;
  // Releases the held voice of this key whose note started first (none: ignored).
  void note_off(int key) noexcept TIMBREL_REALTIME;
  void all_notes_off() noexcept TIMBREL_REALTIME;

  // kFftBins magnitudes in dsp::PhaseReconstruction's scale.
  void next_frame(float* magnitude) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;  // every voice idle, stats cleared

  int sounding_voices() const noexcept TIMBREL_REALTIME;
  long frames() const { return frames_; }
  const GmvaeSynthStats& stats() const { return stats_; }
  const models::Gmvae& model() const { return *model_; }

 private:
  struct Voice;
  Voice* allocate() noexcept TIMBREL_REALTIME;
  void start(Voice& voice, int key, int velocity, int pitch_midi) noexcept TIMBREL_REALTIME;
  void render(Voice& voice, float* sum) noexcept TIMBREL_REALTIME;

  models::Gmvae* model_;
  std::vector<Voice> voices_;
  std::vector<float> z_, bands_, magnitude_;
  long order_ = 0;
  long frames_ = 0;
  GmvaeSynthStats stats_;
};

// Live at 22050 Hz: GmvaeSynth + RtpghiSynth + the output guard.
class LiveGmvaeSynth {
 public:
  static constexpr int kSampleRate = GmvaeSynth::kSampleRate, kHop = GmvaeSynth::kHop;

  explicit LiveGmvaeSynth(models::Gmvae& model, const dsp::RtpghiOptions& phase = {});
  void set_model(models::Gmvae& model) noexcept;  // silence, guard and phase restarted

  void note_on(int key, int velocity, const float* z) noexcept TIMBREL_REALTIME {
    frames_.note_on(key, velocity, z);
  }
  void note_on_patch(int key, int velocity, const float* patch) noexcept TIMBREL_REALTIME {
    frames_.note_on_patch(key, velocity, patch);
  }
  void note_off(int key) noexcept TIMBREL_REALTIME { frames_.note_off(key); }
  void all_notes_off() noexcept TIMBREL_REALTIME { frames_.all_notes_off(); }

  // kHop samples, finite and inside [-1, 1].
  void process_hop(float* out) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;

  // From a note_on before process_hop() to its first frame's centre in that
  // call's output onwards: RTPGHI's look-ahead hop + half a window.
  static constexpr int latency_samples() { return GmvaeSynth::kHop + GmvaeSynth::kWindow / 2; }
  const GmvaeSynth& engine() const { return frames_; }
  dsp::GuardState guard_state() const { return guard_.state(); }

 private:
  GmvaeSynth frames_;
  dsp::RtpghiSynth phase_;
  dsp::OutputGuard guard_;
  std::vector<float> magnitude_;
};

// Live at the device rate for the AudioWorklet: LiveGmvaeSynth hops ->
// resample -> FIFO -> blocks of any size up to max_block -> output guard (as
// engine/midi_player.h).
class GmvaePlayer {
 public:
  static std::string validate(const DeviceSpec& device);
  explicit GmvaePlayer(const DeviceSpec& device);  // throws on validate()'s problems
  ~GmvaePlayer();

  // --- model (outside process(); allocates) ---------------------------------
  std::string load_model(const std::uint8_t* bytes, std::size_t size);  // "" or the error
  std::string adopt_image(nn::ImageBlock image);
  void set_model(std::unique_ptr<models::Gmvae> model);  // null: silence
  bool has_model() const { return synth_ != nullptr; }
  models::Gmvae* model() { return model_.get(); }

  // --- real time --------------------------------------------------------------
  void note_on(int key, int velocity, const float* z) noexcept TIMBREL_REALTIME;
  void note_on_patch(int key, int velocity, const float* patch) noexcept TIMBREL_REALTIME;
  void note_off(int key) noexcept TIMBREL_REALTIME;
  void all_notes_off() noexcept TIMBREL_REALTIME;
  // n <= max_block device samples (larger n is clamped).
  void process(float* out, int n) noexcept TIMBREL_REALTIME;
  // One hop of kHop samples at 22050 Hz, for a context at the model's rate
  // (use either this or process(), not both).
  void process_hop(float* out) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;

  // From a command before process() to the note's first frame centre, in
  // device samples (mean of the bounds, as MidiPlayer).
  int latency_samples() const { return (min_latency_ + max_latency_) / 2; }
  int min_latency_samples() const { return min_latency_; }
  int max_latency_samples() const { return max_latency_; }
  int sounding_voices() const { return synth_ ? synth_->engine().sounding_voices() : 0; }
  dsp::GuardState guard_state() const { return guard_.state(); }
  const DeviceSpec& config() const { return config_; }

 private:
  DeviceSpec config_;
  HopsToDevice device_;
  dsp::OutputGuard guard_;
  std::unique_ptr<models::Gmvae> model_;
  std::unique_ptr<LiveGmvaeSynth> synth_;  // refers to *model_
  int min_latency_ = 0, max_latency_ = 0;
};

// --- offline: one note ----------------------------------------------------------

struct GmvaeRenderOptions {
  bool griffin_lim = true;  // false: RTPGHI alone (the live synth's phase)
  int iterations = 30;      // fast Griffin-Lim from RTPGHI, 0-1000 (clamped)
  int velocity = 100;       // 1-127 (clamped)
  int midi = 60;            // render_patch: the patch's pitch (its harmonics); render_note
                            // takes it from the latent's pitch component
  dsp::RtpghiOptions rtpghi;
};

struct GmvaeRender {
  std::vector<float> samples;  // 22050 Hz; sample 0 is the note's onset
  long frames = 0;             // spectral frames: held, then the release
  float peak = 0.0f;           // before normalisation
  bool normalised = false;     // peak > 1: scaled to -1 dBFS (0.891)
  float gain = 1.0f;
  dsp::GuardReport guard;  // the output guard after that (muted: silence)
};

// Longest held time render_note() plays.
constexpr double kMaxHeldSeconds = 30.0;

// One note held for held_s seconds (clamped to 0 .. kMaxHeldSeconds, at least
// one frame), then released: (held + release frames - 1) * 256 + 1024
// samples, through the output guard. z: kZ values (the patch: kPatch values).
// The model must not be shared with a running synth meanwhile.
GmvaeRender render_note(models::Gmvae& model, const float* z, double held_s,
                        const GmvaeRenderOptions& options = {});
GmvaeRender render_patch(models::Gmvae& model, const float* patch, double held_s,
                         const GmvaeRenderOptions& options = {});

}  // namespace timbrel::engine
