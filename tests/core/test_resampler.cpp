#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "allocation_counter.h"
#include "resampler_quality.h"
#include "signals.h"
#include "timbrel/dsp/resampler.h"

using namespace timbrel;
using namespace timbrel::test;

TEST_CASE("Resampler passband ripple < 0.1 dB up to 9 kHz and imaging/aliasing < -70 dB",
          "[resampler]") {
  for (int device : {44100, 48000}) {
    for (auto [in_rate, out_rate] : {std::pair{device, 22050}, std::pair{22050, device}}) {
      const auto q = measure_resampler(in_rate, out_rate);
      INFO(in_rate << " -> " << out_rate << " Hz: ripple " << q.passband_ripple_db
                   << " dB, spurious " << q.worst_spurious_db << " dB, alias " << q.worst_alias_db
                   << " dB");
      CHECK(q.passband_ripple_db < 0.1);
      CHECK(q.worst_spurious_db < -70.0);
      if (in_rate > out_rate) CHECK(q.worst_alias_db < -70.0);
    }
  }
}

TEST_CASE("Resampler streaming output does not depend on block size and does not allocate",
          "[resampler][realtime]") {
  const auto x = test::white_noise(48000, 0.2, 5);
  dsp::StreamingResampler whole(48000, 22050, int(x.size()));
  const auto reference = stream(whole, x, int(x.size()));
  for (int block : {1, 64, 128, 441}) {
    dsp::StreamingResampler r(48000, 22050, block);
    std::vector<float> y, out(size_t(r.max_output(block)));
    long allocations = 0;
    for (size_t s = 0; s < x.size(); s += size_t(block)) {
      const int n = int(std::min(x.size() - s, size_t(block)));
      test::AllocationCounter counter;
      const int produced = r.process(x.data() + s, n, out.data());
      allocations += counter.count();
      y.insert(y.end(), out.begin(), out.begin() + produced);
    }
    INFO("block " << block);
    CHECK(allocations == 0);
    REQUIRE(y.size() == reference.size());
    double worst = 0.0;
    for (size_t t = 0; t < y.size(); ++t)
      worst = std::max(worst, double(std::fabs(y[t] - reference[t])));
    CHECK(worst < 1e-6);
  }
}

TEST_CASE("Whole-buffer resample() keeps length and alignment", "[resampler]") {
  const auto x = sine(440.0, 44100, 44100);
  const auto y = dsp::resample(x, 44100, 22050);
  REQUIRE(y.size() == 22050);
  const auto want = sine(440.0, 22050, 22050);
  double worst = 0.0;
  for (size_t t = 1000; t < 21000; ++t) worst = std::max(worst, double(std::fabs(y[t] - want[t])));
  CHECK(worst < 5e-3);  // a sample of misalignment would give ~0.06
  CHECK_THROWS_AS(dsp::StreamingResampler(44100, 10, 128), std::invalid_argument);
}
