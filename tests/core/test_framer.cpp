#include <catch2/catch.hpp>
#include <vector>

#include "allocation_counter.h"
#include "signals.h"
#include "timbrel/dsp/framer.h"

using namespace timbrel;

namespace {
// A stateful hop processor: running sum, so any mis-ordering shows.
struct RunningSum {
  double total = 0.0;
  void operator()(const float* in, float* out, int hop) {
    for (int i = 0; i < hop; ++i) {
      total += in[i];
      out[i] = float(total);
    }
  }
};

std::vector<float> run(const std::vector<float>& x, int hop, int block, long* allocations) {
  dsp::BlockFramer framer(hop, block);
  RunningSum sum;
  std::vector<float> y(x.size());
  for (size_t start = 0; start < x.size(); start += size_t(block)) {
    const int n = int(std::min(x.size() - start, size_t(block)));
    test::AllocationCounter counter;
    framer.process(x.data() + start, y.data() + start, n,
                   [&](const float* in, float* out) { sum(in, out, hop); });
    *allocations += counter.count();
  }
  return y;
}
}  // namespace

TEST_CASE("Framer output is the hop processor's output delayed by hop - 1, for any block size",
          "[framer][realtime]") {
  const auto x = test::white_noise(20000, 0.1, 3);
  for (int hop : {64, 256, 512}) {
    // Reference: the processor run straight over the signal, one hop at a time.
    RunningSum direct;
    std::vector<float> reference(x.size(), 0.0f);
    for (size_t s = 0; s + size_t(hop) <= x.size(); s += size_t(hop))
      direct(x.data() + s, reference.data() + s, hop);
    for (int block : {1, 7, 128, 256, 300, 1000}) {
      long allocations = 0;
      const auto y = run(x, hop, block, &allocations);
      dsp::BlockFramer framer(hop, block);
      const size_t latency = size_t(framer.latency_samples());
      REQUIRE(latency == size_t(hop - 1));
      size_t mismatches = 0;
      for (size_t t = 0; t < y.size(); ++t) {
        const float want = t < latency ? 0.0f : reference[t - latency];
        // Samples whose hop has not completed by the end of the input are not compared.
        if (t >= latency && (t - latency) / size_t(hop) * size_t(hop) + size_t(hop) > x.size())
          continue;
        if (y[t] != want) ++mismatches;
      }
      INFO("hop " << hop << " block " << block);
      CHECK(mismatches == 0);
      CHECK(allocations == 0);
    }
  }
}
