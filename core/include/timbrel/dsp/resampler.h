// Streaming sample-rate conversion over speexdsp's resampler (Debian
// libspeexdsp natively; its Debian source for WebAssembly).
//
// Quality 10 (Kaiser-12 windowed sinc, 256 taps at the lower rate): passband
// flat to well under 0.1 dB up to 9 kHz and the stopband below -70 dB
// (measured by tests/core/test_resampler.cpp).
#pragma once

#include <memory>

#include "timbrel/realtime.h"

namespace timbrel::dsp {

class StreamingResampler {
 public:
  // Rates are whole numbers of Hz. Throws std::invalid_argument on bad rates.
  StreamingResampler(int input_rate, int output_rate, int max_input_block, int quality = 10);
  ~StreamingResampler();
  StreamingResampler(StreamingResampler&&) noexcept;
  StreamingResampler& operator=(StreamingResampler&&) noexcept;

  // Real-time safe. Consumes all n <= max_input_block samples, writes up to
  // max_output(n) samples to out and returns how many.
  int process(const float* in, int n, float* out) noexcept TIMBREL_REALTIME;

  // Upper bound of process()'s output for n input samples.
  int max_output(int n) const;
  int max_input_block() const { return max_input_block_; }
  // Group delay of the filter, in input samples.
  double latency_input_samples() const;
  int input_rate() const { return input_rate_; }
  int output_rate() const { return output_rate_; }
  void reset() noexcept TIMBREL_REALTIME;

 private:
  struct State;
  int input_rate_;
  int output_rate_;
  int max_input_block_;
  std::unique_ptr<State> state_;
};

}  // namespace timbrel::dsp

#include <vector>

namespace timbrel::dsp {

// Whole-buffer conversion with the same filter, delay removed: returns
// round(n * output_rate / input_rate) samples aligned with the input.
std::vector<float> resample(const std::vector<float>& input, int input_rate, int output_rate);

}  // namespace timbrel::dsp
