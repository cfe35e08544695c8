// The page's live input path: device-rate blocks in, descriptors out, and a
// monitor signal that has made the round trip through the model rate.
//
//   in (device rate) -> resample to 22050 Hz -> framer (hop) -> STFT frame
//     -> descriptors + YIN -> frame queue (popped by the caller)
//   model-rate hop -> resample back to device rate -> x monitor gain
//     -> limiter (dsp/output_guard.h, -1 dBTP, never mutes) -> out
//
// The constructor prepares everything; process() and pop_frame() never
// allocate, lock, throw or log.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "timbrel/dsp/descriptors.h"
#include "timbrel/dsp/output_guard.h"
#include "timbrel/dsp/stft.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/engine/device_stream.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

struct AnalysisFrame {
  dsp::SpectralDescriptors spectral;
  dsp::PitchEstimate pitch;
};

struct ListenAnalyzerConfig : DeviceSpec {
  // A constructor rather than brace elision into the base (which clang warns about).
  ListenAnalyzerConfig(double rate = 48000.0, int block = 128) : DeviceSpec{rate, block} {}
  double model_rate = 22050.0;
  int window = 1024;
  int hop = 256;
};

class ListenAnalyzer {
 public:
  // Empty string when the configuration is usable, else what is wrong.
  static std::string validate(const ListenAnalyzerConfig& config);

  // Throws std::invalid_argument with validate()'s message on a bad config.
  explicit ListenAnalyzer(const ListenAnalyzerConfig& config);

  // Real-time safe. n <= max_block samples at the device rate; in and out may alias.
  void process(const float* in, float* out, int n) noexcept TIMBREL_REALTIME;

  // Real-time safe. Takes the oldest queued frame; spectrum_db (if not null)
  // receives spectrum_bins() values of 10 log10(P[k] + 1e-12). False when empty.
  bool pop_frame(AnalysisFrame& frame, float* spectrum_db) noexcept TIMBREL_REALTIME;

  void set_monitor_gain(float gain) noexcept TIMBREL_REALTIME { monitor_gain_ = gain; }
  int spectrum_bins() const { return config_.window / 2 + 1; }
  double frame_rate_hz() const { return config_.model_rate / config_.hop; }
  // Delay of the monitor path (device rate), input sample to output sample.
  int monitor_latency_samples() const;
  // Frames dropped because nobody popped them (queue full).
  long dropped_frames() const { return dropped_frames_; }
  // Output samples that had to be silence because the resamplers fell behind
  // (zero in steady state; a test holds it to zero).
  long fifo_underruns() const { return stream_.underruns(); }
  long fifo_overruns() const { return stream_.overruns(); }
  // Input samples that were NaN or infinite (replaced by silence).
  long nonfinite_inputs() const { return nonfinite_inputs_; }
  const ListenAnalyzerConfig& config() const { return config_; }

 private:
  void process_hop(const float* hop_in, float* hop_out) noexcept TIMBREL_REALTIME;

  static constexpr int kQueueFrames = 32;

  ListenAnalyzerConfig config_;
  HopStream stream_;  // device <-> model-rate hops
  dsp::StftAnalyzer stft_;
  dsp::DescriptorAnalyzer descriptors_;
  dsp::Yin yin_;
  std::vector<float> device_in_;  // sanitised input block
  long nonfinite_inputs_ = 0;
  std::array<AnalysisFrame, kQueueFrames> queue_{};
  std::vector<float> queue_spectra_;  // kQueueFrames x spectrum_bins()
  dsp::OutputGuard monitor_guard_;    // the monitor's last stage: limiter at -1 dBTP
  int queue_head_ = 0;
  int queue_size_ = 0;
  long dropped_frames_ = 0;
  float monitor_gain_ = 0.0f;
};

}  // namespace timbrel::engine
