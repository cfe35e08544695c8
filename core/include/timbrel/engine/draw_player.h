// The page's Draw panel at the device rate: descriptor synthesis
// (models/descriptor_synth.h) of drawn curves, played once or looped, and
// single codes held for auditioning (hover/click on the codebook map).
//
//   curves (22050 Hz hops) -> DescriptorSynth hop -> resample to the device
//   rate -> FIFO -> blocks of the caller's size -> output guard
//
// The output guard (dsp/output_guard.h): a true-peak limiter at -1 dBTP keeps
// the output inside [-1, 1]; a model whose output stays non-finite or above
// +12 dBFS for 100 ms is muted until the next set_synth() (guard_state()).
//
// Redrawing while looping: the page writes the new curves into pending() and
// calls commit(); the loop picks them up at the start of its next pass, so a
// pass is never a mix of two drawings. Both curve sets are allocated once
// (max_hops per curve) and swapped, so neither commit() nor the pass change
// allocates.
//
// Real-time rules: the constructor and set_synth() allocate; process(),
// play(), play_code(), stop(), set_loop(), commit() and editing pending()
// within max_hops never allocate, lock, throw or log. Not thread-safe: call
// everything from the thread that calls process() (the worklet's).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/output_guard.h"
#include "timbrel/engine/device_stream.h"
#include "timbrel/models/descriptor_synth.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

// The device (22050 Hz: no resampling) and the longest curve.
struct DrawPlayerConfig : DeviceSpec {
  // A constructor rather than brace elision into the base (which clang warns about).
  DrawPlayerConfig(double rate = 48000.0, int block = 128, std::size_t hops = 2600)
      : DeviceSpec{rate, block}, max_hops(hops) {}
  std::size_t max_hops;  // the longest curve; 2600: 30 s at 22050 Hz / 256
};

class DrawPlayer {
 public:
  static constexpr int kModelRate = models::DescriptorSynth::kSampleRate;
  static constexpr int kHop = models::DescriptorSynth::kHop;
  enum class State { kStopped, kPlaying, kHoldingCode };

  // Empty when the configuration is usable, else what is wrong.
  static std::string validate(const DrawPlayerConfig& config);
  // Throws std::invalid_argument with validate()'s message.
  explicit DrawPlayer(const DrawPlayerConfig& config);
  ~DrawPlayer();
  DrawPlayer(const DrawPlayer&) = delete;
  DrawPlayer& operator=(const DrawPlayer&) = delete;

  // --- model (outside process(); allocates) ---------------------------------
  // Takes a synth (null: none; output silent) and stops.
  void set_synth(std::unique_ptr<models::DescriptorSynth> synth);
  models::DescriptorSynth* synth() { return synth_.get(); }
  const models::DescriptorSynth* synth() const { return synth_.get(); }

  // --- curves -----------------------------------------------------------------
  // The set the next pass will play: set hops (<= max_hops) and the curves
  // (each at most max_hops values, or empty), then commit(). Starts as a copy
  // of the playing set after each pass change, so editing one curve keeps
  // the others.
  models::DrawCurves& pending() { return pending_; }
  // "" or what is wrong (a curve longer than max_hops, hops 0 or too many);
  // on error nothing changes.
  std::string commit() noexcept TIMBREL_REALTIME;
  const models::DrawCurves& playing() const { return active_; }

  // --- transport (real-time safe) ----------------------------------------------
  void set_loop(bool loop) noexcept TIMBREL_REALTIME { loop_ = loop; }
  bool loop() const { return loop_; }
  // From hop 0 of the committed curves (the synth starts from reset()).
  void play() noexcept TIMBREL_REALTIME;
  // Holds one code until stop() or play(); a second call changes the code
  // without a reset (the decoder glides from one to the other).
  void play_code(int code) noexcept TIMBREL_REALTIME;
  // Fades out over one hop, then silence.
  void stop() noexcept TIMBREL_REALTIME;
  // Silence from now on, without the fade (before the synth is used for
  // something else, such as an offline render).
  void stop_now() noexcept TIMBREL_REALTIME;
  State state() const { return state_; }
  std::size_t position_hop() const { return position_; }  // the next hop to play
  long passes() const { return passes_; }                 // passes finished since play()

  // Real-time safe. n <= max_block samples at the device rate.
  void process(float* out, int n) noexcept TIMBREL_REALTIME;

  const DrawPlayerConfig& config() const { return config_; }
  dsp::GuardState guard_state() const { return guard_.state(); }
  const dsp::OutputGuard& guard() const { return guard_; }

 private:
  void produce_hop(float* hop) noexcept TIMBREL_REALTIME;
  void start_pass() noexcept TIMBREL_REALTIME;

  DrawPlayerConfig config_;
  HopsToDevice device_;
  dsp::OutputGuard guard_;
  std::unique_ptr<models::DescriptorSynth> synth_;
  models::DrawCurves active_, pending_;
  bool pending_ready_ = false;
  bool loop_ = false;
  State state_ = State::kStopped;
  bool fading_out_ = false;
  int code_ = 0;
  std::size_t position_ = 0;
  long passes_ = 0;
};

}  // namespace timbrel::engine
