// Embind bindings of the live analyzer for the AudioWorklet.
//
// The kernel owns its input/output/frame buffers; the worklet makes
// Float32Array views on them once (again only if the heap grows), so the
// audio thread only copies numbers.
#include <emscripten/bind.h>

#include <cstdint>
#include <string>
#include <vector>

#include "timbrel/engine/live_analyzer.h"

namespace {

using timbrel::engine::AnalysisFrame;
using timbrel::engine::LiveAnalyzer;
using timbrel::engine::LiveAnalyzerConfig;

constexpr int kFrameValues = 9;

std::string validate_live_analyzer(double device_rate, int max_block) {
  return LiveAnalyzer::validate({device_rate, max_block});
}

class LiveAnalyzerKernel {
 public:
  // The worklet calls validateLiveAnalyzer first: a bad config here aborts.
  LiveAnalyzerKernel(double device_rate, int max_block)
      : analyzer_(LiveAnalyzerConfig{device_rate, max_block}),
        input_(size_t(max_block), 0.0f),
        output_(size_t(max_block), 0.0f),
        frame_(kFrameValues, 0.0f),
        spectrum_(size_t(analyzer_.spectrum_bins()), -120.0f) {}

  std::uintptr_t input_pointer() { return reinterpret_cast<std::uintptr_t>(input_.data()); }
  std::uintptr_t output_pointer() { return reinterpret_cast<std::uintptr_t>(output_.data()); }
  std::uintptr_t frame_pointer() { return reinterpret_cast<std::uintptr_t>(frame_.data()); }
  std::uintptr_t spectrum_pointer() { return reinterpret_cast<std::uintptr_t>(spectrum_.data()); }
  int spectrum_size() const { return analyzer_.spectrum_bins(); }

  void process(int n) { analyzer_.process(input_.data(), output_.data(), n); }

  bool pop_frame() {
    AnalysisFrame f;
    if (!analyzer_.pop_frame(f, spectrum_.data())) return false;
    const float values[kFrameValues] = {
        f.spectral.rms_db,       f.spectral.loudness_db, f.spectral.centroid_hz,
        f.spectral.bandwidth_hz, f.spectral.rolloff_hz,  f.spectral.flatness,
        f.pitch.f0_hz,           f.pitch.confidence,     f.pitch.voiced ? 1.0f : 0.0f};
    std::copy(values, values + kFrameValues, frame_.begin());
    return true;
  }

  void set_monitor_gain(float gain) { analyzer_.set_monitor_gain(gain); }
  int latency_samples() const { return analyzer_.monitor_latency_samples(); }
  double model_rate() const { return analyzer_.config().model_rate; }
  double frame_rate_hz() const { return analyzer_.frame_rate_hz(); }
  double dropped_frames() const { return double(analyzer_.dropped_frames()); }

 private:
  LiveAnalyzer analyzer_;
  std::vector<float> input_, output_, frame_, spectrum_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_live_analyzer) {
  emscripten::function("validateLiveAnalyzer", &validate_live_analyzer);
  emscripten::class_<LiveAnalyzerKernel>("LiveAnalyzerKernel")
      .constructor<double, int>()
      .function("inputPointer", &LiveAnalyzerKernel::input_pointer)
      .function("outputPointer", &LiveAnalyzerKernel::output_pointer)
      .function("framePointer", &LiveAnalyzerKernel::frame_pointer)
      .function("spectrumPointer", &LiveAnalyzerKernel::spectrum_pointer)
      .function("spectrumSize", &LiveAnalyzerKernel::spectrum_size)
      .function("process", &LiveAnalyzerKernel::process)
      .function("popFrame", &LiveAnalyzerKernel::pop_frame)
      .function("setMonitorGain", &LiveAnalyzerKernel::set_monitor_gain)
      .function("latencySamples", &LiveAnalyzerKernel::latency_samples)
      .function("modelRate", &LiveAnalyzerKernel::model_rate)
      .function("frameRateHz", &LiveAnalyzerKernel::frame_rate_hz)
      .function("droppedFrames", &LiveAnalyzerKernel::dropped_frames);
}
