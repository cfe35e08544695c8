#include "timbrel/dsp/stft.h"

#include <algorithm>
#include <stdexcept>

#include "timbrel/dsp/window.h"

namespace timbrel::dsp {
namespace {

const StftConfig& checked(const StftConfig& config) {
  if (const char* problem = validate_stft_config(config); problem[0] != '\0')
    throw std::invalid_argument(problem);
  return config;
}

// sum_m w^2[n + m hop] over every frame overlapping sample n (steady state).
std::vector<float> inverse_overlap_norm(const std::vector<float>& window, int hop) {
  std::vector<float> inverse(static_cast<size_t>(hop));
  const int size = static_cast<int>(window.size());
  for (int n = 0; n < hop; ++n) {
    double sum = 0.0;
    for (int t = n; t < size; t += hop) sum += double(window[size_t(t)]) * window[size_t(t)];
    inverse[static_cast<size_t>(n)] = static_cast<float>(1.0 / sum);
  }
  return inverse;
}

}  // namespace

const char* validate_stft_config(const StftConfig& config) {
  if (!RealFft::is_supported_size(config.window))
    return "STFT window must be even with window/2 a product of 2, 3 and 5";
  if (config.hop < 1 || config.hop > config.window / 2)
    return "STFT hop must be between 1 and window/2";
  return "";
}

StftAnalyzer::StftAnalyzer(const StftConfig& config)
    : config_(checked(config)),
      fft_(config.window),
      window_(periodic_hann(config.window)),
      history_(size_t(config.window), 0.0f),
      windowed_(size_t(config.window), 0.0f),
      spectrum_(size_t(fft_.bins())) {}

void StftAnalyzer::reset() noexcept { std::fill(history_.begin(), history_.end(), 0.0f); }

const std::complex<float>* StftAnalyzer::push_hop(const float* hop_in) noexcept {
  const auto keep = history_.size() - size_t(config_.hop);
  std::copy(history_.begin() + config_.hop, history_.end(), history_.begin());
  std::copy(hop_in, hop_in + config_.hop, history_.begin() + static_cast<long>(keep));
  for (size_t n = 0; n < history_.size(); ++n) windowed_[n] = history_[n] * window_[n];
  fft_.forward(windowed_.data(), spectrum_.data());
  return spectrum_.data();
}

OverlapAdd::OverlapAdd(const StftConfig& config)
    : config_(checked(config)),
      fft_(config.window),
      window_(periodic_hann(config.window)),
      inverse_norm_(inverse_overlap_norm(window_, config.hop)),
      frame_(size_t(config.window), 0.0f),
      accumulator_(size_t(config.window), 0.0f) {}

void OverlapAdd::reset() noexcept { std::fill(accumulator_.begin(), accumulator_.end(), 0.0f); }

void OverlapAdd::push_spectrum(const std::complex<float>* spectrum, float* hop_out) noexcept {
  fft_.inverse(spectrum, frame_.data());
  for (size_t n = 0; n < frame_.size(); ++n) accumulator_[n] += frame_[n] * window_[n];
  // The oldest hop has now received every frame that overlaps it.
  for (int n = 0; n < config_.hop; ++n)
    hop_out[n] = accumulator_[size_t(n)] * inverse_norm_[size_t(n)];
  std::copy(accumulator_.begin() + config_.hop, accumulator_.end(), accumulator_.begin());
  std::fill(accumulator_.end() - config_.hop, accumulator_.end(), 0.0f);
}

std::vector<Spectrum> stft(const std::vector<float>& signal, const StftConfig& config) {
  checked(config);
  const RealFft fft(config.window);
  const auto window = periodic_hann(config.window);
  const long lead = config.window - config.hop;  // frame m starts at m hop - lead
  const size_t count = (signal.size() + size_t(config.hop) - 1) / size_t(config.hop);
  std::vector<Spectrum> frames(count, Spectrum(size_t(fft.bins())));
  std::vector<float> windowed(size_t(config.window));
  for (size_t m = 0; m < count; ++m) {
    const long start = long(m) * config.hop - lead;
    for (long n = 0; n < config.window; ++n) {
      const long t = start + n;
      const float x = (t >= 0 && t < long(signal.size())) ? signal[size_t(t)] : 0.0f;
      windowed[size_t(n)] = x * window[size_t(n)];
    }
    fft.forward(windowed.data(), frames[m].data());
  }
  return frames;
}

std::vector<float> istft(const std::vector<Spectrum>& frames, const StftConfig& config,
                         size_t length) {
  checked(config);
  RealFft fft(config.window);
  const auto window = periodic_hann(config.window);
  const auto inverse_norm = inverse_overlap_norm(window, config.hop);
  // Frame m starts at input time m hop - (window - hop), which is output time
  // m hop: accumulate on the output grid, then normalise.
  std::vector<float> sum(length + size_t(config.window), 0.0f);
  std::vector<float> frame(size_t(config.window));
  for (size_t m = 0; m < frames.size(); ++m) {
    fft.inverse(frames[m].data(), frame.data());
    const size_t start = m * size_t(config.hop);
    for (size_t n = 0; n < frame.size(); ++n) sum[start + n] += frame[n] * window[n];
  }
  std::vector<float> out(length);
  for (size_t t = 0; t < length; ++t) out[t] = sum[t] * inverse_norm[t % size_t(config.hop)];
  return out;
}

}  // namespace timbrel::dsp
