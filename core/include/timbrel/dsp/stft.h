// Short-time Fourier transform with a periodic Hann window, streaming and offline.
//
// Streaming: StftAnalyzer takes one hop of samples at a time and returns the
// spectrum of the last `window` samples (zeros before the first input);
// OverlapAdd takes one spectrum at a time and returns one finished hop.
// Chained with no spectral change, out[t] = in[t - (window - hop)].
//
// Synthesis uses the same Hann window and least-squares (Griffin-Lim)
// normalisation by sum_m w^2[n - m hop], which is periodic in the hop and
// non-zero for any hop <= window / 2, so 50 % and 75 % overlap both
// reconstruct perfectly.
#pragma once

#include <complex>
#include <vector>

#include "timbrel/dsp/fft.h"
#include "timbrel/realtime.h"

namespace timbrel::dsp {

using Spectrum = std::vector<std::complex<float>>;

struct StftConfig {
  int window = 1024;
  int hop = 256;
};

// Empty when usable, else the problem (window an FFT size, 1 <= hop <= window/2).
const char* validate_stft_config(const StftConfig& config);

class StftAnalyzer {
 public:
  explicit StftAnalyzer(const StftConfig& config);

  // Real-time safe. hop_in: config.hop samples. Returns window/2 + 1 bins,
  // valid until the next call.
  const std::complex<float>* push_hop(const float* hop_in) noexcept TIMBREL_REALTIME;
  // The last `window` input samples (oldest first), after push_hop.
  const float* frame() const { return history_.data(); }

  const StftConfig& config() const { return config_; }
  void reset() noexcept TIMBREL_REALTIME;

 private:
  StftConfig config_;
  RealFft fft_;
  std::vector<float> window_;
  std::vector<float> history_;
  std::vector<float> windowed_;
  Spectrum spectrum_;
};

class OverlapAdd {
 public:
  explicit OverlapAdd(const StftConfig& config);

  // Real-time safe. spectrum: window/2 + 1 bins; writes config.hop samples.
  void push_spectrum(const std::complex<float>* spectrum, float* hop_out) noexcept TIMBREL_REALTIME;

  const StftConfig& config() const { return config_; }
  void reset() noexcept TIMBREL_REALTIME;

 private:
  StftConfig config_;
  RealFft fft_;
  std::vector<float> window_;
  std::vector<float> inverse_norm_;  // 1 / sum_m w^2[n - m hop], n < hop
  std::vector<float> frame_;
  std::vector<float> accumulator_;  // window samples, oldest first
};

// Whole-buffer reference path with the same alignment as the streaming one:
// frame m covers input samples [m hop - (window - hop), m hop + hop), zeros
// outside the signal; there are ceil(length / hop) frames.
std::vector<Spectrum> stft(const std::vector<float>& signal, const StftConfig& config);
// Inverse of stft(): returns `length` samples, out[t] = in[t - (window - hop)]
// for an unmodified spectrogram.
std::vector<float> istft(const std::vector<Spectrum>& frames, const StftConfig& config,
                         size_t length);

}  // namespace timbrel::dsp
