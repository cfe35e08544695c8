#include "timbrel/dsp/yin.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "timbrel/simd/kernels.h"

namespace timbrel::dsp {

Yin::Yin(const YinConfig& config) : config_(config) {
  if (!(config.sample_rate > 0.0) || !(config.f0_min_hz > 0.0) ||
      !(config.f0_max_hz > config.f0_min_hz))
    throw std::invalid_argument("YIN needs 0 < f0_min < f0_max and a positive sample rate");
  tau_min_ = std::max(2, int(std::floor(config.sample_rate / config.f0_max_hz)));
  tau_max_ = int(std::ceil(config.sample_rate / config.f0_min_hz));
  if (config.frame_size <= tau_max_ + 1)
    throw std::invalid_argument("YIN frame is too short for the lowest f0: it needs more than " +
                                std::to_string(tau_max_ + 1) + " samples");
  difference_.assign(size_t(tau_max_) + 2, 0.0);
  if (config.estimate_at_end) reversed_.assign(size_t(config.frame_size), 0.0f);
}

PitchEstimate Yin::estimate(const float* x) noexcept {
  PitchEstimate result;
  const int n = config_.frame_size;
  if (config_.estimate_at_end) {
    std::reverse_copy(x, x + n, reversed_.begin());
    x = reversed_.data();
  }
  double energy = 0.0;
  for (int j = 0; j < n; ++j) energy += double(x[j]) * x[j];
  if (energy / n < 1e-10) return result;  // silent

  // Step 2: difference function over an integration window W = N - tau_max,
  // as d(tau) = sum x[j]^2 + sum x[j+tau]^2 - 2 sum x[j] x[j+tau]: energies in
  // double by running sums, the cross term by the SIMD dot kernel.
  const int w = n - tau_max_;
  double* d = difference_.data();
  double head = 0.0;  // sum_{j<W} x[j]^2
  for (int j = 0; j < w; ++j) head += double(x[j]) * x[j];
  double shifted = head;  // sum_{j<W} x[j+tau]^2, slid along with tau
  d[0] = 0.0;
  for (int tau = 1; tau <= tau_max_; ++tau) {
    shifted += double(x[tau + w - 1]) * x[tau + w - 1] - double(x[tau - 1]) * x[tau - 1];
    const double cross = simd::dot(x, x + tau, w);
    d[tau] = std::max(0.0, head + shifted - 2.0 * cross);
  }
  // Step 3: cumulative mean normalised difference, in place.
  d[0] = 1.0;
  double running = 0.0;
  for (int tau = 1; tau <= tau_max_; ++tau) {
    running += d[tau];
    d[tau] = running > 0.0 ? d[tau] * tau / running : 1.0;
  }
  // Step 4: absolute threshold, then down to the local minimum.
  int best = -1;
  for (int tau = tau_min_; tau <= tau_max_; ++tau) {
    if (d[tau] < config_.threshold) {
      while (tau + 1 <= tau_max_ && d[tau + 1] < d[tau]) ++tau;
      best = tau;
      break;
    }
  }
  result.voiced = best >= 0;
  if (best < 0) {
    best = tau_min_;
    for (int tau = tau_min_ + 1; tau <= tau_max_; ++tau)
      if (d[tau] < d[best]) best = tau;
  }
  // Step 5: parabolic interpolation.
  double refined = best;
  if (best - 1 >= 1 && best + 1 <= tau_max_) {
    const double left = d[best - 1], centre = d[best], right = d[best + 1];
    const double curvature = left - 2.0 * centre + right;
    if (curvature > 0.0) refined = best + std::clamp(0.5 * (left - right) / curvature, -1.0, 1.0);
  }
  result.f0_hz = float(config_.sample_rate / refined);
  result.confidence = float(std::clamp(1.0 - d[best], 0.0, 1.0));
  return result;
}

namespace {
double semitones(double a, double b) { return std::fabs(12.0 * std::log2(a / b)); }
}  // namespace

PitchEstimate PitchHold::next(const PitchEstimate& raw) noexcept {
  if (!raw.voiced || !(raw.f0_hz > 0.0f)) {
    if (have_last_ && raw.f0_hz > 0.0f) {
      PitchEstimate kept = raw;
      kept.voiced = true;
      pending_ = false;
      if (raw.confidence >= config_.continue_confidence) {
        for (int k = 1; k <= std::max(1, config_.max_multiple); ++k) {
          const float candidate = raw.f0_hz * float(k);
          if (semitones(candidate, last_f0_) <= config_.continue_semitones) {
            bridged_ = 0;
            last_f0_ = kept.f0_hz = candidate;
            return kept;
          }
        }
      }
      if (bridged_ < config_.bridge_hops) {
        ++bridged_;
        kept.f0_hz = last_f0_;
        return kept;
      }
    }
    have_last_ = pending_ = false;
    bridged_ = 0;
    return raw;
  }
  bridged_ = 0;
  const bool leap = have_last_ && semitones(raw.f0_hz, last_f0_) > config_.jump_semitones;
  const bool confirmed = pending_ && semitones(raw.f0_hz, pending_f0_) <= config_.confirm_semitones;
  if (!leap || confirmed) {
    have_last_ = true;
    last_f0_ = raw.f0_hz;
    pending_ = false;
    return raw;
  }
  pending_ = true;
  pending_f0_ = raw.f0_hz;
  PitchEstimate held = raw;
  held.f0_hz = last_f0_;
  return held;
}

void PitchHold::reset() noexcept {
  have_last_ = pending_ = false;
  last_f0_ = pending_f0_ = 0.0f;
  bridged_ = 0;
}

namespace {
YinConfig at_end(YinConfig config) {
  config.estimate_at_end = true;
  return config;
}
}  // namespace

PitchTracker::PitchTracker(YinConfig config) : yin_(at_end(config)) {}

PitchEstimate PitchTracker::next(const float* frame) noexcept {
  return hold_.next(yin_.estimate(frame));
}

}  // namespace timbrel::dsp
