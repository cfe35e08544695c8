// The GMVAE's note features (docs/gmvae.md, "Features"; Python reference
// scripts/timbrel/mel.py, golden files tests/golden/mel): log-mel of a note's
// first 500 ms, and its inverse back to STFT magnitudes.
//
// - 22050 Hz mono; periodic Hann window 2048, hop 256; frame m centred on
//   sample m * 256 of the note (zeros before its first sample and after its
//   last); 43 frames (0-488 ms).
// - Power |X_k|^2 of the 1025 bins (no scaling); 256 mel triangles of peak 1
//   on the HTK mel scale (2595 log10(1 + f / 700)) between 20 and 11025 Hz:
//   band b rises from edge b to edge b + 1 and falls to edge b + 2 (258 edges
//   evenly spaced in mel), evaluated at k * 22050 / 2048.
// - dB = 10 log10(max(band power, 1e-10)); scaled x = clamp(2 (dB - db_min) /
//   (db_max - db_min) - 1, -1, 1) with the model's db_min, db_max.
// - Inverse: band power P_b from x, bin power = sum_b W[b, k] P_b / S_b with
//   S_b = sum_k W[b, k] (a band's power spread over the bins it sums: white
//   noise comes back flat), magnitude its square root (|X_k|, as
//   timbrel.mel.magnitudes); times kPhaseScale these are the magnitudes
//   dsp::PhaseReconstruction takes (its 2 / sum(w) scale).
//
// The filterbank is built at construction in double (as the reference) and
// kept as its nonzero runs: each triangle covers one run of bins, and every
// bin lies under at most two triangles, so the inverse costs ~2 multiply-adds
// per bin. The FFT is the core's (dsp/fft.h, single precision): against the
// float64 reference the scaled features agree within 1e-4
// (tests/core/test_mel.cpp).
//
// Real time: every method but the constructor is noexcept and allocation-free
// (analyse() uses the object's scratch, so one object must not analyse on two
// threads at once; the inverse is const and touches only its output).
#pragma once

#include <complex>
#include <cstddef>
#include <vector>

#include "timbrel/dsp/fft.h"
#include "timbrel/realtime.h"

namespace timbrel::dsp {

class MelSpectrogram {
 public:
  static constexpr int kSampleRate = 22050, kWindow = 2048, kHop = 256;
  static constexpr int kBins = kWindow / 2 + 1;  // 1025
  static constexpr int kFrames = 43, kMelBins = 256;
  static constexpr double kFmin = 20.0, kFmax = 11025.0;
  static constexpr double kPowerFloor = 1e-10;
  // |X| -> the 2 / sum(w) scale of dsp::PhaseReconstruction (periodic Hann:
  // sum(w) = window / 2).
  static constexpr float kPhaseScale = 2.0f / (kWindow / 2);

  MelSpectrogram();

  // Band levels in dB, [frames, kMelBins] time-major, of a note's first
  // `frames` frames (frame m centred on note[m * kHop]; n samples, any n >= 0).
  void analyse_db(const float* note, std::size_t n, float* db,
                  int frames = kFrames) noexcept TIMBREL_REALTIME;
  // The same scaled to [-1, 1] with the model's range.
  void analyse_scaled(const float* note, std::size_t n, float db_min, float db_max, float* scaled,
                      int frames = kFrames) noexcept TIMBREL_REALTIME;
  // One frame: kBins powers -> kMelBins band levels in dB.
  void band_db(const float* power, float* db) const noexcept TIMBREL_REALTIME;

  // Magnitude factors [kBins] that lay a frame's power onto the harmonics of f0_hz
  // (timbrel.mel.harmonic_weights, square-rooted): 256 bands carry a note's envelope,
  // not where its partials lie. A comb of Gaussian peaks (kHarmonicWidth bins) at
  // h f0 over a floor kHarmonicFloor, divided by its mean so that the power over a
  // few harmonics is kept; all ones when f0 gives fewer than kHarmonicMinSpacing
  // bins per harmonic (f0 < 43 Hz) or is not finite. The floor: timbrel/mel.py.
  static constexpr double kHarmonicWidth = 1.0, kHarmonicFloor = 0.05;
  static constexpr double kHarmonicMinSpacing = 4.0;
  static void harmonic_gains(double f0_hz, float* gains) noexcept TIMBREL_REALTIME;
  static float scale(float db, float db_min, float db_max) noexcept TIMBREL_REALTIME;
  static float unscale(float x, float db_min, float db_max) noexcept TIMBREL_REALTIME;

  // One frame of the inverse: kMelBins scaled values -> kBins magnitudes |X_k|
  // times `gain` (kPhaseScale for phase reconstruction). Non-finite inputs
  // count as -1 (the floor).
  void magnitudes(const float* scaled, float db_min, float db_max, float* magnitude,
                  float gain = 1.0f) const noexcept TIMBREL_REALTIME;
  // The same from band powers P_b (kMelBins values >= 0).
  void magnitudes_from_power(const float* band_power, float* magnitude,
                             float gain = 1.0f) const noexcept TIMBREL_REALTIME;

  // The filterbank: band b's weights cover bins [first_bin(b), first_bin(b) +
  // bin_count(b)) (bin_count 0: the band falls between two bins).
  int first_bin(int band) const { return first_[std::size_t(band)]; }
  int bin_count(int band) const { return count_[std::size_t(band)]; }
  const float* band_weights(int band) const { return weights_.data() + offset_[std::size_t(band)]; }
  // W[band, bin] (0 off the band's run).
  float weight(int band, int bin) const;
  // S_b = sum_k W[b, k] (0 for a band between two bins).
  double weight_sum(int band) const { return sums_[std::size_t(band)]; }
  // Hz of mel edge e (0 .. kMelBins + 1).
  double edge_hz(int edge) const { return edges_[std::size_t(edge)]; }

  static double hz_to_mel(double hz);
  static double mel_to_hz(double mel);

 private:
  RealFft fft_;
  std::vector<float> window_;
  std::vector<double> edges_;
  std::vector<int> first_, count_;
  std::vector<std::size_t> offset_;
  std::vector<float> weights_;
  std::vector<double> sums_;        // S_b
  std::vector<float> inverse_sum_;  // 1 / S_b (0 where S_b is 0)
  // analyse() scratch
  std::vector<float> frame_;
  std::vector<std::complex<float>> spectrum_;
  std::vector<float> power_;
};

}  // namespace timbrel::dsp
