// dsp::MelSpectrogram against the Python reference timbrel.mel (golden files
// from scripts/timbrel/golden/mel.py, computed in float64). Tolerances: the
// core's FFT is single precision, so 1e-4 on scaled values (0.008 dB with the
// golden range of 160 dB) and 1e-4 relative on magnitudes.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "npy.h"
#include "timbrel/dsp/mel.h"

using timbrel::dsp::MelSpectrogram;
using timbrel::test::read_npy;

namespace {

std::string golden(const std::string& name) {
  return std::string(TIMBREL_GOLDEN_DIR) + "/mel/" + name;
}

constexpr float kDbMin = -100.0f, kDbMax = 60.0f;

std::vector<float> as_floats(const timbrel::test::NpyArray& a) {
  return std::vector<float>(a.values.begin(), a.values.end());
}

}  // namespace

TEST_CASE("MelSpectrogram's filterbank matches timbrel.mel.filterbank", "[mel]") {
  MelSpectrogram mel;
  const auto runs = read_npy(golden("filterbank_runs.npy"));
  const auto weights = read_npy(golden("filterbank_weights.npy"));
  REQUIRE(runs.rows() == size_t(MelSpectrogram::kMelBins));
  size_t at = 0;
  double worst = 0.0;
  for (int b = 0; b < MelSpectrogram::kMelBins; ++b) {
    INFO("band " << b);
    REQUIRE(mel.first_bin(b) == int(runs.at(size_t(b), 0)));
    REQUIRE(mel.bin_count(b) == int(runs.at(size_t(b), 1)));
    for (int k = 0; k < mel.bin_count(b); ++k)
      worst = std::max(worst, std::fabs(double(mel.band_weights(b)[k]) - weights.values[at++]));
  }
  CHECK(at == weights.values.size());
  CHECK(worst < 1e-6);
  // Every bin lies under at most two triangles (the inverse's cost).
  for (int k = 0; k < MelSpectrogram::kBins; ++k) {
    int under = 0;
    for (int b = 0; b < MelSpectrogram::kMelBins; ++b) under += mel.weight(b, k) > 0.0f;
    REQUIRE(under <= 2);
  }
}

TEST_CASE("MelSpectrogram analyses a note as timbrel.mel does", "[mel]") {
  MelSpectrogram mel;
  const auto note = as_floats(read_npy(golden("note.npy")));
  const auto want_db = read_npy(golden("note_db.npy"));
  const auto want = read_npy(golden("note_scaled.npy"));
  REQUIRE(want.rows() == size_t(MelSpectrogram::kFrames));
  std::vector<float> db(size_t(MelSpectrogram::kFrames) * MelSpectrogram::kMelBins);
  std::vector<float> scaled(db.size());
  mel.analyse_db(note.data(), note.size(), db.data());
  mel.analyse_scaled(note.data(), note.size(), kDbMin, kDbMax, scaled.data());
  double worst_db = 0.0, worst = 0.0;
  for (size_t i = 0; i < db.size(); ++i) {
    worst_db = std::max(worst_db, std::fabs(db[i] - want_db.values[i]));
    worst = std::max(worst, std::fabs(scaled[i] - want.values[i]));
  }
  INFO("worst dB difference " << worst_db << ", scaled " << worst);
  CHECK(worst < 1e-4);
  CHECK(worst_db < 0.01);
}

TEST_CASE("MelSpectrogram's inverse matches timbrel.mel.magnitudes", "[mel]") {
  MelSpectrogram mel;
  const auto patch = as_floats(read_npy(golden("patch.npy")));
  const auto want = read_npy(golden("patch_magnitudes.npy"));
  REQUIRE(want.columns() == size_t(MelSpectrogram::kBins));
  std::vector<float> magnitude(MelSpectrogram::kBins);
  double worst = 0.0;
  for (int m = 0; m < MelSpectrogram::kFrames; ++m) {
    mel.magnitudes(patch.data() + size_t(m) * MelSpectrogram::kMelBins, kDbMin, kDbMax,
                   magnitude.data());
    for (int k = 0; k < MelSpectrogram::kBins; ++k) {
      const double w = want.at(size_t(m), size_t(k));
      worst = std::max(worst, std::fabs(magnitude[size_t(k)] - w) / std::max(w, 1e-6));
    }
  }
  INFO("worst relative difference " << worst);
  CHECK(worst < 1e-4);
}

TEST_CASE("MelSpectrogram's harmonic gains match timbrel.mel.harmonic_weights", "[mel]") {
  const auto want = read_npy(golden("harmonic_gains.npy"));
  const double f0[] = {440.0, 97.99885899543733, 30.0, 1046.5022612023945};
  REQUIRE(want.rows() == 4);
  std::vector<float> gains(MelSpectrogram::kBins);
  for (size_t i = 0; i < 4; ++i) {
    MelSpectrogram::harmonic_gains(f0[i], gains.data());
    double worst = 0.0, power = 0.0;
    for (int k = 0; k < MelSpectrogram::kBins; ++k) {
      worst = std::max(worst, std::fabs(gains[size_t(k)] - want.at(i, size_t(k))));
      power += double(gains[size_t(k)]) * gains[size_t(k)];
    }
    INFO("f0 " << f0[i] << " Hz: worst difference " << worst);
    CHECK(worst < 1e-5);
    // The comb keeps the power: its mean square over the spectrum is about 1.
    CHECK(power / MelSpectrogram::kBins == Approx(1.0).margin(0.05));
  }
  // At 440 Hz the 3rd harmonic's bin outweighs the bin halfway to the 4th by > 12 dB
  // (the floor: 10 log10(1.05 / 0.05) = 13.2 dB).
  MelSpectrogram::harmonic_gains(440.0, gains.data());
  const double spacing = 440.0 * 2048 / 22050;
  const auto third = size_t(std::lround(3 * spacing)), between = size_t(std::lround(3.5 * spacing));
  CHECK(20.0 * std::log10(gains[third] / gains[between]) > 12.0);
}

TEST_CASE("MelSpectrogram round trip: white noise comes back flat", "[mel]") {
  MelSpectrogram mel;
  // A flat power spectrum q per bin gives band powers q S_b; the inverse spreads
  // each over its bins again: q at every bin inside the triangles' partition of unity.
  const float q = 100.0f;
  std::vector<float> power(MelSpectrogram::kBins, q), band(MelSpectrogram::kMelBins);
  std::vector<float> db(MelSpectrogram::kMelBins), scaled(MelSpectrogram::kMelBins);
  mel.band_db(power.data(), db.data());
  for (int b = 0; b < MelSpectrogram::kMelBins; ++b) {
    band[size_t(b)] = float(q * mel.weight_sum(b));
    REQUIRE(db[size_t(b)] == Approx(10.0 * std::log10(band[size_t(b)])).margin(1e-4));
    scaled[size_t(b)] = MelSpectrogram::scale(db[size_t(b)], kDbMin, kDbMax);
  }
  std::vector<float> magnitude(MelSpectrogram::kBins), again(MelSpectrogram::kBins);
  mel.magnitudes_from_power(band.data(), magnitude.data());
  mel.magnitudes(scaled.data(), kDbMin, kDbMax, again.data());
  for (int k = 5; k < 1000; ++k) {  // edge 1 (32 Hz) to edge 256 (10.8 kHz)
    REQUIRE(magnitude[size_t(k)] == Approx(10.0f).epsilon(1e-4));
    REQUIRE(again[size_t(k)] == Approx(10.0f).epsilon(1e-4));
  }
  CHECK(MelSpectrogram::unscale(MelSpectrogram::scale(-37.5f, kDbMin, kDbMax), kDbMin, kDbMax) ==
        Approx(-37.5f).epsilon(1e-6));
  CHECK(MelSpectrogram::scale(200.0f, kDbMin, kDbMax) == 1.0f);
  CHECK(MelSpectrogram::scale(-200.0f, kDbMin, kDbMax) == -1.0f);
  CHECK(MelSpectrogram::unscale(std::nanf(""), kDbMin, kDbMax) == kDbMin);
}

TEST_CASE("MelSpectrogram analysis and inverse do not allocate", "[mel][realtime]") {
  MelSpectrogram mel;
  std::vector<float> note(5000, 0.1f), scaled(size_t(MelSpectrogram::kFrames) * 256);
  std::vector<float> magnitude(MelSpectrogram::kBins);
  timbrel::test::AllocationCounter counter;
  mel.analyse_scaled(note.data(), note.size(), kDbMin, kDbMax, scaled.data());
  mel.magnitudes(scaled.data(), kDbMin, kDbMax, magnitude.data(), MelSpectrogram::kPhaseScale);
  CHECK(counter.count() == 0);
}
