// Live note playing at the device rate for the AudioWorklet: the page's
// keyboard, Web MIDI input, XY pad and morph slider played through a
// cross-modal VAE (engine/note_synth.h's LiveNoteSynth).
//
//   commands -> LiveNoteSynth hop (22050 Hz, 256 samples) -> resample to the
//   device rate -> FIFO -> blocks of the caller's size (any size up to max_block)
//   -> output guard (dsp/output_guard.h: a true-peak limiter at -1 dBTP keeps
//   the output inside [-1, 1]; a model whose output stays non-finite or above
//   +12 dBFS for 100 ms is muted until the next set_model(): guard_state())
//
// Latency, from a command given before process() to the centre of the note's
// first synthesis frame in the output, at the device rate R (r = 22050):
//   FIFO backlog: samples of earlier hops still queued when the command
//   arrives, 0 .. ceil(256 R / r) - 1 (one device hop), depending on where the block
//   falls within the hop
// + the synth's window / 2 = 1024 model samples
// + the upsampler's group delay (speexdsp quality 10: 128 model samples).
//   48000 Hz: 2508 .. 3065 samples (52.3 .. 63.9 ms), mean 2786 (58.0 ms)
//   44100 Hz: 2304 .. 2815 samples (52.2 .. 63.8 ms), mean 2559 (58.0 ms)
//   22050 Hz (no resampling): 1024 .. 1279 samples (46.4 .. 58.0 ms), mean 1151 (52.2 ms)
// latency_samples() states the mean; the bounds are there for the page and
// the test that measures them.
//
// Real-time rules: the constructor and set_model()/load_model() allocate;
// process() and every command (notes, pad, morph, temperature, interpolation)
// never allocate, lock, throw or log. Not thread-safe: call everything from
// the thread that calls process() (the worklet's).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/output_guard.h"
#include "timbrel/engine/device_stream.h"
#include "timbrel/engine/note_synth.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

// The device's rate (22050 Hz: no resampling) and largest block.
using MidiPlayerConfig = DeviceSpec;

class MidiPlayer {
 public:
  static constexpr int kModelRate = LiveNoteSynth::kSampleRate;
  static constexpr int kHop = LiveNoteSynth::kHop;

  // Empty when the configuration is usable, else what is wrong.
  static std::string validate(const MidiPlayerConfig& config);
  // Throws std::invalid_argument with validate()'s message.
  explicit MidiPlayer(const MidiPlayerConfig& config);
  ~MidiPlayer();
  MidiPlayer(const MidiPlayer&) = delete;
  MidiPlayer& operator=(const MidiPlayer&) = delete;

  // --- model (outside process(); allocates) ---------------------------------
  // "" or the loader's message (the previous model stays on error).
  std::string load_model(const std::uint8_t* bytes, std::size_t size,
                         const NoteSynthSettings& settings = {});
  // The same with a model image prepared elsewhere (models/prepared_model.h).
  std::string adopt_image(nn::ImageBlock image, const NoteSynthSettings& settings = {});
  // Takes the model (null: none, output silent) and builds its synth; every
  // note stops. Throws std::invalid_argument for settings validate() rejects.
  void set_model(std::unique_ptr<models::CrossmodalVae> model,
                 const NoteSynthSettings& settings = {});
  bool has_model() const { return synth_ != nullptr; }
  const models::CrossmodalVae* model() const { return model_.get(); }

  // --- commands (real-time safe; ignored without a model) --------------------
  void note_on(int pitch, int velocity) noexcept TIMBREL_REALTIME;  // velocity 0: note_off
  void note_off(int pitch) noexcept TIMBREL_REALTIME;
  void all_notes_off() noexcept TIMBREL_REALTIME;  // notes and pad released (they fade out)
  // The XY pad: z = projection mean + x axis 0 + y axis 1, sounding while on.
  void set_pad(float x, float y, bool on) noexcept TIMBREL_REALTIME;
  // The morph slider: the pad voice between the posterior means of two notes,
  // position 0 (a) .. 1 (b), sounding while on. The two notes are encoded
  // only when they change; moving the position alone is a few multiply-adds.
  void set_morph(int pitch_a, int velocity_a, int pitch_b, int velocity_b, float position,
                 bool on) noexcept TIMBREL_REALTIME;
  void set_temperature(float temperature) noexcept TIMBREL_REALTIME;
  void set_interpolation(Interpolation interpolation) noexcept TIMBREL_REALTIME;

  // Real-time safe. n <= max_block samples at the device rate (larger n is
  // clamped: only max_block samples are written).
  void process(float* out, int n) noexcept TIMBREL_REALTIME;
  // Silence now: voices idle, FIFO and resampler cleared.
  void reset() noexcept TIMBREL_REALTIME;

  // See the header comment: from a command to the note's first frame centre.
  int latency_samples() const { return (min_latency_ + max_latency_) / 2; }
  int min_latency_samples() const { return min_latency_; }
  int max_latency_samples() const { return max_latency_; }
  double latency_ms() const { return 1000.0 * latency_samples() / config_.device_rate; }

  int sounding_voices() const { return synth_ ? synth_->engine().sounding_voices() : 0; }
  const LiveNoteSynth* synth() const { return synth_.get(); }
  const MidiPlayerConfig& config() const { return config_; }
  dsp::GuardState guard_state() const { return guard_.state(); }
  const dsp::OutputGuard& guard() const { return guard_; }

 private:
  std::string take(models::CrossmodalVae::LoadResult loaded, const NoteSynthSettings& settings);
  MidiPlayerConfig config_;
  HopsToDevice device_;
  dsp::OutputGuard guard_;
  std::unique_ptr<models::CrossmodalVae> model_;
  std::unique_ptr<LiveNoteSynth> synth_;  // refers to *model_
  int min_latency_ = 0, max_latency_ = 0;
  // The morph's two notes as last encoded (pitch a, velocity a, pitch b, velocity b).
  std::array<int, 4> morph_notes_{-1, -1, -1, -1};
};

}  // namespace timbrel::engine
