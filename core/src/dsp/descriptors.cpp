#include "timbrel/dsp/descriptors.h"

#include <cmath>
#include <stdexcept>

#include "timbrel/dsp/window.h"

namespace timbrel::dsp {
namespace {

constexpr double kLevelFloor = 1e-12;
constexpr double kFlatnessFloor = 1e-12;
constexpr double kSilentPower = 1e-10;
constexpr double kRolloffShare = 0.85;

double a_weighting_response(double f) {
  const double f2 = f * f;
  const double num = 12194.0 * 12194.0 * f2 * f2;
  const double den = (f2 + 20.6 * 20.6) * std::sqrt((f2 + 107.7 * 107.7) * (f2 + 737.9 * 737.9)) *
                     (f2 + 12194.0 * 12194.0);
  return num / den;
}

}  // namespace

double a_weighting_gain(double frequency_hz) {
  return a_weighting_response(frequency_hz) / a_weighting_response(1000.0);
}

DescriptorAnalyzer::DescriptorAnalyzer(int window, double sample_rate)
    : window_(window), sample_rate_(sample_rate) {
  if (window < 4 || window % 2 != 0)
    throw std::invalid_argument("descriptor window must be even and at least 4");
  if (!(sample_rate > 0.0)) throw std::invalid_argument("descriptor sample rate must be > 0");
  const auto hann = periodic_hann(window);
  double energy = 0.0;
  for (float w : hann) energy += double(w) * w;
  power_scale_ = 1.0 / (window * energy);
  const int bins = window / 2 + 1;
  bin_hz_.resize(size_t(bins));
  a_weight_squared_.resize(size_t(bins));
  for (int k = 0; k < bins; ++k) {
    bin_hz_[size_t(k)] = k * sample_rate / window;
    const double a = a_weighting_gain(bin_hz_[size_t(k)]);
    a_weight_squared_[size_t(k)] = a * a;
  }
}

SpectralDescriptors DescriptorAnalyzer::compute(
    const float* frame, const std::complex<float>* spectrum) const noexcept {
  SpectralDescriptors d;
  double square_sum = 0.0;
  for (int n = 0; n < window_; ++n) square_sum += double(frame[n]) * frame[n];
  d.rms_db = float(10.0 * std::log10(square_sum / window_ + kLevelFloor));

  const int bins = window_ / 2 + 1;
  double power_total = 0.0, weighted_power = 0.0;
  double magnitude_total = 0.0, magnitude_moment = 0.0, log_power_sum = 0.0;
  for (int k = 0; k < bins; ++k) {
    const double re = spectrum[k].real(), im = spectrum[k].imag();
    const double squared = re * re + im * im;
    const double edge = (k == 0 || k == bins - 1) ? 1.0 : 2.0;
    const double power = edge * squared * power_scale_;
    const double magnitude = std::sqrt(squared);
    power_total += power;
    weighted_power += a_weight_squared_[size_t(k)] * power;
    magnitude_total += magnitude;
    magnitude_moment += bin_hz_[size_t(k)] * magnitude;
    log_power_sum += std::log(power + kFlatnessFloor);
  }
  d.loudness_db = float(10.0 * std::log10(weighted_power + kLevelFloor));
  d.flatness = float(std::exp(log_power_sum / bins) / (power_total / bins + kFlatnessFloor));
  if (power_total < kSilentPower) return d;  // silent: centroid, bandwidth, rolloff stay 0

  const double centroid = magnitude_moment / magnitude_total;
  double spread = 0.0, cumulative = 0.0;
  int rolloff_bin = -1;
  for (int k = 0; k < bins; ++k) {
    const double re = spectrum[k].real(), im = spectrum[k].imag();
    const double squared = re * re + im * im;
    const double offset = bin_hz_[size_t(k)] - centroid;
    spread += offset * offset * std::sqrt(squared);
    const double edge = (k == 0 || k == bins - 1) ? 1.0 : 2.0;
    cumulative += edge * squared * power_scale_;
    if (rolloff_bin < 0 && cumulative >= kRolloffShare * power_total) rolloff_bin = k;
  }
  d.centroid_hz = float(centroid);
  d.bandwidth_hz = float(std::sqrt(spread / magnitude_total));
  d.rolloff_hz = float(bin_hz_[size_t(rolloff_bin < 0 ? bins - 1 : rolloff_bin)]);
  return d;
}

}  // namespace timbrel::dsp
