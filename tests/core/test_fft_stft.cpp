#include <catch2/catch.hpp>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <vector>

#include "allocation_counter.h"
#include "npy.h"
#include "signals.h"
#include "timbrel/dsp/fft.h"
#include "timbrel/dsp/stft.h"
#include "timbrel/dsp/window.h"

using namespace timbrel;

namespace {
double snr_db(const std::vector<float>& reference, const std::vector<float>& estimate, size_t begin,
              size_t end, long shift) {
  double signal = 0.0, error = 0.0;
  for (size_t t = begin; t < end; ++t) {
    const double r = reference[size_t(long(t) - shift)];
    const double e = estimate[t] - r;
    signal += r * r;
    error += e * e;
  }
  return 10.0 * std::log10(signal / std::max(error, 1e-300));
}
}  // namespace

TEST_CASE("RealFft matches numpy's rfft on the golden noise frames", "[fft]") {
  const auto signal = test::read_npy_signal(test::golden("signal_noise.npy"));
  const auto expected = test::read_npy(test::golden("stft_noise.npy"));  // [frames, 513, 2]
  const int window = 1024, hop = 256;
  dsp::RealFft fft(window);
  const auto hann = dsp::periodic_hann(window);
  std::vector<float> frame(window);
  std::vector<std::complex<float>> spectrum(size_t(fft.bins()));
  REQUIRE(expected.shape.size() == 3);
  REQUIRE(expected.shape[1] == size_t(fft.bins()));
  double worst = 0.0, peak = 0.0;
  for (size_t m = 0; m < expected.rows(); ++m) {
    for (int n = 0; n < window; ++n)
      frame[size_t(n)] = signal[m * hop + size_t(n)] * hann[size_t(n)];
    fft.forward(frame.data(), spectrum.data());
    for (int k = 0; k < fft.bins(); ++k) {
      const std::complex<double> want(expected.at(m, size_t(2 * k)),
                                      expected.at(m, size_t(2 * k + 1)));
      worst = std::max(worst, std::abs(std::complex<double>(spectrum[size_t(k)]) - want));
      peak = std::max(peak, std::abs(want));
    }
  }
  INFO("worst |error| " << worst << " of peak " << peak);
  CHECK(worst / peak < 1e-5);
}

TEST_CASE("RealFft inverse undoes forward and rejects unsupported sizes", "[fft]") {
  for (int size : {16, 96, 512, 1024, 2048, 1920}) {
    dsp::RealFft fft(size);
    const auto x = test::white_noise(size_t(size), 0.5, unsigned(size));
    std::vector<std::complex<float>> spectrum(size_t(fft.bins()));
    std::vector<float> y(static_cast<size_t>(size));
    fft.forward(x.data(), spectrum.data());
    fft.inverse(spectrum.data(), y.data());
    double worst = 0.0;
    for (size_t n = 0; n < x.size(); ++n) worst = std::max(worst, double(std::fabs(x[n] - y[n])));
    INFO("size " << size);
    CHECK(worst < 1e-6);
  }
  CHECK_THROWS_AS(dsp::RealFft(1022), std::invalid_argument);  // 511 = 7 x 73
  CHECK_THROWS_AS(dsp::RealFft(7), std::invalid_argument);
}

TEST_CASE("STFT then inverse STFT reconstructs with SNR >= 100 dB at 50 % and 75 % overlap",
          "[stft]") {
  const auto x = test::white_noise(22050, 0.3, 7);
  for (dsp::StftConfig config : {dsp::StftConfig{1024, 512}, dsp::StftConfig{1024, 256},
                                 dsp::StftConfig{2048, 512}, dsp::StftConfig{2048, 1024}}) {
    const auto frames = dsp::stft(x, config);
    const auto y = dsp::istft(frames, config, x.size());
    const long lead = config.window - config.hop;
    const double snr = snr_db(x, y, size_t(lead), y.size(), lead);
    INFO("window " << config.window << " hop " << config.hop << " SNR " << snr << " dB");
    CHECK(snr >= 100.0);
  }
}

TEST_CASE("Streaming STFT/overlap-add equals the whole-buffer path and does not allocate",
          "[stft][realtime]") {
  const auto x = test::white_noise(8192, 0.3, 11);
  for (dsp::StftConfig config : {dsp::StftConfig{1024, 512}, dsp::StftConfig{1024, 256}}) {
    const auto offline = dsp::istft(dsp::stft(x, config), config, x.size());
    dsp::StftAnalyzer analyzer(config);
    dsp::OverlapAdd synthesizer(config);
    std::vector<float> streamed(x.size());
    long allocations = 0;
    for (size_t start = 0; start + size_t(config.hop) <= x.size(); start += size_t(config.hop)) {
      test::AllocationCounter counter;
      const auto* spectrum = analyzer.push_hop(x.data() + start);
      synthesizer.push_spectrum(spectrum, streamed.data() + start);
      allocations += counter.count();
    }
    CHECK(allocations == 0);
    double worst = 0.0;
    for (size_t t = 0; t < x.size(); ++t)
      worst = std::max(worst, double(std::fabs(streamed[t] - offline[t])));
    INFO("hop " << config.hop << " worst difference " << worst);
    CHECK(worst <= 1e-7);
  }
  CHECK_THROWS_AS(dsp::StftAnalyzer({1024, 1000}), std::invalid_argument);
}
