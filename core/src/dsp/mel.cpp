#include "timbrel/dsp/mel.h"

#include <algorithm>
#include <cmath>

#include "timbrel/dsp/window.h"

namespace timbrel::dsp {

double MelSpectrogram::hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }

double MelSpectrogram::mel_to_hz(double mel) {
  return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
}

MelSpectrogram::MelSpectrogram()
    : fft_(kWindow),
      window_(periodic_hann(kWindow)),
      edges_(std::size_t(kMelBins + 2)),
      first_(std::size_t(kMelBins), 0),
      count_(std::size_t(kMelBins), 0),
      offset_(std::size_t(kMelBins), 0),
      sums_(std::size_t(kMelBins), 0.0),
      inverse_sum_(std::size_t(kMelBins), 0.0f),
      frame_(std::size_t(kWindow), 0.0f),
      spectrum_(std::size_t(kBins)),
      power_(std::size_t(kBins), 0.0f) {
  // Edges evenly spaced in mel, as numpy.linspace computes them (start + i
  // step); the outer two exactly kFmin and kFmax (timbrel.mel.filterbank: a
  // round trip through mel lands an ulp either side, CPU-dependent in numpy).
  const double lo = hz_to_mel(kFmin), hi = hz_to_mel(kFmax);
  const int n = kMelBins + 2;
  const double step = (hi - lo) / (n - 1);
  for (int i = 0; i < n; ++i) edges_[std::size_t(i)] = mel_to_hz(lo + i * step);
  edges_.front() = kFmin;
  edges_.back() = kFmax;
  const double bin_hz = double(kSampleRate) / kWindow;
  for (int b = 0; b < kMelBins; ++b) {
    const double left = edges_[std::size_t(b)], centre = edges_[std::size_t(b + 1)],
                 right = edges_[std::size_t(b + 2)];
    offset_[std::size_t(b)] = weights_.size();
    int first = -1, count = 0;
    for (int k = 0; k < kBins; ++k) {
      const double f = k * bin_hz;
      const double w =
          std::max(0.0, std::min((f - left) / (centre - left), (right - f) / (right - centre)));
      if (w <= 0.0) {
        if (first >= 0) break;  // past the triangle's one run
        continue;
      }
      if (first < 0) first = k;
      weights_.push_back(float(w));
      sums_[std::size_t(b)] += w;
      ++count;
    }
    if (sums_[std::size_t(b)] > 0.0)
      inverse_sum_[std::size_t(b)] = float(1.0 / sums_[std::size_t(b)]);
    first_[std::size_t(b)] = first < 0 ? 0 : first;
    count_[std::size_t(b)] = count;
  }
}

float MelSpectrogram::weight(int band, int bin) const {
  if (band < 0 || band >= kMelBins) return 0.0f;
  const int k = bin - first_bin(band);
  return k >= 0 && k < bin_count(band) ? band_weights(band)[k] : 0.0f;
}

void MelSpectrogram::band_db(const float* power, float* db) const noexcept {
  for (int b = 0; b < kMelBins; ++b) {
    const float* w = band_weights(b);
    const float* p = power + first_bin(b);
    double sum = 0.0;
    for (int k = 0; k < bin_count(b); ++k) sum += double(w[k]) * double(p[k]);
    db[b] = float(10.0 * std::log10(std::max(sum, kPowerFloor)));
  }
}

void MelSpectrogram::analyse_db(const float* note, std::size_t n, float* db, int frames) noexcept {
  const long half = kWindow / 2;
  for (int m = 0; m < frames; ++m) {
    // Frame m covers note samples [m hop - half, m hop + half).
    const long start = long(m) * kHop - half;
    for (long i = 0; i < kWindow; ++i) {
      const long s = start + i;
      frame_[std::size_t(i)] =
          s >= 0 && s < long(n) ? note[std::size_t(s)] * window_[std::size_t(i)] : 0.0f;
    }
    fft_.forward(frame_.data(), spectrum_.data());
    for (int k = 0; k < kBins; ++k) power_[std::size_t(k)] = std::norm(spectrum_[std::size_t(k)]);
    band_db(power_.data(), db + std::size_t(m) * kMelBins);
  }
}

void MelSpectrogram::analyse_scaled(const float* note, std::size_t n, float db_min, float db_max,
                                    float* scaled, int frames) noexcept {
  analyse_db(note, n, scaled, frames);
  for (std::size_t i = 0; i < std::size_t(frames) * kMelBins; ++i)
    scaled[i] = scale(scaled[i], db_min, db_max);
}

void MelSpectrogram::harmonic_gains(double f0_hz, float* gains) noexcept {
  const double spacing = f0_hz * kWindow / kSampleRate;
  if (!std::isfinite(spacing) || spacing < kHarmonicMinSpacing) {
    std::fill(gains, gains + kBins, 1.0f);
    return;
  }
  const double mean = kHarmonicFloor + std::sqrt(2.0 * M_PI) * kHarmonicWidth / spacing;
  for (int k = 0; k < kBins; ++k) {
    // Only the two nearest harmonics matter: the next lies >= 4 widths away.
    const double h = std::max(1.0, std::round(k / spacing));
    double comb = kHarmonicFloor;
    for (double j = std::max(1.0, h - 1.0); j <= h + 1.0; j += 1.0) {
      const double d = (k - j * spacing) / kHarmonicWidth;
      comb += std::exp(-0.5 * d * d);
    }
    gains[k] = float(std::sqrt(comb / mean));
  }
}

float MelSpectrogram::scale(float db, float db_min, float db_max) noexcept {
  const float x = 2.0f * (db - db_min) / (db_max - db_min) - 1.0f;
  return std::isnan(x) ? -1.0f : std::clamp(x, -1.0f, 1.0f);
}

float MelSpectrogram::unscale(float x, float db_min, float db_max) noexcept {
  const float c = std::isfinite(x) ? std::clamp(x, -1.0f, 1.0f) : -1.0f;
  return db_min + (c + 1.0f) * 0.5f * (db_max - db_min);
}

void MelSpectrogram::magnitudes_from_power(const float* band_power, float* magnitude,
                                           float gain) const noexcept {
  std::fill(magnitude, magnitude + kBins, 0.0f);
  for (int b = 0; b < kMelBins; ++b) {
    const float p = band_power[b] * inverse_sum_[std::size_t(b)];
    if (!(p > 0.0f)) continue;
    const float* w = band_weights(b);
    float* out = magnitude + first_bin(b);
    for (int k = 0; k < bin_count(b); ++k) out[k] += w[k] * p;
  }
  for (int k = 0; k < kBins; ++k) magnitude[k] = gain * std::sqrt(magnitude[k]);
}

void MelSpectrogram::magnitudes(const float* scaled, float db_min, float db_max, float* magnitude,
                                float gain) const noexcept {
  std::fill(magnitude, magnitude + kBins, 0.0f);
  constexpr float kLn10Over10 = 0.230258509299404568f;  // 10^(dB/10) = e^(dB ln10 / 10)
  for (int b = 0; b < kMelBins; ++b) {
    const float p =
        std::exp(unscale(scaled[b], db_min, db_max) * kLn10Over10) * inverse_sum_[std::size_t(b)];
    const float* w = band_weights(b);
    float* out = magnitude + first_bin(b);
    for (int k = 0; k < bin_count(b); ++k) out[k] += w[k] * p;
  }
  for (int k = 0; k < kBins; ++k) magnitude[k] = gain * std::sqrt(magnitude[k]);
}

}  // namespace timbrel::dsp
