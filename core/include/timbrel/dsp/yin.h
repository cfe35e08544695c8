// Fundamental frequency by YIN (de Cheveigne & Kawahara 2002), steps 1-5.
//
// Convention shared with scripts/timbrel/dsp_reference.py:
//   tau_min = max(2, floor(sr / f0_max)), tau_max = ceil(sr / f0_min), W = N - tau_max
//   d(tau)  = sum_{j=0}^{W-1} (x[j] - x[j + tau])^2,  tau = 1..tau_max  (raw frame)
//   d'(tau) = d(tau) tau / sum_{j=1}^{tau} d(j)   (d' = 1 where the sum is 0)
//   tau*    = first tau in [tau_min, tau_max] with d'(tau) < threshold, then
//             followed downhill while d'(tau + 1) < d'(tau); voiced = true.
//             If no tau is under the threshold: argmin of d' there, voiced = false.
//   refined by a parabola through d'(tau*-1), d'(tau*), d'(tau*+1) when both
//   neighbours lie in [1, tau_max] and the parabola opens upwards (offset
//   clamped to [-1, 1]);
//   f0 = sr / tau_refined, confidence = clamp(1 - d'(tau*), 0, 1).
//   A frame with mean_n x[n]^2 < 1e-10 (below -100 dBFS) is silent:
//   f0 = 0, confidence = 0, voiced = false.
#pragma once

#include <vector>

#include "timbrel/realtime.h"

namespace timbrel::dsp {

struct PitchEstimate {
  float f0_hz = 0.0f;
  float confidence = 0.0f;
  bool voiced = false;
};

struct YinConfig {
  double sample_rate = 22050.0;
  int frame_size = 1024;  // N; must exceed tau_max
  double f0_min_hz = 50.0;
  double f0_max_hz = 2000.0;
  double threshold = 0.15;
};

class Yin {
 public:
  explicit Yin(const YinConfig& config);  // allocates the lag buffers

  // Real-time safe: frame holds config.frame_size samples.
  PitchEstimate estimate(const float* frame) noexcept TIMBREL_REALTIME;

  const YinConfig& config() const { return config_; }
  int tau_min() const { return tau_min_; }
  int tau_max() const { return tau_max_; }

 private:
  YinConfig config_;
  int tau_min_;
  int tau_max_;
  std::vector<double> difference_;  // d(tau), then d'(tau)
};

}  // namespace timbrel::dsp
