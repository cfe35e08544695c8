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

TEST_CASE("YIN at the frame's end describes the newest samples", "[yin]") {
  // First half 220 Hz, second half 330 Hz: the start estimate hears the first,
  // the end estimate the second (what a streaming engine outputs next).
  const auto a = test::harmonic_tone(220.0, 22050.0, 0.05, 3);
  const auto b = test::harmonic_tone(330.0, 22050.0, 0.05, 3);
  std::vector<float> frame(1024);
  std::copy(a.begin(), a.begin() + 512, frame.begin());
  std::copy(b.begin(), b.begin() + 512, frame.begin() + 512);
  dsp::Yin start({22050.0, 1024, 50.0, 2000.0, 0.15});
  dsp::YinConfig config{22050.0, 1024, 50.0, 2000.0, 0.15};
  config.estimate_at_end = true;
  dsp::Yin end(config);
  CHECK(start.estimate(frame.data()).f0_hz == Approx(220.0).epsilon(0.02));
  CHECK(end.estimate(frame.data()).f0_hz == Approx(330.0).epsilon(0.02));
  // A steady tone reads the same both ways.
  const auto steady = test::harmonic_tone(261.6, 22050.0, 0.05, 5);
  CHECK(end.estimate(steady.data()).f0_hz ==
        Approx(start.estimate(steady.data()).f0_hz).epsilon(1e-3));
}

TEST_CASE("PitchHold holds a one-hop octave error and takes a confirmed leap", "[yin]") {
  dsp::PitchHold hold;
  auto voiced = [](float f0) { return dsp::PitchEstimate{f0, 0.9f, true}; };
  CHECK(hold.next(voiced(262.0f)).f0_hz == 262.0f);
  // A single 65 Hz frame (two octaves down) inside a 262 Hz note is held.
  const auto outlier = hold.next(voiced(65.0f));
  CHECK(outlier.f0_hz == 262.0f);
  CHECK(outlier.voiced);
  CHECK(hold.holding());
  CHECK(hold.next(voiced(263.0f)).f0_hz == 263.0f);
  CHECK_FALSE(hold.holding());
  // Small steps (a glide 262 -> 330 Hz in 4-semitone steps) pass untouched.
  CHECK(hold.next(voiced(330.0f)).f0_hz == 330.0f);
  // A real leap of an octave: one hop late, then taken.
  CHECK(hold.next(voiced(660.0f)).f0_hz == 330.0f);
  CHECK(hold.next(voiced(661.0f)).f0_hz == 661.0f);
  // Unvoiced clears the memory: the next note may start anywhere.
  CHECK_FALSE(hold.next(dsp::PitchEstimate{}).voiced);
  CHECK(hold.next(voiced(110.0f)).f0_hz == 110.0f);
  hold.reset();
  CHECK(hold.next(voiced(1500.0f)).f0_hz == 1500.0f);
}

TEST_CASE("PitchHold keeps a run voiced through dips of periodicity, not a new one", "[yin]") {
  dsp::PitchHold hold;
  auto strong = [](float f0) { return dsp::PitchEstimate{f0, 0.9f, true}; };
  auto weak = [](float f0, float confidence) { return dsp::PitchEstimate{f0, confidence, false}; };
  // Nothing voiced yet: a weak estimate stays unvoiced (a run needs YIN's threshold).
  CHECK_FALSE(hold.next(weak(100.0f, 0.7f)).voiced);
  CHECK(hold.next(strong(100.0f)).voiced);
  // A glide read at periodicity 0.55-0.7, 0.3-0.6 semitone a hop: voiced, its own f0.
  for (float f0 : {102.0f, 104.0f, 107.0f, 110.0f}) {
    const auto kept = hold.next(weak(f0, 0.55f));
    CHECK(kept.voiced);
    CHECK(kept.f0_hz == f0);
  }
  // An octave slip inside the glide (740 Hz at 0.57) holds the last f0 for a hop...
  const auto slip = hold.next(weak(740.0f, 0.57f));
  CHECK(slip.voiced);
  CHECK(slip.f0_hz == 110.0f);
  // ...and the glide goes on from there.
  CHECK(hold.next(weak(111.0f, 0.6f)).f0_hz == 111.0f);
  // Periodicity under continue_confidence near the same f0: bridged, at most 2 hops.
  CHECK(hold.next(weak(111.0f, 0.3f)).voiced);
  CHECK(hold.next(weak(500.0f, 0.2f)).voiced);
  const auto ended = hold.next(weak(111.0f, 0.3f));
  CHECK_FALSE(ended.voiced);
  // The run is over: even a good continuation needs YIN's threshold again.
  CHECK_FALSE(hold.next(weak(111.0f, 0.7f)).voiced);
  // A silent hop (no estimate) ends a run at once.
  CHECK(hold.next(strong(220.0f)).voiced);
  CHECK_FALSE(hold.next(dsp::PitchEstimate{}).voiced);
  CHECK_FALSE(hold.next(weak(220.0f, 0.8f)).voiced);
  // In noise YIN's best lag may span 2 or 3 periods: f0/2, f0/3 continue the run at 2x, 3x.
  CHECK(hold.next(strong(172.0f)).voiced);
  const auto third = hold.next(weak(58.0f, 0.8f));
  CHECK(third.voiced);
  CHECK(third.f0_hz == 174.0f);
  const auto half = hold.next(weak(87.5f, 0.75f));
  CHECK(half.voiced);
  CHECK(half.f0_hz == 175.0f);
  // A quarter (4 periods) is past max_multiple: bridged at the last f0, not taken.
  const auto quarter = hold.next(weak(44.0f, 0.75f));
  CHECK(quarter.voiced);
  CHECK(quarter.f0_hz == 175.0f);
  // Without hysteresis (bridge 0, confidence > 1) YIN's voicing passes as it is.
  dsp::PitchHold strict({7.0, 1.0, 1.0, 1.5f, 0});
  CHECK(strict.next(strong(220.0f)).voiced);
  CHECK_FALSE(strict.next(weak(220.0f, 0.8f)).voiced);
}

TEST_CASE("PitchTracker: YIN at the end through the hold, without allocating", "[yin][realtime]") {
  dsp::PitchTracker tracker({22050.0, 1024, 50.0, 2000.0, 0.15});
  CHECK(tracker.yin().config().estimate_at_end);
  const auto note = test::harmonic_tone(262.0, 22050.0, 0.1, 5);
  const auto low = test::harmonic_tone(65.0, 22050.0, 0.1, 5);
  test::AllocationCounter counter;
  const auto first = tracker.next(note.data());
  const auto error = tracker.next(low.data());  // what YIN's octave error looks like
  const auto after = tracker.next(note.data() + 256);
  CHECK(counter.count() == 0);
  CHECK(first.f0_hz == Approx(262.0).epsilon(0.01));
  CHECK(error.f0_hz == first.f0_hz);
  CHECK(after.f0_hz == Approx(262.0).epsilon(0.01));
}
