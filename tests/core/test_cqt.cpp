// dsp::ConstantQ against the contract, scripts/timbrel/cqt.py, through the
// golden files of scripts/timbrel/golden/cqt.py (tests/golden/cqt).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <complex>
#include <limits>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "npy.h"
#include "signals.h"
#include "timbrel/dsp/cqt.h"
#include "timbrel/dsp/stft.h"

using namespace timbrel;

namespace {

std::string golden_cqt(const std::string& name) {
  return std::string(TIMBREL_GOLDEN_DIR) + "/cqt/" + name;
}

// The golden features are float64 numpy over a float64 FFT; the core's FFT is
// float32, whose rounding floor (~1e-7 of the frame's peak) is what the
// log1p(x / 1e-4) features magnify most in the quietest bins.
constexpr double kFeatureTolerance = 1e-4;

}  // namespace

TEST_CASE("ConstantQ's defaults are the contract's", "[cqt]") {
  const dsp::ConstantQ cqt;
  CHECK(cqt.bins() == 409);
  CHECK(cqt.fft_bins() == 1025);
  CHECK(cqt.stft_config().window == 2048);
  CHECK(cqt.stft_config().hop == 256);
  CHECK(cqt.bin_frequency(0) == Approx(30.0));
  CHECK(cqt.bin_frequency(48) == Approx(60.0));
  CHECK(cqt.bin_frequency(408) == Approx(30.0 * std::pow(2.0, 408.0 / 48.0)));
  CHECK(cqt.bin_frequency(408) < 11000.0);
  CHECK(cqt.magnitude_scale() == Approx(2.0 / 1024.0));
}

TEST_CASE("ConstantQ's sparse pooling rows equal the Python pooling matrix", "[cqt]") {
  const dsp::ConstantQ cqt;
  const auto rows = test::read_npy(golden_cqt("pooling_rows.npy"));
  const auto weights = test::read_npy(golden_cqt("pooling_weights.npy"));
  REQUIRE(rows.rows() == size_t(cqt.bins()));
  REQUIRE(weights.values.size() == size_t(cqt.nonzeros()));
  size_t offset = 0;
  for (int k = 0; k < cqt.bins(); ++k) {
    INFO("row " << k);
    REQUIRE(cqt.row_start(k) == int(rows.at(size_t(k), 0)));
    REQUIRE(cqt.row_size(k) == int(rows.at(size_t(k), 1)));
    double sum = 0.0;
    for (int i = 0; i < cqt.row_size(k); ++i) {
      CHECK(cqt.row_weights(k)[i] == Approx(weights.values[offset++]).epsilon(1e-6));
      sum += cqt.row_weights(k)[i];
    }
    CHECK(sum == Approx(1.0).epsilon(1e-6));
  }
  // Sparse: a few thousand nonzeros instead of 409 x 1025.
  CHECK(cqt.nonzeros() < 2500);
}

TEST_CASE("ConstantQ features equal cqt.py's on the golden signals", "[cqt]") {
  const dsp::ConstantQ cqt;
  for (std::string name : {"sine", "harmonic", "noise_burst", "silence"}) {
    const auto x = test::read_npy_signal(golden_cqt("signal_" + name + ".npy"));
    const auto want = test::read_npy(golden_cqt("features_" + name + ".npy"));
    const auto got = cqt.cqt_features(x);
    REQUIRE(got.size() == want.rows());
    REQUIRE(want.columns() == size_t(cqt.bins()));
    double worst = 0.0;
    for (size_t m = 0; m < got.size(); ++m)
      for (size_t k = 0; k < got[m].size(); ++k)
        worst = std::max(worst, std::fabs(got[m][k] - want.at(m, k)));
    INFO(name << ": largest feature difference " << worst);
    CHECK(worst <= kFeatureTolerance);
    if (name == "silence") CHECK(worst == 0.0);
  }
}

TEST_CASE("ConstantQ back-projection equals cqt.py's", "[cqt]") {
  const dsp::ConstantQ cqt;
  const auto x = test::read_npy_signal(golden_cqt("signal_harmonic.npy"));
  const auto want = test::read_npy(golden_cqt("back_projection_harmonic.npy"));
  const auto spectra = dsp::stft(x, cqt.stft_config());
  REQUIRE(spectra.size() == want.rows());
  REQUIRE(want.columns() == size_t(cqt.fft_bins()));
  std::vector<float> magnitudes(size_t(cqt.bins())), back(size_t(cqt.fft_bins()));
  double worst = 0.0, peak = 0.0;
  for (size_t m = 0; m < spectra.size(); ++m) {
    cqt.magnitudes_from_spectrum(spectra[m].data(), magnitudes.data());
    cqt.stft_magnitude_from_cqt(magnitudes.data(), back.data());
    for (size_t j = 0; j < back.size(); ++j) {
      worst = std::max(worst, std::fabs(back[j] - want.at(m, j)));
      peak = std::max(peak, std::fabs(want.at(m, j)));
    }
  }
  INFO("largest difference " << worst << " of a peak " << peak);
  CHECK(peak > 0.05);
  CHECK(worst <= 1e-6 * peak);
  // No row reads DC or the bins above ~11 kHz: they stay silent.
  CHECK(back[0] == 0.0f);
  CHECK(back[size_t(cqt.fft_bins() - 1)] == 0.0f);
}

TEST_CASE("ConstantQ streaming frames equal the offline features", "[cqt]") {
  const dsp::ConstantQ cqt;
  const auto x = test::harmonic_tone(311.0, 22050.0, 0.4, 6, 0.4);
  const auto offline = cqt.cqt_features(x);
  dsp::StftAnalyzer analyzer(cqt.stft_config());
  std::vector<float> hop(size_t(cqt.stft_config().hop), 0.0f), features(size_t(cqt.bins()));
  for (size_t m = 0; m < offline.size(); ++m) {
    std::fill(hop.begin(), hop.end(), 0.0f);
    for (size_t n = 0; n < hop.size() && m * hop.size() + n < x.size(); ++n)
      hop[n] = x[m * hop.size() + n];
    const auto* spectrum = analyzer.push_hop(hop.data());
    cqt.magnitudes_from_spectrum(spectrum, features.data());
    cqt.features_from_magnitudes(features.data(), features.data());
    for (size_t k = 0; k < features.size(); ++k) REQUIRE(features[k] == offline[m][k]);
  }
}

TEST_CASE("A sine peaks in its constant-Q bin at its amplitude", "[cqt]") {
  const dsp::ConstantQ cqt;
  const double pi = std::acos(-1.0);
  for (double f : {110.0, 440.0, 1000.0, 3520.0}) {
    std::vector<float> x(22050 / 2);
    for (size_t n = 0; n < x.size(); ++n) x[n] = float(0.3 * std::sin(2.0 * pi * f * n / 22050.0));
    const auto spectra = dsp::stft(x, cqt.stft_config());
    std::vector<float> magnitudes(size_t(cqt.bins()));
    cqt.magnitudes_from_spectrum(spectra[spectra.size() / 2].data(), magnitudes.data());
    const auto peak = std::max_element(magnitudes.begin(), magnitudes.end()) - magnitudes.begin();
    const double expected = 48.0 * std::log2(f / 30.0);
    INFO(f << " Hz: peak bin " << peak << ", expected " << expected);
    CHECK(std::fabs(double(peak) - expected) <= 1.0);
    // Below ~520 Hz a row interpolates between two FFT bins, so the peak keeps
    // the sine's amplitude (0.3); above, a row averages the Hann main lobe with
    // its neighbours over up to 29 FFT bins, and the peak drops.
    if (f < 500.0) CHECK(magnitudes[size_t(peak)] == Approx(0.3).epsilon(0.1));
    CHECK(magnitudes[size_t(peak)] > 0.1);
    CHECK(magnitudes[size_t(peak)] <= 0.3 + 1e-3);
  }
}

TEST_CASE("ConstantQ feature maps clamp what a decoder may output", "[cqt]") {
  const dsp::ConstantQ cqt;
  const size_t n = size_t(cqt.bins());
  std::vector<float> magnitude(n), features(n), back(n);
  for (size_t k = 0; k < n; ++k) magnitude[k] = float(1e-6 * std::pow(1.05, double(k)));
  cqt.features_from_magnitudes(magnitude.data(), features.data());
  cqt.magnitudes_from_features(features.data(), back.data());
  for (size_t k = 0; k < n; ++k) CHECK(back[k] == Approx(magnitude[k]).epsilon(1e-5));
  CHECK(features[0] == Approx(std::log1p(1e-2)).epsilon(1e-6));
  features[0] = -3.0f;
  features[1] = std::numeric_limits<float>::quiet_NaN();
  features[2] = 0.0f;
  cqt.magnitudes_from_features(features.data(), back.data());
  CHECK(back[0] == 0.0f);
  CHECK(back[1] == 0.0f);
  CHECK(back[2] == 0.0f);
}

TEST_CASE("ConstantQ per-frame methods do not allocate", "[cqt][realtime]") {
  const dsp::ConstantQ cqt;
  const auto x = test::white_noise(4096, 0.1, 7);
  const auto spectra = dsp::stft(x, cqt.stft_config());
  std::vector<float> magnitudes(size_t(cqt.bins())), features(size_t(cqt.bins()));
  std::vector<float> back(size_t(cqt.fft_bins()));
  test::AllocationCounter counter;
  for (const auto& spectrum : spectra) {
    cqt.magnitudes_from_spectrum(spectrum.data(), magnitudes.data());
    cqt.features_from_magnitudes(magnitudes.data(), features.data());
    cqt.magnitudes_from_features(features.data(), magnitudes.data());
    cqt.stft_magnitude_from_cqt(magnitudes.data(), back.data());
  }
  CHECK(counter.count() == 0);
  CHECK(*std::max_element(back.begin(), back.end()) > 0.0f);
}

TEST_CASE("ConstantQ rejects bad configurations with a reason", "[cqt]") {
  auto bad = [](auto edit) {
    dsp::ConstantQConfig config;
    edit(config);
    return config;
  };
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(dsp::ConstantQ(bad([](auto& c) { c.f_max = 20.0; })),
                    Contains("f_max must be above f_min"));
  CHECK_THROWS_WITH(dsp::ConstantQ(bad([](auto& c) { c.f_max = 12000.0; })),
                    Contains("half the sample rate"));
  CHECK_THROWS_WITH(dsp::ConstantQ(bad([](auto& c) { c.f_min = 0.0; })),
                    Contains("f_min must be positive"));
  CHECK_THROWS_WITH(dsp::ConstantQ(bad([](auto& c) { c.bins_per_octave = 0; })),
                    Contains("bins_per_octave"));
  CHECK_THROWS_WITH(dsp::ConstantQ(bad([](auto& c) { c.log_floor = 0.0; })),
                    Contains("log_floor must be positive"));
  CHECK_THROWS_WITH(dsp::ConstantQ(bad([](auto& c) { c.window = 2047; })), Contains("window"));
  CHECK_THROWS_WITH(dsp::ConstantQ(bad([](auto& c) { c.hop = 2000; })), Contains("hop"));
}
