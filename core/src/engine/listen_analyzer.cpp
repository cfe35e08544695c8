#include "timbrel/engine/listen_analyzer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace timbrel::engine {

std::string ListenAnalyzer::validate(const ListenAnalyzerConfig& c) {
  if (auto problem = engine::validate(c); !problem.empty()) return problem;
  if (!(c.model_rate >= 8000.0 && c.model_rate <= 96000.0))
    return "model rate " + std::to_string(whole_rate(c.model_rate)) +
           " Hz is outside 8000-96000 Hz";
  if (const char* problem = dsp::validate_stft_config({c.window, c.hop}); problem[0] != '\0')
    return problem;
  if (c.window <= int(std::ceil(c.model_rate / 50.0)) + 1)
    return "analysis window is too short for pitch down to 50 Hz";
  return "";
}

namespace {

// The monitor is the microphone, not a model: limited, never muted.
dsp::OutputGuardConfig monitor_limiter(double rate) {
  dsp::OutputGuardConfig c;
  c.sample_rate = rate;
  c.mute = false;
  return c;
}

}  // namespace

ListenAnalyzer::ListenAnalyzer(const ListenAnalyzerConfig& config)
    : config_(checked_config<ListenAnalyzer>(config)),
      stream_(config, whole_rate(config.model_rate), config.hop),
      stft_({config.window, config.hop}),
      descriptors_(config.window, config.model_rate),
      yin_({config.model_rate, config.window, 50.0, 2000.0, 0.15}),
      device_in_(size_t(config.max_block), 0.0f),
      queue_spectra_(size_t(kQueueFrames) * size_t(config.window / 2 + 1), 0.0f),
      monitor_guard_(monitor_limiter(config.device_rate)) {}

// The monitor hears each hop as it came in: only the stream's own delay.
int ListenAnalyzer::monitor_latency_samples() const { return stream_.latency_samples(0); }

void ListenAnalyzer::process(const float* in, float* out, int n) noexcept {
  n = std::clamp(n, 0, config_.max_block);
  // A NaN would live on in the filters' state: replace non-finite input by silence.
  for (int i = 0; i < n; ++i) {
    const bool finite = std::isfinite(in[i]);
    nonfinite_inputs_ += finite ? 0 : 1;
    device_in_[size_t(i)] = finite ? in[i] : 0.0f;
  }
  stream_.process(device_in_.data(), out, n,
                  [this](const float* hop_in, float* hop_out) { process_hop(hop_in, hop_out); });
  const float gain = monitor_gain_;
  for (int i = 0; i < n; ++i) out[i] *= gain;
  monitor_guard_.process(out, n);
}

void ListenAnalyzer::process_hop(const float* hop_in, float* hop_out) noexcept {
  std::copy(hop_in, hop_in + config_.hop, hop_out);  // the monitor hears the model-rate signal
  const std::complex<float>* spectrum = stft_.push_hop(hop_in);

  if (queue_size_ == kQueueFrames) {  // nobody is reading: drop the oldest
    queue_head_ = (queue_head_ + 1) % kQueueFrames;
    --queue_size_;
    ++dropped_frames_;
  }
  const int slot = (queue_head_ + queue_size_) % kQueueFrames;
  AnalysisFrame& frame = queue_[size_t(slot)];
  frame.spectral = descriptors_.compute(stft_.frame(), spectrum);
  frame.pitch = yin_.estimate(stft_.frame());

  const int bins = spectrum_bins();
  const double scale = descriptors_.power_scale();
  float* column = queue_spectra_.data() + size_t(slot) * size_t(bins);
  for (int k = 0; k < bins; ++k) {
    const double edge = (k == 0 || k == bins - 1) ? 1.0 : 2.0;
    column[k] = float(10.0 * std::log10(edge * std::norm(spectrum[k]) * scale + 1e-12));
  }
  ++queue_size_;
}

bool ListenAnalyzer::pop_frame(AnalysisFrame& frame, float* spectrum_db) noexcept {
  if (queue_size_ == 0) return false;
  frame = queue_[size_t(queue_head_)];
  if (spectrum_db) {
    const float* column = queue_spectra_.data() + size_t(queue_head_) * size_t(spectrum_bins());
    std::copy(column, column + spectrum_bins(), spectrum_db);
  }
  queue_head_ = (queue_head_ + 1) % kQueueFrames;
  --queue_size_;
  return true;
}

}  // namespace timbrel::engine
