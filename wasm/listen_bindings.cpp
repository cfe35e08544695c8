// Embind bindings of the listen analyzer for the AudioWorklet.
//
// The kernel owns its input/output/frame buffers; the worklet makes
// Float32Array views on them once (again only if the heap grows), so the
// audio thread only copies numbers.
#include <emscripten/bind.h>

#include <cstdint>
#include <string>
#include <vector>

#include "timbrel/engine/listen_analyzer.h"

namespace {

using timbrel::engine::AnalysisFrame;
using timbrel::engine::ListenAnalyzer;
using timbrel::engine::ListenAnalyzerConfig;

constexpr int kFrameValues = 9;

std::string validate_rate(double device_rate, int max_block) {
  return ListenAnalyzer::validate({device_rate, max_block});
}

class ListenKernel {
 public:
  // The worklet calls ListenKernel.validateRate first: a bad config here aborts.
  ListenKernel(double device_rate, int max_block)
      : analyzer_(ListenAnalyzerConfig{device_rate, max_block}),
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
  ListenAnalyzer analyzer_;
  std::vector<float> input_, output_, frame_, spectrum_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_listen_analyzer) {
  emscripten::class_<ListenKernel>("ListenKernel")
      .constructor<double, int>()
      .class_function("validateRate", &validate_rate)
      .function("inputPointer", &ListenKernel::input_pointer)
      .function("outputPointer", &ListenKernel::output_pointer)
      .function("framePointer", &ListenKernel::frame_pointer)
      .function("spectrumPointer", &ListenKernel::spectrum_pointer)
      .function("spectrumSize", &ListenKernel::spectrum_size)
      .function("process", &ListenKernel::process)
      .function("popFrame", &ListenKernel::pop_frame)
      .function("setMonitorGain", &ListenKernel::set_monitor_gain)
      .function("latencySamples", &ListenKernel::latency_samples)
      .function("modelRate", &ListenKernel::model_rate)
      .function("frameRateHz", &ListenKernel::frame_rate_hz)
      .function("droppedFrames", &ListenKernel::dropped_frames);
}
