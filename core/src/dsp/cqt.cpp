#include "timbrel/dsp/cqt.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "timbrel/dsp/window.h"

namespace timbrel::dsp {
namespace {

const ConstantQConfig& checked(const ConstantQConfig& c) {
  auto fail = [](const std::string& why) { throw std::invalid_argument("ConstantQ: " + why); };
  if (const char* problem = validate_stft_config({c.window, c.hop}); problem[0] != '\0')
    fail(problem);
  if (!(c.sample_rate > 0.0) || !std::isfinite(c.sample_rate)) fail("sample_rate must be positive");
  if (c.bins_per_octave < 1) fail("bins_per_octave must be at least 1");
  if (!(c.f_min > 0.0)) fail("f_min must be positive");
  if (!(c.f_max > c.f_min)) fail("f_max must be above f_min");
  if (!(c.f_max <= c.sample_rate / 2.0)) fail("f_max must not exceed half the sample rate");
  if (!(c.log_floor > 0.0) || !std::isfinite(c.log_floor)) fail("log_floor must be positive");
  return c;
}

}  // namespace

ConstantQ::ConstantQ(const ConstantQConfig& config) : config_(checked(config)) {
  const int bins = static_cast<int>(std::floor(config_.bins_per_octave *
                                               std::log2(config_.f_max / config_.f_min))) +
                   1;
  const int fft_bin_count = fft_bins();
  const double bin_hz = config_.sample_rate / config_.window;
  const double spacing = std::pow(2.0, 1.0 / config_.bins_per_octave) - 1.0;
  std::vector<double> column_sum(size_t(fft_bin_count), 0.0);
  row_offset_.push_back(0);
  for (int k = 0; k < bins; ++k) {
    const double fk = bin_frequency(k);
    // Where the constant-Q spacing is finer than the FFT's, one FFT bin of
    // half-width keeps every row non-empty (linear interpolation).
    const double half = std::max(fk * spacing, bin_hz);
    const int first = std::max(0, static_cast<int>(std::ceil((fk - half) / bin_hz)));
    const int last =
        std::min(fft_bin_count - 1, static_cast<int>(std::floor((fk + half) / bin_hz)));
    std::vector<double> row;
    int start = -1;
    for (int j = first; j <= last; ++j) {
      const double w = 1.0 - std::fabs(j * bin_hz - fk) / half;
      if (w <= 0.0) {
        if (start >= 0) break;  // a triangle's support is one run
        continue;
      }
      if (start < 0) start = j;
      row.push_back(w);
    }
    double sum = 0.0;
    for (double w : row) sum += w;
    if (start < 0 || !(sum > 0.0))
      throw std::invalid_argument("ConstantQ: bin " + std::to_string(k) +
                                  " reads no FFT bin (f_max too close to Nyquist?)");
    row_start_.push_back(start);
    for (size_t i = 0; i < row.size(); ++i) {
      const double w = row[i] / sum;
      weights_.push_back(static_cast<float>(w));
      column_sum[size_t(start) + i] += w;
    }
    row_offset_.push_back(static_cast<int>(weights_.size()));
  }
  inverse_column_sum_.resize(size_t(fft_bin_count));
  for (size_t j = 0; j < column_sum.size(); ++j)
    inverse_column_sum_[j] = column_sum[j] > 0.0 ? static_cast<float>(1.0 / column_sum[j]) : 0.0f;
  double window_sum = 0.0;
  for (float w : periodic_hann(config_.window)) window_sum += w;
  scale_ = static_cast<float>(2.0 / window_sum);
}

double ConstantQ::bin_frequency(int k) const {
  return config_.f_min * std::pow(2.0, double(k) / config_.bins_per_octave);
}

void ConstantQ::magnitudes_from_spectrum(const std::complex<float>* spectrum,
                                         float* cqt) const noexcept {
  const int count = bins();
  for (int k = 0; k < count; ++k) {
    const std::complex<float>* x = spectrum + row_start_[size_t(k)];
    const float* w = row_weights(k);
    const int size = row_size(k);
    float sum = 0.0f;
    // |X| is recomputed for the 2-3 rows sharing an FFT bin: cheaper than a
    // scratch buffer, and the method stays const and thread-safe.
    for (int i = 0; i < size; ++i) sum += w[i] * std::sqrt(std::norm(x[i]));
    cqt[k] = sum * scale_;
  }
}

void ConstantQ::features_from_magnitudes(const float* cqt, float* features) const noexcept {
  const float inverse_floor = static_cast<float>(1.0 / config_.log_floor);
  for (int k = 0; k < bins(); ++k) features[k] = std::log1p(cqt[k] * inverse_floor);
}

void ConstantQ::magnitudes_from_features(const float* features, float* cqt) const noexcept {
  const float floor = static_cast<float>(config_.log_floor);
  for (int k = 0; k < bins(); ++k) {
    const float f = features[k];
    cqt[k] = f > 0.0f ? floor * std::expm1(f) : 0.0f;  // NaN fails f > 0: silence
  }
}

void ConstantQ::stft_magnitude_from_cqt(const float* cqt, float* stft_magnitude) const noexcept {
  std::fill(stft_magnitude, stft_magnitude + fft_bins(), 0.0f);
  for (int k = 0; k < bins(); ++k) {
    float* out = stft_magnitude + row_start_[size_t(k)];
    const float* w = row_weights(k);
    const int size = row_size(k);
    for (int i = 0; i < size; ++i) out[i] += w[i] * cqt[k];
  }
  for (int j = 0; j < fft_bins(); ++j) stft_magnitude[j] *= inverse_column_sum_[size_t(j)];
}

std::vector<std::vector<float>> ConstantQ::cqt_features(const std::vector<float>& audio) const {
  const auto spectra = stft(audio, stft_config());
  std::vector<std::vector<float>> features(spectra.size(), std::vector<float>(size_t(bins())));
  for (size_t m = 0; m < spectra.size(); ++m) {
    magnitudes_from_spectrum(spectra[m].data(), features[m].data());
    features_from_magnitudes(features[m].data(), features[m].data());
  }
  return features;
}

}  // namespace timbrel::dsp
