// The constant-Q front end of the cross-modal VAE: log-spaced bins pooled
// from one STFT. The contract (and why a filterbank on an STFT, not a true CQT)
// is scripts/timbrel/cqt.py; tests/golden/cqt holds its outputs and the
// Catch2 tests keep this class equal to it.
//
// Defaults: 22050 Hz, periodic Hann window 2048, hop 256, 48 bins per octave
// from 30 Hz up to 11000 Hz: 409 bins 30 * 2^(k/48) Hz. Row k of the pooling
// matrix is a triangle centred on f_k with half-width
// max(f_k (2^(1/48) - 1), sample_rate / window), read at the FFT bin
// frequencies and normalised to sum 1. Each row touches a short run of FFT
// bins (2-30), so it is stored as (first bin, weights) and a frame costs
// O(nonzeros) (2367 multiply-adds), not 409 x 1025.
//
// Magnitudes are |X| * 2 / sum(w) (a sine of amplitude a peaks near a);
// features are log1p(cqt / log_floor).
#pragma once

#include <complex>
#include <vector>

#include "timbrel/dsp/stft.h"
#include "timbrel/realtime.h"

namespace timbrel::dsp {

struct ConstantQConfig {
  double sample_rate = 22050.0;
  int window = 2048;
  int hop = 256;
  int bins_per_octave = 48;
  double f_min = 30.0;
  double f_max = 11000.0;
  double log_floor = 1e-4;
};

class ConstantQ {
 public:
  // Throws std::invalid_argument with the reason on a bad config.
  explicit ConstantQ(const ConstantQConfig& config = {});

  // Real-time safe. spectrum: fft_bins() bins of the Hann-windowed frame (as
  // StftAnalyzer or stft() give them); writes bins() magnitudes.
  void magnitudes_from_spectrum(const std::complex<float>* spectrum,
                                float* cqt) const noexcept TIMBREL_REALTIME;
  // Real-time safe. log1p(cqt / log_floor), bins() values (in and out may alias).
  void features_from_magnitudes(const float* cqt, float* features) const noexcept TIMBREL_REALTIME;
  // Real-time safe. log_floor * expm1(max(f, 0)); a decoder may output
  // negative or non-finite values, which map to silence (in and out may alias).
  void magnitudes_from_features(const float* features, float* cqt) const noexcept TIMBREL_REALTIME;
  // Real-time safe. The transpose of the pooling, normalised per FFT bin:
  // m_j = sum_k W_kj c_k / sum_k W_kj, 0 for the FFT bins no row reads (below
  // ~25 Hz and above ~11 kHz). Writes fft_bins() magnitudes in the same
  // 2 / sum(w) scale (what griffin_lim and RtpghiSynth take).
  void stft_magnitude_from_cqt(const float* cqt,
                               float* stft_magnitude) const noexcept TIMBREL_REALTIME;

  // Offline: features of a whole signal, one vector of bins() per
  // dsp::stft frame (ceil(length / hop) frames, the same alignment).
  std::vector<std::vector<float>> cqt_features(const std::vector<float>& audio) const;

  int bins() const { return static_cast<int>(row_start_.size()); }
  int fft_bins() const { return config_.window / 2 + 1; }
  double bin_frequency(int k) const;
  StftConfig stft_config() const { return {config_.window, config_.hop}; }
  const ConstantQConfig& config() const { return config_; }
  float magnitude_scale() const { return scale_; }  // 2 / sum(w)

  // Row k of the pooling matrix: weights of FFT bins row_start(k) ..
  // row_start(k) + row_size(k) - 1 (the stored nonzeros).
  int row_start(int k) const { return row_start_[size_t(k)]; }
  int row_size(int k) const { return row_offset_[size_t(k) + 1] - row_offset_[size_t(k)]; }
  const float* row_weights(int k) const { return weights_.data() + row_offset_[size_t(k)]; }
  int nonzeros() const { return static_cast<int>(weights_.size()); }

 private:
  ConstantQConfig config_;
  std::vector<int> row_start_;
  std::vector<int> row_offset_;  // bins() + 1 offsets into weights_
  std::vector<float> weights_;
  std::vector<float> inverse_column_sum_;  // 1 / sum_k W_kj, 0 where no row reads bin j
  float scale_ = 0.0f;
};

}  // namespace timbrel::dsp
