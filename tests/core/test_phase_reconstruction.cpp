// Griffin-Lim, RTPGHI (streaming and whole-buffer) and spectral convergence.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "signals.h"
#include "timbrel/dsp/cqt.h"
#include "timbrel/dsp/phase_reconstruction.h"
#include "timbrel/dsp/stft.h"

using namespace timbrel;

namespace {

constexpr double kRate = 22050.0;
const dsp::StftConfig kConfig{2048, 256};
constexpr int kLead = 2048 - 256;  // dsp::istft's delay

// A violin-like tone: 220 Hz, 10 harmonics at 1/h, vibrato 5.5 Hz +-30 cents.
std::vector<float> vibrato_tone(double seconds) {
  const double pi = std::acos(-1.0);
  std::vector<float> x(size_t(seconds * kRate));
  double phase = 0.0, norm = 0.0;
  for (int h = 1; h <= 10; ++h) norm += 1.0 / h;
  for (size_t n = 0; n < x.size(); ++n) {
    const double f0 = 220.0 * std::pow(2.0, 0.3 / 12.0 * std::sin(2.0 * pi * 5.5 * n / kRate));
    phase += 2.0 * pi * f0 / kRate;
    double v = 0.0;
    for (int h = 1; h <= 10; ++h) v += std::sin(h * phase) / h;
    x[n] = float(0.5 * v / norm);
  }
  return x;
}

dsp::MagnitudeFrames magnitudes(const std::vector<float>& x) {
  const auto spectra = dsp::stft(x, kConfig);
  dsp::MagnitudeFrames m(spectra.size(), std::vector<float>(spectra[0].size()));
  for (size_t i = 0; i < spectra.size(); ++i)
    for (size_t k = 0; k < spectra[i].size(); ++k)
      m[i][k] = std::abs(spectra[i][k]) * 2.0f / 1024.0f;  // sum(w) = 1024
  return m;
}

double rms(const std::vector<float>& x, size_t from, size_t to) {
  double sum = 0.0;
  for (size_t n = from; n < to; ++n) sum += double(x[n]) * x[n];
  return std::sqrt(sum / double(to - from));
}

// Frequency from the rising zero crossings in [from, to), interpolated.
double zero_crossing_frequency(const std::vector<float>& x, size_t from, size_t to) {
  double first = -1.0, last = -1.0;
  int crossings = 0;
  for (size_t n = from; n + 1 < to; ++n)
    if (x[n] <= 0.0f && x[n + 1] > 0.0f) {
      const double t = double(n) + x[n] / double(x[n] - x[n + 1]);
      if (first < 0.0) first = t;
      last = t;
      ++crossings;
    }
  return crossings > 1 ? (crossings - 1) * kRate / (last - first) : 0.0;
}

}  // namespace

TEST_CASE("Spectral convergence is 0 for the signal itself and 1 for silence", "[phase]") {
  const auto x = vibrato_tone(0.5);
  const auto target = magnitudes(x);
  std::vector<float> delayed(size_t(kLead), 0.0f);  // istft alignment
  delayed.insert(delayed.end(), x.begin(), x.end());
  CHECK(dsp::spectral_convergence(target, delayed, kConfig) < 1e-5);
  // Without the delay the frames no longer line up.
  CHECK(dsp::spectral_convergence(target, x, kConfig) > 0.3);
  CHECK(dsp::spectral_convergence(target, std::vector<float>(x.size()), kConfig) == Approx(1.0));
}

TEST_CASE("Griffin-Lim converges on a vibrato tone, faster from the RTPGHI phase", "[phase]") {
  const auto target = magnitudes(vibrato_tone(1.0));
  auto sc = [&](const std::vector<float>& y) {
    return dsp::spectral_convergence(target, y, kConfig);
  };
  double classic_from_zero = 0.0, fast_from_rtpghi = 0.0;
  for (auto init : {dsp::PhaseInit::zero, dsp::PhaseInit::rtpghi}) {
    for (double momentum : {0.0, 0.99}) {
      dsp::GriffinLimOptions options;
      options.init = init;
      options.momentum = momentum;
      std::vector<double> by_iterations;
      for (int iterations : {0, 5, 15, 30}) {
        options.iterations = iterations;
        by_iterations.push_back(sc(dsp::griffin_lim(target, kConfig, options)));
      }
      INFO("init " << int(init) << " momentum " << momentum << ": SC after 0/5/15/30 iterations "
                   << by_iterations[0] << " " << by_iterations[1] << " " << by_iterations[2] << " "
                   << by_iterations[3]);
      // Classic Griffin-Lim never increases the inconsistency; the momentum
      // may overshoot for an iteration or two, so only the trend is asked of it.
      if (momentum == 0.0) {
        for (size_t i = 1; i < by_iterations.size(); ++i)
          CHECK(by_iterations[i] < by_iterations[i - 1]);
      } else {
        CHECK(by_iterations[1] < by_iterations[0]);
        CHECK(by_iterations[3] < by_iterations[1]);
      }
      if (init == dsp::PhaseInit::zero) CHECK(by_iterations[3] < 0.25);
      if (init == dsp::PhaseInit::rtpghi) CHECK(by_iterations[3] < 0.035);
      if (init == dsp::PhaseInit::zero && momentum == 0.0) classic_from_zero = by_iterations[3];
      if (init == dsp::PhaseInit::rtpghi && momentum > 0.0) fast_from_rtpghi = by_iterations[3];
    }
  }
  // The brief's signature runs the defaults: RTPGHI start, momentum 0.99, 30
  // iterations, far closer than classic Griffin-Lim from zero phase.
  CHECK(sc(dsp::griffin_lim(target, kConfig)) == fast_from_rtpghi);
  CHECK(fast_from_rtpghi < 0.3 * classic_from_zero);
}

TEST_CASE("Griffin-Lim in segments streams a render as good as the whole-buffer one",
          "[phase][stream]") {
  // A tone with note changes, so segment boundaries fall inside notes and onsets.
  std::vector<float> x = vibrato_tone(4.0);
  for (size_t n = 0; n < x.size(); ++n) x[n] *= n % 22050 < 19000 ? 1.0f : 0.1f;
  const auto target = magnitudes(x);
  const double whole =
      dsp::spectral_convergence(target, dsp::griffin_lim(target, kConfig), kConfig);
  for (int segment : {32, 128}) {
    dsp::StreamingGriffinLim::Options options;
    options.segment_frames = segment;
    std::vector<float> streamed;
    std::vector<size_t> emits;
    dsp::StreamingGriffinLim gl(kConfig, options, [&](const float* samples, size_t count) {
      streamed.insert(streamed.end(), samples, samples + count);
      emits.push_back(streamed.size());
    });
    size_t before_finish = 0;
    for (const auto& frame : target) gl.push(frame.data());
    before_finish = streamed.size();
    gl.finish();
    const double segmented = dsp::spectral_convergence(target, streamed, kConfig);
    INFO("segments of " << segment << " frames: SC " << segmented << " (whole buffer " << whole
                        << "), " << emits.size() << " emits, " << before_finish
                        << " samples before finish()");
    // Every sample once, in order, as long as the whole-buffer output.
    CHECK(streamed.size() == (target.size() - 1) * 256 + 2048);
    CHECK(gl.emitted() == streamed.size());
    // Heard while it is made: most of it came out before finish().
    CHECK(before_finish > streamed.size() / 2);
    CHECK(emits.size() >= target.size() / size_t(segment));
    // As close to the magnitudes as the whole-buffer run, within 15 %, and no
    // click at the boundaries: no sample step beyond the signal's own.
    CHECK(segmented < 1.15 * whole + 1e-3);
    double step = 0.0, own = 0.0;
    for (size_t n = 1; n < x.size(); ++n) own = std::max(own, double(std::fabs(x[n] - x[n - 1])));
    for (size_t n = kLead + 1; n < kLead + x.size(); ++n)
      step = std::max(step, double(std::fabs(streamed[n] - streamed[n - 1])));
    CHECK(step < 1.5 * own);
  }
  // Bad settings are refused.
  dsp::StreamingGriffinLim::Options bad;
  bad.margin_frames = 2;
  CHECK_THROWS_AS(dsp::StreamingGriffinLim(kConfig, bad, [](const float*, size_t) {}),
                  std::invalid_argument);
}

TEST_CASE("RTPGHI alone reconstructs a vibrato tone", "[phase]") {
  const auto target = magnitudes(vibrato_tone(1.5));
  for (bool lookahead : {true, false}) {
    dsp::RtpghiOptions options;
    options.lookahead = lookahead;
    const auto y = dsp::rtpghi(target, kConfig, options);
    REQUIRE(y.size() == (target.size() - 1) * 256 + 2048);
    const double sc = dsp::spectral_convergence(target, y, kConfig);
    INFO("look-ahead " << lookahead << ": SC " << sc);
    CHECK(sc < 0.08);
  }
}

TEST_CASE("RTPGHI keeps an onset where it was (istft alignment)", "[phase]") {
  // Silence, then a tone from sample 6000: the group delay puts its energy
  // after the onset, not smeared over the frames before it.
  const size_t onset = 6000;
  auto x = test::harmonic_tone(330.0, kRate, 0.6, 5, 0.4);
  std::fill(x.begin(), x.begin() + long(onset), 0.0f);
  for (bool griffin_lim : {false, true}) {
    const auto target = magnitudes(x);
    const auto y = griffin_lim ? dsp::griffin_lim(target, kConfig) : dsp::rtpghi(target, kConfig);
    const size_t heard = onset + size_t(kLead);
    const double before = rms(y, heard - 1024, heard - 256);
    const double after = rms(y, heard + 256, heard + 1024);
    INFO((griffin_lim ? "Griffin-Lim" : "RTPGHI")
         << ": rms before " << before << " after " << after);
    CHECK(after > 0.15);
    CHECK(before < 0.1 * after);
  }
}

TEST_CASE("A sine comes back at its frequency and level", "[phase]") {
  const double pi = std::acos(-1.0);
  for (double f : {220.0, 1234.5}) {
    std::vector<float> x(22050);
    for (size_t n = 0; n < x.size(); ++n) x[n] = float(0.4 * std::sin(2.0 * pi * f * n / kRate));
    const auto target = magnitudes(x);
    for (bool griffin_lim : {false, true}) {
      const auto y = griffin_lim ? dsp::griffin_lim(target, kConfig) : dsp::rtpghi(target, kConfig);
      // The steady middle, away from the edge frames.
      const size_t from = size_t(kLead) + 4096, to = size_t(kLead) + x.size() - 4096;
      INFO((griffin_lim ? "Griffin-Lim " : "RTPGHI ") << f << " Hz");
      // Within 1 cent: treating the Hann window as a Gaussian biases RTPGHI's
      // instantaneous frequency by a few thousandths of a bin.
      CHECK(zero_crossing_frequency(y, from, to) == Approx(f).epsilon(0.0006));
      CHECK(rms(y, from, to) == Approx(0.4 / std::sqrt(2.0)).epsilon(0.01));
    }
  }
}

TEST_CASE("Streaming RTPGHI equals the whole-buffer call and does not allocate",
          "[phase][realtime]") {
  const auto target = magnitudes(vibrato_tone(0.8));
  for (bool lookahead : {true, false}) {
    dsp::RtpghiOptions options;
    options.lookahead = lookahead;
    const auto whole = dsp::rtpghi(target, kConfig, options);
    dsp::RtpghiSynth synth(kConfig, options);
    CHECK(synth.latency_samples() == (lookahead ? 2048 : 1792));
    // A first pass to dirty every buffer, then reset: the same output again.
    std::vector<float> hop(256), stream;
    for (const auto& frame : target) synth.push_magnitude(frame.data(), hop.data());
    synth.reset();
    const std::vector<float> silence(1025, 0.0f);
    long allocations = 0;
    const size_t pushes = target.size() + 8 + (lookahead ? 1 : 0);
    for (size_t p = 0; p < pushes; ++p) {
      const float* frame = p < target.size() ? target[p].data() : silence.data();
      test::AllocationCounter counter;
      synth.push_magnitude(frame, hop.data());
      allocations += counter.count();
      stream.insert(stream.end(), hop.begin(), hop.end());
    }
    CHECK(allocations == 0);
    // The stream is the whole-buffer output delayed by the look-ahead.
    const size_t skip = lookahead ? 256 : 0;
    REQUIRE(stream.size() >= whole.size() + skip);
    size_t mismatches = 0;
    for (size_t n = 0; n < whole.size(); ++n) mismatches += stream[n + skip] != whole[n];
    CHECK(mismatches == 0);
    for (size_t n = 0; n < skip; ++n) CHECK(stream[n] == 0.0f);
  }
}

TEST_CASE("RTPGHI treats bad magnitudes as silence in real time", "[phase][realtime]") {
  dsp::RtpghiSynth synth(kConfig);
  std::vector<float> frame(1025, std::nanf("")), hop(256);
  frame[10] = -1.0f;
  for (int i = 0; i < 12; ++i) {
    synth.push_magnitude(frame.data(), hop.data());
    for (float v : hop) REQUIRE(v == 0.0f);
  }
}

TEST_CASE("Griffin-Lim reports bad input and cancellation clearly", "[phase]") {
  using Catch::Matchers::Contains;
  dsp::MagnitudeFrames target(20, std::vector<float>(1025, 0.01f));
  target[3].resize(1000);
  CHECK_THROWS_WITH(dsp::griffin_lim(target, kConfig),
                    Contains("magnitude frame 3 has 1000 bins, expected window/2 + 1 = 1025"));
  target[3].assign(1025, 0.01f);
  target[4][7] = -2.0f;
  CHECK_THROWS_WITH(dsp::griffin_lim(target, kConfig),
                    Contains("frame 4 bin 7 is -2.000000 (must be finite and >= 0)"));
  target[4][7] = 0.0f;
  CHECK_THROWS_WITH(dsp::griffin_lim(target, kConfig, -1), Contains("iterations must be >= 0"));
  CHECK_THROWS_WITH(dsp::rtpghi(target, {2048, 2000}), Contains("hop"));

  std::vector<int> seen;
  auto stop_after_three = [&](int done, int total) {
    seen.push_back(done);
    CHECK(total == 30);
    return done < 3;
  };
  CHECK_THROWS_AS(dsp::griffin_lim(target, kConfig, 30, stop_after_three), dsp::Cancelled);
  CHECK(seen == std::vector<int>{1, 2, 3});
  CHECK_THROWS_WITH(dsp::griffin_lim(target, kConfig, 30, stop_after_three),
                    Contains("cancelled after 3 of 30 iterations"));
  CHECK(dsp::griffin_lim({}, kConfig).empty());
}

TEST_CASE("CQT back-projected magnitudes come back as sound", "[phase][cqt]") {
  // The cross-modal VAE's path: constant-Q magnitudes -> STFT magnitudes ->
  // phase. The back-projection is not a consistent spectrogram, so the bound
  // is looser than for the oracle magnitudes.
  const dsp::ConstantQ cqt;
  const auto spectra = dsp::stft(vibrato_tone(1.0), cqt.stft_config());
  dsp::MagnitudeFrames target(spectra.size(), std::vector<float>(size_t(cqt.fft_bins())));
  std::vector<float> c(size_t(cqt.bins()));
  for (size_t m = 0; m < spectra.size(); ++m) {
    cqt.magnitudes_from_spectrum(spectra[m].data(), c.data());
    cqt.stft_magnitude_from_cqt(c.data(), target[m].data());
  }
  const double live = dsp::spectral_convergence(target, dsp::rtpghi(target, kConfig), kConfig);
  const double offline =
      dsp::spectral_convergence(target, dsp::griffin_lim(target, kConfig), kConfig);
  INFO("RTPGHI " << live << ", Griffin-Lim " << offline);
  CHECK(live < 0.6);
  CHECK(offline < live);
}
