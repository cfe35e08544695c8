#include <catch2/catch.hpp>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "npy.h"
#include "signals.h"
#include "timbrel/dsp/descriptors.h"
#include "timbrel/dsp/fft.h"
#include "timbrel/dsp/window.h"

using namespace timbrel;

namespace {
constexpr int kWindow = 1024, kHop = 256;
constexpr double kRate = 22050.0;

struct FrameAnalysis {
  dsp::RealFft fft{kWindow};
  dsp::DescriptorAnalyzer analyzer{kWindow, kRate};
  std::vector<float> hann = dsp::periodic_hann(kWindow);
  std::vector<float> windowed = std::vector<float>(kWindow);
  std::vector<std::complex<float>> spectrum = std::vector<std::complex<float>>(kWindow / 2 + 1);

  dsp::SpectralDescriptors operator()(const float* frame) {
    for (int n = 0; n < kWindow; ++n) windowed[size_t(n)] = frame[n] * hann[size_t(n)];
    fft.forward(windowed.data(), spectrum.data());
    return analyzer.compute(frame, spectrum.data());
  }
};
}  // namespace

TEST_CASE("Descriptors agree with the Python reference on the golden signals", "[descriptors]") {
  FrameAnalysis analyse;
  for (std::string name : {"noise", "chirp", "harmonic", "silence"}) {
    const auto x = test::read_npy_signal(test::golden("signal_" + name + ".npy"));
    const auto want = test::read_npy(test::golden("descriptors_" + name + ".npy"));
    REQUIRE(want.columns() == 6);
    size_t rolloff_off_by_one = 0;
    for (size_t m = 0; m < want.rows(); ++m) {
      const auto d = analyse(x.data() + m * kHop);
      INFO(name << " frame " << m);
      CHECK(d.rms_db == Approx(want.at(m, 0)).margin(1e-3));
      CHECK(d.loudness_db == Approx(want.at(m, 1)).margin(1e-3));
      CHECK(d.centroid_hz == Approx(want.at(m, 2)).epsilon(1e-4).margin(0.05));
      // The spread weights every bin by (f - centroid)^2, so for a pure sweep the
      // float32 FFT's rounding floor (~-140 dB) far from the peak adds up to
      // ~1.3 Hz against float64; on any signal with a real noise floor the two
      // agree to 1e-4.
      CHECK(d.bandwidth_hz ==
            Approx(want.at(m, 3)).epsilon(1e-4).margin(name == "chirp" ? 1.5 : 0.05));
      const double bin_hz = kRate / kWindow;
      const double rolloff_bins = std::fabs(d.rolloff_hz - want.at(m, 4)) / bin_hz;
      CHECK(rolloff_bins <= 1.0 + 1e-6);
      if (rolloff_bins > 0.5) ++rolloff_off_by_one;
      CHECK(d.flatness == Approx(want.at(m, 5)).epsilon(1e-3));
    }
    // float vs double may move the 85 % crossing by a bin, but only rarely.
    CHECK(rolloff_off_by_one * 20 <= want.rows());
  }
}

TEST_CASE("Descriptors of hand-computed cases", "[descriptors]") {
  FrameAnalysis analyse;
  const double pi = std::acos(-1.0);
  SECTION("a bin-centred sine: level, centroid, flatness") {
    const int bin = 40;  // 861.3 Hz
    const double f = bin * kRate / kWindow;
    std::vector<float> x(kWindow);
    for (int n = 0; n < kWindow; ++n) x[size_t(n)] = float(0.25 * std::sin(2 * pi * f * n / kRate));
    const auto d = analyse(x.data());
    CHECK(d.rms_db == Approx(20 * std::log10(0.25) - 3.0103).margin(0.01));
    CHECK(d.centroid_hz == Approx(f).margin(0.01));
    CHECK(d.flatness < 0.01);
    CHECK(std::fabs(d.rolloff_hz - f) <= kRate / kWindow + 1e-3);
    // A-weighting of 861 Hz is about -0.6 dB.
    CHECK(d.loudness_db - d.rms_db ==
          Approx(20 * std::log10(dsp::a_weighting_gain(f))).margin(0.05));
  }
  SECTION("A-weighting table values (IEC 61672)") {
    CHECK(20 * std::log10(dsp::a_weighting_gain(100.0)) == Approx(-19.1).margin(0.1));
    CHECK(20 * std::log10(dsp::a_weighting_gain(1000.0)) == Approx(0.0).margin(1e-9));
    CHECK(20 * std::log10(dsp::a_weighting_gain(10000.0)) == Approx(-2.5).margin(0.1));
  }
  SECTION("silence and white noise") {
    std::vector<float> zeros(kWindow, 0.0f);
    const auto s = analyse(zeros.data());
    CHECK(s.centroid_hz == 0.0f);
    CHECK(s.rolloff_hz == 0.0f);
    CHECK(s.rms_db == Approx(-120.0).margin(1e-3));
    const auto noise = test::white_noise(kWindow * 16, 0.1, 9);
    double flatness = 0.0;
    for (int m = 0; m < 16; ++m) flatness += analyse(noise.data() + m * kWindow).flatness / 16.0;
    CHECK(flatness == Approx(std::exp(-0.5772)).margin(0.05));
  }
}

TEST_CASE("Descriptor computation does not allocate", "[descriptors][realtime]") {
  FrameAnalysis analyse;
  const auto x = test::white_noise(kWindow, 0.1, 1);
  test::AllocationCounter counter;
  volatile float sink = analyse(x.data()).centroid_hz;
  (void)sink;
  CHECK(counter.count() == 0);
}
