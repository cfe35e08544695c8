// The page's voice path: device-rate blocks in, an instrument out, through a
// vq_timbre model (models/vq_timbre.h) at 22050 Hz.
//
//   in -> x input gain -> noise gate ---------------> resample to 22050 Hz
//      -> framer (hop 256) -> analysis ring (last 1024 samples) -> YIN
//      -> VqTimbre hop (old and new model during a switch, crossfaded)
//      -> resample back to the device rate -> wet
//   in -> x input gain -> delay (latency_samples()) -> dry
//   out = output gain x ((1 - dry/wet) dry + dry/wet wet) -> output guard
//
// Guards (dsp/output_guard.h): the models' hops pass a watch at 22050 Hz
// (non-finite or above +12 dBFS for 100 ms: that model is muted until the next
// model or reset(); guard_state() then says kMuted), and the mixed output a
// true-peak limiter at -1 dBTP that keeps it inside [-1, 1]. Neither adds
// latency; under the ceiling the output is unchanged.
//
// At a device rate of 22050 Hz both resamplers are skipped, and the output is
// exactly the offline VqTimbre::render() delayed by latency_samples() (511).
//
// With no model loaded the wet path is silence: the output is the delayed dry
// signal times (1 - dry/wet), so a page that has not loaded a model yet still
// lets the user hear (or not hear) the microphone as the dry/wet knob says.
//
// Real-time rules: the constructor prepares every buffer; process() and the
// parameter setters never allocate, free, lock, throw or log. Model switching:
// load_model()/set_model() run outside process() (they allocate), process()
// crossfades old -> new, and the retired model is freed by the next
// collect()/set_model()/load_model() call, never inside process(). Not
// thread-safe: call everything from the thread that calls process() (in the
// page that is the AudioWorklet's thread, between two process() calls).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/output_guard.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/engine/device_stream.h"
#include "timbrel/models/vq_timbre.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

// The device's rate (22050 Hz: no resampling) and largest block.
using VoiceTransferConfig = DeviceSpec;

class VoiceTransfer {
 public:
  static constexpr int kModelRate = models::VqTimbre::kSampleRate;
  // A new model first runs kWarmupHops hops unheard (its overlap-add, excitation
  // and GRU fill up), then fades in over kCrossfadeSamples model-rate samples
  // (46 ms) while the old one fades out.
  static constexpr int kWarmupHops = 2;
  static constexpr int kCrossfadeSamples = 1024;
  static constexpr float kGateOffDb = -100.0f;  // gate thresholds at or below: gate off

  // Empty string when the configuration is usable, else what is wrong.
  static std::string validate(const VoiceTransferConfig& config);

  // Throws std::invalid_argument with validate()'s message on a bad config.
  explicit VoiceTransfer(const VoiceTransferConfig& config);
  ~VoiceTransfer();
  VoiceTransfer(const VoiceTransfer&) = delete;
  VoiceTransfer& operator=(const VoiceTransfer&) = delete;

  // --- models (outside process(); these allocate and free) ------------------
  // Loads and checks a .tmbl file: "" on success (the model crossfades in),
  // else the loader's or VqTimbre::validate()'s message, and the current model
  // keeps playing.
  std::string load_model(const std::uint8_t* bytes, std::size_t size);
  std::string load_model_file(const std::string& path);
  // The same with a model image prepared elsewhere (models/prepared_model.h):
  // the page's worklet adopts it in well under a millisecond.
  std::string adopt_image(nn::ImageBlock image);
  // Takes a checked model (not null; throws std::invalid_argument otherwise),
  // gives it the current mode/octaves/seed and starts the crossfade. A model
  // set while another switch is under way waits for it to finish (a third one
  // replaces the waiting one).
  void set_model(std::unique_ptr<models::VqTimbre> model);
  // The level of the models loaded from now on, in dB (clamped to [-24, 24];
  // default 0): each model keeps its own through its crossfade, so the page can
  // even out instruments whose training data differed in level without a jump
  // at the switch. The dry path is not affected.
  void set_next_model_gain_db(float db) noexcept TIMBREL_REALTIME;
  // Frees the models that process() retired after their crossfade.
  void collect();
  bool has_model() const { return active_ || incoming_ || queued_; }
  // The newest model (the one playing once any switch has finished), or null.
  const models::VqTimbre* model() const;
  bool switching() const { return incoming_ != nullptr; }
  int retired_models() const;

  // --- audio ---------------------------------------------------------------
  // Real-time safe. n <= max_block samples at the device rate; in and out may
  // alias. Non-finite input samples are replaced by silence (and counted).
  void process(const float* in, float* out, int n) noexcept TIMBREL_REALTIME;
  // A new stream: clears filters, buffers, gate, meters and model state, and
  // finishes any switch at once. Keeps the parameters. Outside process().
  void reset();

  // --- parameters (real-time safe; take effect from the next block or hop) --
  void set_mode(models::TransferMode mode) noexcept TIMBREL_REALTIME;
  void set_octaves(int octaves) noexcept TIMBREL_REALTIME;  // clamped to [-3, 3]
  void set_seed(std::uint32_t seed) noexcept TIMBREL_REALTIME;
  // Input gain, clamped to [-60, 40] dB, and output gain, clamped to [-60, 24]
  // dB; both ramp over a block.
  void set_input_gain_db(float db) noexcept TIMBREL_REALTIME;
  void set_output_gain_db(float db) noexcept TIMBREL_REALTIME;
  // Gate threshold; <= -100: off (the default).
  void set_gate_db(float db) noexcept TIMBREL_REALTIME;
  // 0 dry .. 1 wet (default 1); ramps over a block.
  void set_dry_wet(float mix) noexcept TIMBREL_REALTIME;
  models::TransferMode mode() const { return mode_; }
  int octaves() const { return octaves_; }
  std::uint32_t seed() const { return seed_; }
  float input_gain_db() const { return input_gain_db_; }
  float gate_db() const { return gate_db_; }
  float dry_wet() const { return mix_target_; }
  float output_gain_db() const { return output_gain_db_; }

  // --- meters and counters (of the last process() call / hop) --------------
  float input_level_db() const { return input_level_db_; }    // RMS after input gain, >= -120
  float output_level_db() const { return output_level_db_; }  // RMS of the output, >= -120
  float last_f0_hz() const { return last_pitch_.f0_hz; }      // input f0 of the last hop (YIN)
  bool last_voiced() const { return last_pitch_.voiced; }
  bool gate_open() const { return gate_gain_ > 0.0f; }
  // Input sample to output sample, at the device rate (see the .cpp for the sum).
  int latency_samples() const { return latency_samples_; }
  double latency_ms() const { return 1000.0 * latency_samples_ / config_.device_rate; }
  long nonfinite_inputs() const { return nonfinite_inputs_; }
  // Output samples that had to be silence because the resamplers fell behind,
  // and resampled samples dropped for lack of room: zero in steady state.
  long underruns() const { return stream_.underruns(); }
  long overruns() const { return stream_.overruns(); }
  long hops() const { return hops_; }
  const VoiceTransferConfig& config() const { return config_; }
  // kMuted when the model's output was not sound (see the header comment),
  // else the output limiter's state (kLimiting once it reduced an over).
  dsp::GuardState guard_state() const {
    return model_guard_.muted() ? dsp::GuardState::kMuted : output_guard_.state();
  }
  const dsp::OutputGuard& model_guard() const { return model_guard_; }
  const dsp::OutputGuard& output_guard() const { return output_guard_; }

 private:
  // set_model() on success, else the loader's message.
  std::string take(models::VqTimbre::LoadResult loaded);
  void process_hop(const float* hop_in, float* hop_out) noexcept TIMBREL_REALTIME;
  bool retire(std::unique_ptr<models::VqTimbre>& model) noexcept TIMBREL_REALTIME;
  void apply_parameters(models::VqTimbre& model) const noexcept TIMBREL_REALTIME;

  static constexpr int kRetiredSlots = 4;
  static constexpr int kHop = models::VqTimbre::kHop;
  static constexpr int kWindow = models::VqTimbre::kWindow;

  VoiceTransferConfig config_;
  HopStream stream_;         // device <-> model-rate hops
  dsp::PitchTracker pitch_;  // the vq_timbre contract's tracker
  int latency_samples_;

  std::vector<float> frame_;      // analysis ring: the last kWindow model-rate samples
  std::vector<float> fade_hop_;   // the incoming model's hop during a switch
  std::vector<float> device_in_;  // gated input block
  std::vector<float> dry_;        // delayed dry block
  std::vector<float> wet_;        // wet block at the device rate
  std::vector<float> dry_line_;   // latency_samples_ + 1 samples
  size_t dry_write_ = 0;

  std::unique_ptr<models::VqTimbre> active_, incoming_, queued_;
  float active_gain_ = 1.0f, incoming_gain_ = 1.0f, queued_gain_ = 1.0f;  // each model's level
  float next_gain_ = 1.0f;                                                // for set_model()
  std::array<std::unique_ptr<models::VqTimbre>, kRetiredSlots> retired_;
  int warmup_left_ = 0;
  int fade_done_ = 0;  // crossfade samples done

  models::TransferMode mode_ = models::TransferMode::kPitch;
  int octaves_ = 0;
  std::uint32_t seed_ = models::VqTimbre::kDefaultSeed;
  float input_gain_db_ = 0.0f, output_gain_db_ = 0.0f, gate_db_ = -120.0f;
  float input_gain_ = 1.0f, input_gain_target_ = 1.0f;
  float output_gain_ = 1.0f, output_gain_target_ = 1.0f;
  float mix_ = 1.0f, mix_target_ = 1.0f;
  // Noise gate: peak envelope, hold, linear attack/release of the gate gain.
  float gate_threshold_ = 0.0f;  // linear; 0: off
  float envelope_ = 0.0f;
  float envelope_decay_;
  int hold_samples_;
  int hold_left_ = 0;
  float gate_gain_ = 1.0f;
  float gate_attack_step_, gate_release_step_;

  dsp::OutputGuard model_guard_;   // the models' hops: watch and mute, no limiting
  dsp::OutputGuard output_guard_;  // the mixed output: limiter, never mutes
  dsp::PitchEstimate last_pitch_;
  float input_level_db_ = -120.0f;
  float output_level_db_ = -120.0f;
  long nonfinite_inputs_ = 0;
  long hops_ = 0;
};

}  // namespace timbrel::engine
