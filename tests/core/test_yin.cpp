#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "npy.h"
#include "signals.h"
#include "timbrel/dsp/yin.h"

using namespace timbrel;

TEST_CASE("YIN agrees with the Python reference on the golden signals", "[yin]") {
  dsp::Yin yin({22050.0, 1024, 50.0, 2000.0, 0.15});
  for (std::string name : {"noise", "chirp", "harmonic", "silence"}) {
    const auto x = test::read_npy_signal(test::golden("signal_" + name + ".npy"));
    const auto want = test::read_npy(test::golden("yin_" + name + ".npy"));
    for (size_t m = 0; m < want.rows(); ++m) {
      const auto p = yin.estimate(x.data() + m * 256);
      INFO(name << " frame " << m);
      CHECK(p.voiced == (want.at(m, 2) > 0.5));
      CHECK(p.f0_hz == Approx(want.at(m, 0)).epsilon(1e-4));
      CHECK(p.confidence == Approx(want.at(m, 1)).margin(1e-4));
    }
  }
}

TEST_CASE("YIN f0 error < 1 % on harmonic tones from 60 to 1500 Hz", "[yin]") {
  const double rate = 22050.0;
  dsp::Yin yin({rate, 1024, 50.0, 2000.0, 0.15});
  for (double f0 :
       {60.0, 73.4, 98.0, 130.8, 196.0, 261.6, 349.2, 523.3, 784.0, 1046.5, 1318.5, 1500.0}) {
    for (int harmonics : {1, 3, 8}) {
      const auto x = test::harmonic_tone(f0, rate, 0.5, harmonics);
      double worst = 0.0;
      bool all_voiced = true;
      for (size_t start = 0; start + 1024 <= x.size(); start += 256) {
        const auto p = yin.estimate(x.data() + start);
        worst = std::max(worst, std::fabs(p.f0_hz / f0 - 1.0));
        all_voiced = all_voiced && p.voiced;
      }
      INFO(f0 << " Hz with " << harmonics << " harmonics: worst error " << worst * 100 << " %");
      CHECK(worst < 0.01);
      CHECK(all_voiced);
    }
  }
}

TEST_CASE("YIN calls white noise unvoiced and silence silent, without allocating",
          "[yin][realtime]") {
  dsp::Yin yin({22050.0, 1024, 50.0, 2000.0, 0.15});
  const auto noise = test::white_noise(22050, 0.2, 21);
  int voiced = 0, frames = 0;
  long allocations = 0;
  for (size_t start = 0; start + 1024 <= noise.size(); start += 256, ++frames) {
    test::AllocationCounter counter;
    voiced += yin.estimate(noise.data() + start).voiced;
    allocations += counter.count();
  }
  CHECK(voiced == 0);
  CHECK(allocations == 0);
  const std::vector<float> zeros(1024, 0.0f);
  const auto silent = yin.estimate(zeros.data());
  CHECK_FALSE(silent.voiced);
  CHECK(silent.f0_hz == 0.0f);
  CHECK_THROWS(dsp::Yin({22050.0, 256, 50.0, 2000.0, 0.15}));  // too short for 50 Hz
}
