#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "allocation_counter.h"
#include "signals.h"
#include "timbrel/engine/listen_analyzer.h"

using namespace timbrel;

namespace {
struct Run {
  std::vector<float> output;
  std::vector<engine::AnalysisFrame> frames;
  long allocations = 0;
};

Run run(engine::ListenAnalyzer& analyzer, const std::vector<float>& x, int block) {
  Run r;
  r.output.resize(x.size());
  r.frames.reserve(x.size() / 128 + 64);  // so that push_back below does not allocate
  std::vector<float> spectrum(size_t(analyzer.spectrum_bins()));
  engine::AnalysisFrame frame;
  for (size_t s = 0; s + size_t(block) <= x.size(); s += size_t(block)) {
    test::AllocationCounter counter;
    analyzer.process(x.data() + s, r.output.data() + s, block);
    while (analyzer.pop_frame(frame, spectrum.data())) r.frames.push_back(frame);
    r.allocations += counter.count();
  }
  return r;
}
}  // namespace

TEST_CASE("Listen analyzer finds the f0 of a tone at device rates, without allocating",
          "[live][realtime]") {
  for (double rate : {44100.0, 48000.0}) {
    for (double f0 : {110.0, 220.0, 660.0}) {
      engine::ListenAnalyzer analyzer({rate, 128});
      const auto x = test::harmonic_tone(f0, rate, 1.0, 3);
      const auto r = run(analyzer, x, 128);
      CHECK(r.allocations == 0);
      // ~86 frames per second of input.
      CHECK(std::abs(double(r.frames.size()) - 1.0 * 22050 / 256) <= 2.0);
      std::vector<float> voiced_f0;
      for (size_t i = 12; i < r.frames.size(); ++i)  // after the window has filled
        if (r.frames[i].pitch.voiced) voiced_f0.push_back(r.frames[i].pitch.f0_hz);
      REQUIRE(voiced_f0.size() >= r.frames.size() - 14);
      std::sort(voiced_f0.begin(), voiced_f0.end());
      const double median = voiced_f0[voiced_f0.size() / 2];
      INFO(rate << " Hz device, " << f0 << " Hz tone: median f0 " << median);
      CHECK(median == Approx(f0).epsilon(0.01));
      CHECK(r.frames.back().spectral.rms_db == Approx(r.frames[40].spectral.rms_db).margin(0.5));
    }
  }
}

TEST_CASE("Listen analyzer monitor path: delayed copy of the input at the stated latency",
          "[listen]") {
  for (double rate : {44100.0, 48000.0}) {
    for (int block : {128, 100}) {
      engine::ListenAnalyzer analyzer({rate, block});
      analyzer.set_monitor_gain(1.0f);
      // Band-limited noise (below 9 kHz) so the round trip through 22050 Hz keeps it.
      auto x = test::white_noise(size_t(rate * 3), 0.2, 4);
      std::vector<float> smooth(x.size(), 0.0f);
      for (size_t t = 4; t < x.size(); ++t)
        smooth[t] = 0.2f * (x[t] + x[t - 1] + x[t - 2] + x[t - 3] + x[t - 4]);
      const auto r = run(analyzer, smooth, block);
      CHECK(analyzer.fifo_underruns() == 0);
      CHECK(analyzer.fifo_overruns() == 0);
      const int stated = analyzer.monitor_latency_samples();
      int best_lag = -1;
      double best = -1.0;
      for (int lag = 0; lag < 2000; ++lag) {
        double c = 0.0;
        for (size_t t = 4000; t < 40000; ++t) c += double(smooth[t]) * r.output[t + size_t(lag)];
        if (c > best) best = c, best_lag = lag;
      }
      INFO(rate << " Hz, block " << block << ": stated latency " << stated << ", measured "
                << best_lag);
      CHECK(std::abs(best_lag - stated) <= 1);
    }
  }
}

TEST_CASE("Listen analyzer is silent with monitoring off and rejects bad configurations",
          "[listen]") {
  engine::ListenAnalyzer analyzer({44100.0, 128});
  const auto x = test::harmonic_tone(440, 44100, 0.2);
  const auto r = run(analyzer, x, 128);
  CHECK(std::all_of(r.output.begin(), r.output.end(), [](float v) { return v == 0.0f; }));
  CHECK_FALSE(engine::ListenAnalyzer::validate({1000.0, 128}).empty());
  CHECK_FALSE(engine::ListenAnalyzer::validate({44100.5, 128}).empty());
  CHECK_FALSE(engine::ListenAnalyzer::validate({44100.0, 0}).empty());
  CHECK(engine::ListenAnalyzer::validate({96000.0, 128}).empty());
  CHECK_THROWS_AS(engine::ListenAnalyzer({std::nan(""), 128}), std::invalid_argument);
}

TEST_CASE("Listen analyzer survives NaN input and recovers", "[listen]") {
  engine::ListenAnalyzer analyzer({48000.0, 128});
  auto x = test::harmonic_tone(220, 48000, 2.0, 3);
  for (size_t t = 1000; t < 1128; ++t) x[t] = std::nanf("");
  const auto r = run(analyzer, x, 128);
  const auto& last = r.frames.back();
  CHECK(std::isfinite(last.spectral.rms_db));
  CHECK(last.pitch.voiced);
  CHECK(last.pitch.f0_hz == Approx(220.0).epsilon(0.01));
}
