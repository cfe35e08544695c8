#include "timbrel/dsp/onset_detector.h"

#include <algorithm>
#include <cmath>

namespace timbrel::dsp {

namespace {
constexpr int kBins = OnsetDetector::kFrame / 2 + 1;
constexpr float kMagnitudeScale = 2.0f / OnsetDetector::kFrame;  // 1 / (window sum = 256)
constexpr float kCompression = 1000.0f;
}  // namespace

OnsetDetector::OnsetDetector(const OnsetDetectorConfig& config)
    : config_(config),
      fft_(kFrame),
      window_(kFrame),
      frame_(kFrame, 0.0f),
      level_(kBins, 0.0f),
      previous_level_(kBins, 0.0f),
      spectrum_(kBins),
      history_(kHistory, 0.0f) {
  constexpr double kTwoPi = 6.283185307179586;
  for (int i = 0; i < kFrame; ++i)
    window_[std::size_t(i)] = float(0.5 - 0.5 * std::cos(kTwoPi * i / kFrame));
  const double rate =
      std::isfinite(config_.sample_rate) && config_.sample_rate > 0 ? config_.sample_rate : 22050.0;
  const double interval =
      std::isfinite(config_.min_interval_s) ? std::clamp(config_.min_interval_s, 0.0, 10.0) : 0.05;
  min_interval_ = std::int64_t(std::lround(interval * rate));
  floor_rms_ = std::isfinite(config_.floor_db)
                   ? float(std::pow(10.0, std::clamp(config_.floor_db, -200.0f, 0.0f) / 20.0))
                   : 0.0f;
}

OnsetDetector::~OnsetDetector() = default;

void OnsetDetector::reset() noexcept {
  std::fill(history_.begin(), history_.end(), 0.0f);
  std::fill(previous_level_.begin(), previous_level_.end(), 0.0f);
  std::fill(std::begin(flux_), std::end(flux_), 0.0f);
  std::fill(std::begin(rms_), std::end(rms_), 0.0f);
  std::fill(std::begin(mean_ring_), std::end(mean_ring_), 0.0f);
  mean_at_ = 0;
  received_ = 0;
  since_hop_ = 0;
  hops_ = 0;
  last_onset_ = -1;
  found_ = dropped_ = 0;
}

int OnsetDetector::process(const float* samples, int n, std::int64_t* onsets,
                           int capacity) noexcept {
  out_ = onsets;
  out_count_ = 0;
  out_capacity_ = std::max(0, capacity);
  for (int i = 0; i < n; ++i) {
    const float x = samples[i];
    history_[std::size_t(received_ & (kHistory - 1))] = std::isfinite(x) ? x : 0.0f;
    ++received_;
    if (++since_hop_ == kHop) {
      since_hop_ = 0;
      analyse_hop();
    }
  }
  out_ = nullptr;
  return out_count_;
}

void OnsetDetector::analyse_hop() noexcept {
  const std::int64_t start = received_ - kFrame;
  double energy = 0.0;
  for (int i = 0; i < kFrame; ++i) {
    const float x = history_[std::size_t((start + i) & (kHistory - 1))];
    energy += double(x) * x;
    frame_[std::size_t(i)] = window_[std::size_t(i)] * x;
  }
  fft_.forward(frame_.data(), spectrum_.data());
  double flux = 0.0;
  for (int k = 0; k < kBins; ++k) {
    const float level =
        std::log1p(kCompression * kMagnitudeScale * std::abs(spectrum_[std::size_t(k)]));
    flux += std::max(0.0f, level - previous_level_[std::size_t(k)]);
    previous_level_[std::size_t(k)] = level;
  }
  for (int j = 3; j > 0; --j) flux_[j] = flux_[j - 1];
  flux_[0] = float(flux / kBins);
  rms_[1] = rms_[0];
  rms_[0] = float(std::sqrt(energy / kFrame));
  ++hops_;
  if (hops_ < 2) return;

  // Is f_{t-1} an onset? Then remember it in the local mean either way.
  float mean = 0.0f;
  for (float f : mean_ring_) mean += f;
  mean /= 8.0f;
  const float candidate = flux_[1];
  const bool peak = candidate >= flux_[0] && candidate > flux_[2] && candidate >= flux_[3];
  const bool strong = candidate > config_.threshold + config_.ratio * mean;
  const bool loud = rms_[1] > floor_rms_;
  mean_ring_[mean_at_] = candidate;
  mean_at_ = (mean_at_ + 1) % 8;
  if (!(peak && strong && loud)) return;
  const std::int64_t onset = place(received_ - kHop);
  if (last_onset_ >= 0 && onset - last_onset_ < min_interval_) return;
  last_onset_ = onset;
  ++found_;
  if (out_count_ < out_capacity_)
    out_[out_count_++] = onset;
  else
    ++dropped_;
}

std::int64_t OnsetDetector::place(std::int64_t end) const noexcept {
  constexpr int kBlocks = kFrame / kBlock, kBefore = 4;
  auto block_energy = [this](std::int64_t first) {
    double e = 0.0;
    for (int i = 0; i < kBlock; ++i) {
      const float x = history_[std::size_t((first + i) & (kHistory - 1))];
      e += double(x) * x;
    }
    return e;
  };
  const std::int64_t region = end - kFrame;
  const double floor = double(kBlock) * double(floor_rms_) * floor_rms_ + 1e-12;
  double before[kBefore];
  for (int j = 0; j < kBefore; ++j) before[j] = block_energy(region - (kBefore - j) * kBlock);
  int best = 0;
  double best_ratio = -1.0;
  for (int b = 0; b < kBlocks; ++b) {
    const std::int64_t first = region + std::int64_t(b) * kBlock;
    const double e = block_energy(first);
    const double mean = (before[0] + before[1] + before[2] + before[3]) / kBefore;
    const double ratio = e / (mean + floor);
    if (ratio > best_ratio) {
      best_ratio = ratio;
      best = b;
    }
    for (int j = 0; j + 1 < kBefore; ++j) before[j] = before[j + 1];
    before[kBefore - 1] = e;
  }
  return std::max<std::int64_t>(0, region + std::int64_t(best) * kBlock);
}

}  // namespace timbrel::dsp
