// The output guard (dsp/output_guard.h): finite output inside [-1, 1], a
// true-peak ceiling of -1 dBTP, no change at all to material under it, a mute
// for output that stays non-finite or absurd, and no allocation.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "allocation_counter.h"
#include "signals.h"
#include "timbrel/dsp/output_guard.h"

using namespace timbrel;
using dsp::GuardState;
using dsp::OutputGuard;

namespace {

constexpr double kRate = 48000.0;
constexpr float kCeiling = 0.891251f;
const double kPi = std::acos(-1.0);

std::vector<float> sine(double hz, double amplitude, double seconds, double phase = 0.3) {
  std::vector<float> x(size_t(seconds * kRate));
  for (size_t n = 0; n < x.size(); ++n)
    x[n] = float(amplitude * std::sin(2.0 * kPi * hz * double(n) / kRate + phase));
  return x;
}

// Through a guard in blocks of 128, counting allocations.
std::vector<float> guarded(OutputGuard& guard, std::vector<float> x, long* allocations = nullptr) {
  for (size_t pos = 0; pos < x.size(); pos += 128) {
    const int n = int(std::min<size_t>(128, x.size() - pos));
    test::AllocationCounter counter;
    guard.process(x.data() + pos, n);
    if (allocations) *allocations += counter.count();
  }
  return x;
}

float peak(const std::vector<float>& x, size_t from = 0) {
  float p = 0.0f;
  for (size_t i = from; i < x.size(); ++i) p = std::max(p, std::fabs(x[i]));
  return p;
}

bool all_finite(const std::vector<float>& x) {
  return std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); });
}

// The true peak, by 16x windowed-sinc interpolation (64 taps a side).
double true_peak(const std::vector<float>& x, size_t from) {
  double best = 0.0;
  constexpr int kOver = 16, kTaps = 64;
  for (size_t n = from + kTaps; n + kTaps < x.size(); ++n) {
    for (int k = 0; k < kOver; ++k) {
      const double t = double(k) / kOver;
      double v = 0.0;
      for (int j = -kTaps + 1; j <= kTaps; ++j) {
        const double d = t - j;
        const double sinc = std::fabs(d) < 1e-12 ? 1.0 : std::sin(kPi * d) / (kPi * d);
        const double w = 0.5 + 0.5 * std::cos(kPi * d / (kTaps + 1));
        v += x[size_t(long(n) + j)] * sinc * w;
      }
      best = std::max(best, std::fabs(v));
    }
  }
  return best;
}

}  // namespace

TEST_CASE("Output guard: material under the ceiling passes bit for bit (no pumping)",
          "[guard][realtime]") {
  OutputGuard guard(kRate);
  long allocations = 0;
  // -3 dBFS tones, a -6 dBFS harmonic tone and quiet noise: true peaks under -1 dBTP.
  for (double hz : {50.0, 440.0, 3000.0}) {
    const auto x = sine(hz, 0.7079, 0.5);
    CHECK(guarded(guard, x, &allocations) == x);
  }
  const auto tone = test::harmonic_tone(220.0, kRate, 1.0, 20, 0.5);
  CHECK(guarded(guard, tone, &allocations) == tone);
  const auto noise = test::white_noise(48000, 0.1, 3);
  CHECK(guarded(guard, noise, &allocations) == noise);
  CHECK(guard.state() == GuardState::kClean);
  CHECK(guard.min_gain_db() == 0.0f);
  CHECK(guard.limited() == 0);
  CHECK(allocations == 0);
}

TEST_CASE("Output guard: overs are limited to -1 dBTP, and the gain comes back",
          "[guard][realtime]") {
  SECTION("loud tones up to a quarter of the rate: true peak at most -1 dBTP + 0.3 dB") {
    for (double hz : {100.0, 1000.0, 5000.0, 12000.0}) {
      OutputGuard guard(kRate);
      const auto y = guarded(guard, sine(hz, 3.0, 0.3, 0.7));  // +9.5 dBFS
      INFO(hz << " Hz: sample peak " << peak(y, 480) << ", true peak " << true_peak(y, 480));
      CHECK(all_finite(y));
      CHECK(peak(y) <= 1.0f);
      CHECK(peak(y, 480) <= kCeiling + 1e-6f);
      CHECK(true_peak(y, 480) <= kCeiling * std::pow(10.0, 0.3 / 20.0));
      CHECK(guard.state() == GuardState::kLimiting);
      CHECK(guard.min_gain_db() < -10.0f);
    }
  }
  SECTION("a full-scale square and clipped sung input stay inside [-1, 1]") {
    std::vector<float> square(48000);
    for (size_t n = 0; n < square.size(); ++n) square[n] = (n / 55) % 2 ? 1.0f : -1.0f;
    OutputGuard a(kRate);
    const auto y = guarded(a, square);
    CHECK(peak(y) <= kCeiling + 1e-6f);
    auto sung = test::harmonic_tone(196.0, kRate, 1.0, 30, 1.0);
    for (auto& v : sung) v = std::clamp(4.0f * v, -1.0f, 1.0f);  // clipped
    OutputGuard b(kRate);
    const auto z = guarded(b, sung);
    CHECK(peak(z) <= kCeiling + 1e-6f);
    CHECK(true_peak(z, 480) <= 1.0);
  }
  SECTION("release: hold 20 ms, then back to within 0.1 dB of unity in 0.5 s") {
    OutputGuard guard(kRate);
    auto x = sine(440.0, 2.0, 0.2);
    const auto quiet = sine(440.0, 0.3, 1.0);
    x.insert(x.end(), quiet.begin(), quiet.end());
    const auto y = guarded(guard, x);
    const size_t end_loud = size_t(0.2 * kRate);
    // Just after the over the gain still holds; 0.5 s later the quiet tone is back to itself.
    CHECK(peak(std::vector<float>(y.begin() + long(end_loud), y.begin() + long(end_loud) + 480)) <
          0.3f * 0.5f);
    const size_t later = end_loud + size_t(0.5 * kRate);
    CHECK(guard.gain_db() > -0.1f);
    CHECK(std::fabs(y[later] - x[later]) < 0.3f * 0.012f);
  }
}

TEST_CASE("Output guard: non-finite samples become silence; what stays absurd is muted",
          "[guard][realtime]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  SECTION("a 20 ms NaN/Inf burst is replaced and the sound goes on") {
    OutputGuard guard(kRate);
    auto x = sine(440.0, 0.5, 1.0);
    for (size_t i = 24000; i < 24960; ++i) x[i] = i % 2 ? nan : -inf;
    const auto y = guarded(guard, x);
    CHECK(all_finite(y));
    CHECK(guard.nonfinite() == 960);
    CHECK_FALSE(guard.muted());
    CHECK(y[30000] == x[30000]);  // untouched after it
  }
  SECTION("200 ms of NaN: muted, and silent until reset") {
    OutputGuard guard(kRate);
    auto x = sine(440.0, 0.5, 1.0);
    for (size_t i = 4800; i < 14400; ++i) x[i] = nan;
    const auto y = guarded(guard, x);
    CHECK(guard.muted());
    CHECK(guard.state() == GuardState::kMuted);
    CHECK(std::string(guard.mute_reason()) == "non-finite");
    CHECK(peak(y, 14400) == 0.0f);
    guard.reset();
    CHECK_FALSE(guard.muted());
    CHECK(guarded(guard, sine(440.0, 0.5, 0.1)) == sine(440.0, 0.5, 0.1));
  }
  SECTION("+20 dBFS for 200 ms is muted; for 50 ms it is only limited") {
    OutputGuard guard(kRate);
    const auto y = guarded(guard, sine(300.0, 10.0, 0.2));
    CHECK(guard.muted());
    CHECK(std::string(guard.mute_reason()) == "above +12 dBFS");
    CHECK(peak(y) <= kCeiling + 1e-6f);
    OutputGuard brief(kRate);
    auto x = sine(300.0, 10.0, 0.05);
    const auto after = sine(300.0, 0.5, 0.5);
    x.insert(x.end(), after.begin(), after.end());
    const auto z = guarded(brief, x);
    CHECK_FALSE(brief.muted());
    CHECK(peak(z) <= kCeiling + 1e-6f);
    CHECK(peak(z, x.size() - 4800) > 0.4f);
  }
  SECTION("denormals and DC pass, finite") {
    OutputGuard guard(kRate);
    std::vector<float> x(48000, 1e-40f);
    std::fill(x.begin() + 24000, x.end(), 0.5f);
    const auto y = guarded(guard, x);
    CHECK(y == x);
    OutputGuard dc(kRate);
    const auto z = guarded(dc, std::vector<float>(48000, 2.0f));
    CHECK(peak(z) <= kCeiling + 1e-6f);
    CHECK_FALSE(dc.muted());
  }
  SECTION("offline: guard_offline mutes and says why") {
    std::vector<float> x(22050, inf);
    const auto report = dsp::guard_offline(x.data(), long(x.size()), 22050.0);
    CHECK(report.muted);
    CHECK(std::string(report.mute_reason) == "non-finite");
    CHECK(peak(x) == 0.0f);
  }
}
