// Per-frame acoustic descriptors in real units.
//
// These definitions are the single convention of the project: the page, the
// native tool and the Python evaluation toolkit (scripts/timbrel/dsp_reference.py)
// compute exactly these formulas, and tests check that they agree.
//
// For a frame x[0..N-1] at sample rate sr:
//   w[n]   = 0.5 - 0.5 cos(2 pi n / N)                 periodic Hann
//   X[k]   = sum_n w[n] x[n] e^{-2 pi i k n / N},  k = 0..N/2,  f_k = k sr / N
//   M[k]   = |X[k]|                                    magnitude
//   P[k]   = c_k |X[k]|^2 / (N sum_n w[n]^2),  c_k = 1 at k = 0 and N/2, else 2
//            (Parseval: sum_k P[k] = mean square of the windowed frame / mean w^2,
//             so a sine of amplitude a gives sum_k P[k] ~= a^2 / 2)
//
//   rms_db      = 10 log10(mean_n x[n]^2 + 1e-12)         dBFS of the raw frame
//   loudness_db = 10 log10(sum_k A(f_k)^2 P[k] + 1e-12)   A-weighted level, dBFS
//                 A(f) = R_A(f) / R_A(1000 Hz), IEC 61672-1:
//                 R_A(f) = 12194^2 f^4 / ((f^2 + 20.6^2)
//                          sqrt((f^2 + 107.7^2)(f^2 + 737.9^2)) (f^2 + 12194^2))
//   centroid_hz  = sum_k f_k M[k] / sum_k M[k]
//   bandwidth_hz = sqrt(sum_k (f_k - centroid)^2 M[k] / sum_k M[k])   (spread)
//   rolloff_hz   = f_k of the smallest k with sum_{j<=k} P[j] >= 0.85 sum_j P[j]
//   flatness     = exp(mean_k ln(P[k] + 1e-12)) / mean_k (P[k] + 1e-12)   in (0, 1]
//   A frame whose sum_k P[k] < 1e-10 (below -100 dBFS) is silent: centroid,
//   bandwidth and rolloff are 0 (flatness is then ~1 by the formula).
#pragma once

#include <complex>
#include <vector>

#include "timbrel/realtime.h"

namespace timbrel::dsp {

struct SpectralDescriptors {
  float rms_db = -120.0f;
  float loudness_db = -120.0f;
  float centroid_hz = 0.0f;
  float bandwidth_hz = 0.0f;
  float rolloff_hz = 0.0f;
  float flatness = 1.0f;
};

// A-weighting amplitude gain at frequency f (Hz), 1.0 at 1 kHz.
double a_weighting_gain(double frequency_hz);

// Computes the spectral descriptors of frames of one size. prepare() (the
// constructor) allocates the bin tables; compute() never allocates.
class DescriptorAnalyzer {
 public:
  // window: frame length N (even); sample_rate in Hz.
  DescriptorAnalyzer(int window, double sample_rate);

  // Real-time safe. frame: N raw samples; spectrum: the N/2+1 bins of the
  // Hann-windowed frame (as produced by Stft::analyse).
  SpectralDescriptors compute(const float* frame,
                              const std::complex<float>* spectrum) const noexcept TIMBREL_REALTIME;

  int window() const { return window_; }
  int bins() const { return window_ / 2 + 1; }
  double sample_rate() const { return sample_rate_; }
  // 1 / (N sum w^2): turns c_k |X[k]|^2 into P[k].
  double power_scale() const { return power_scale_; }

 private:
  int window_;
  double sample_rate_;
  double power_scale_;                    // 1 / (N sum w^2)
  std::vector<double> bin_hz_;            // f_k
  std::vector<double> a_weight_squared_;  // A(f_k)^2
};

}  // namespace timbrel::dsp
