#include "timbrel/dsp/output_guard.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace timbrel::dsp {
namespace {

// 4-point Lagrange weights of samples at positions -1, 0, 1, 2 for a value at t.
constexpr std::array<float, 4> lagrange(double t) {
  return {float(-t * (t - 1.0) * (t - 2.0) / 6.0), float((t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0),
          float(-(t + 1.0) * t * (t - 2.0) / 2.0), float((t + 1.0) * t * (t - 1.0) / 6.0)};
}

// x[n-3..n] sit at positions -1..2: the interval (n-2, n-1) is t in (0, 1)
// (centred), the newest one (n-1, n) t in (1, 2) (one-sided: no lookahead).
constexpr std::array<std::array<float, 4>, 6> kInterpolants = {
    lagrange(0.25), lagrange(0.5), lagrange(0.75), lagrange(1.25), lagrange(1.5), lagrange(1.75)};

float to_db(float gain) { return 20.0f * std::log10(std::max(gain, 1e-6f)); }

}  // namespace

OutputGuard::OutputGuard(const OutputGuardConfig& config) noexcept
    : config_(config),
      hold_samples_(int(std::lround(config.hold_s * config.sample_rate))),
      release_coef_(
          float(std::exp(-1.0 / (std::max(config.release_s, 1e-4) * config.sample_rate)))),
      absurd_limit_(std::max(1L, long(std::lround(config.absurd_s * config.sample_rate)))),
      gap_samples_(int(std::lround(0.010 * config.sample_rate))) {}

void OutputGuard::reset() noexcept {
  history_[0] = history_[1] = history_[2] = 0.0f;
  gain_ = min_gain_ = 1.0f;
  hold_left_ = 0;
  absurd_run_ = 0;
  gap_left_ = 0;
  state_ = GuardState::kClean;
  reason_ = "";
  nonfinite_ = limited_ = limited_1db_ = 0;
  peak_in_ = 0.0f;
}

float OutputGuard::gain_db() const { return to_db(gain_); }
float OutputGuard::min_gain_db() const { return to_db(min_gain_); }

void OutputGuard::process(float* x, int n) noexcept {
  const float ceiling = config_.ceiling;
  const float absurd = config_.absurd_level;
  for (int i = 0; i < n; ++i) {
    float v = x[i];
    const bool finite = std::isfinite(v);
    if (!finite) {
      ++nonfinite_;
      v = 0.0f;
      if (state_ == GuardState::kClean) state_ = GuardState::kLimiting;
    }
    const float magnitude = std::fabs(v);
    peak_in_ = std::max(peak_in_, magnitude);
    // The watch: a run of non-finite or absurd samples (a tone above the
    // level crosses zero, so a run continues through gaps shorter than 10 ms).
    if (config_.mute && state_ != GuardState::kMuted) {
      if (!finite || magnitude > absurd) {
        gap_left_ = gap_samples_;
        ++absurd_run_;
        reason_ = finite ? "above +12 dBFS" : "non-finite";
      } else if (gap_left_ > 0) {
        --gap_left_;
        ++absurd_run_;
      } else {
        absurd_run_ = 0;
      }
      if (absurd_run_ > absurd_limit_) state_ = GuardState::kMuted;
    }
    if (state_ == GuardState::kMuted) {
      x[i] = 0.0f;
      continue;
    }
    if (!config_.limit) {
      x[i] = v;
      continue;
    }
    // Peak estimate: the sample and the interpolants of the last two intervals.
    const float h3 = history_[0], h2 = history_[1], h1 = history_[2];
    float peak = magnitude;
    for (const auto& w : kInterpolants)
      peak = std::max(peak, std::fabs(w[0] * h3 + w[1] * h2 + w[2] * h1 + w[3] * v));
    history_[0] = h2;
    history_[1] = h1;
    history_[2] = v;
    const float target = peak > ceiling ? ceiling / peak : 1.0f;
    if (target < gain_) {
      gain_ = target;
      hold_left_ = hold_samples_;
    } else if (hold_left_ > 0) {
      --hold_left_;
    } else if (gain_ < 1.0f) {
      gain_ = std::min(target, 1.0f - (1.0f - gain_) * release_coef_);
      if (gain_ > 0.99999f) gain_ = 1.0f;
    }
    if (gain_ < 1.0f) {
      ++limited_;
      if (gain_ < 0.891251f) ++limited_1db_;
      min_gain_ = std::min(min_gain_, gain_);
      if (state_ == GuardState::kClean) state_ = GuardState::kLimiting;
    }
    x[i] = std::clamp(v * gain_, -1.0f, 1.0f);
  }
}

GuardReport guard_offline(float* samples, long n, double sample_rate) noexcept {
  OutputGuardConfig config;
  config.sample_rate = sample_rate;
  OutputGuard guard(config);
  for (long done = 0; done < n;) {
    const int block = int(std::min(n - done, 1L << 20));
    guard.process(samples + done, block);
    done += block;
  }
  GuardReport report;
  report.muted = guard.muted();
  report.mute_reason = guard.mute_reason();
  report.nonfinite = guard.nonfinite();
  report.limited = guard.limited();
  report.limited_1db = guard.limited_1db();
  report.peak_in = guard.peak_in();
  report.min_gain_db = guard.min_gain_db();
  if (report.muted) std::fill(samples, samples + n, 0.0f);
  return report;
}

}  // namespace timbrel::dsp
