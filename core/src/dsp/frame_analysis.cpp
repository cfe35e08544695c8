#include "timbrel/dsp/frame_analysis.h"

#include <complex>
#include <stdexcept>

#include "timbrel/dsp/fft.h"
#include "timbrel/dsp/window.h"

namespace timbrel::dsp {

std::vector<FrameAnalysis> analyse_frames(const float* x, std::size_t n, double sample_rate,
                                          int window, int hop) {
  if (hop < 1) throw std::invalid_argument("frame analysis: hop must be at least 1");
  RealFft fft(window);
  DescriptorAnalyzer analyzer(window, sample_rate);
  Yin yin({sample_rate, window, 50.0, 2000.0, 0.15});
  const auto hann = periodic_hann(window);
  std::vector<float> windowed(static_cast<std::size_t>(window), 0.0f);
  std::vector<std::complex<float>> spectrum(static_cast<std::size_t>(fft.bins()));
  std::vector<FrameAnalysis> frames;
  const auto w = std::size_t(window), h = std::size_t(hop);
  if (n >= w) frames.reserve((n - w) / h + 1);
  for (std::size_t start = 0; start + w <= n; start += h) {
    const float* frame = x + start;
    for (std::size_t i = 0; i < w; ++i) windowed[i] = hann[i] * frame[i];
    fft.forward(windowed.data(), spectrum.data());
    FrameAnalysis f;
    f.time_s = (double(start) + window / 2.0) / sample_rate;
    f.descriptors = analyzer.compute(frame, spectrum.data());
    f.pitch = yin.estimate(frame);
    frames.push_back(f);
  }
  return frames;
}

}  // namespace timbrel::dsp
