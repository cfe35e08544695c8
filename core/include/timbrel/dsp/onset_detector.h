// Streaming onset detector for percussive input (the Grains panel's beat-box):
// spectral flux of log-compressed magnitudes, adaptive threshold, peak picking
// one hop late, and the onset placed on the sample by the signal's energy.
//
// Per hop (128 samples, 5.8 ms at 22050 Hz), over the last 512 samples:
//   frame   Hann (periodic) x the samples, |rfft| / 256 (a sine of amplitude A
//           reads A in its bin), compressed: L[k] = ln(1 + 1000 |X[k]| / 256)
//   flux    f_t = mean over bins of max(0, L_t[k] - L_{t-1}[k]) (new energy only)
//   peak    f_{t-1} is an onset when it is the largest of f_{t-3..t}, exceeds
//           threshold + ratio x the mean flux of the 8 hops before it, the frame
//           is louder than floor_db (RMS, dBFS), and the last onset lies at
//           least min_interval_s before it.
//   sample  within that frame's 512 samples, the 16-sample block whose energy
//           rises most over the mean of the 4 blocks before it (ratio, floored
//           at the level floor): its first sample is the onset.
// So an onset is reported 1-2 hops after the frame that holds it, at most
// 640 samples (29 ms) after the onset sample itself.
//
// Real time: process() and reset() never allocate, lock, throw or log.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "timbrel/dsp/fft.h"
#include "timbrel/realtime.h"

namespace timbrel::dsp {

struct OnsetDetectorConfig {
  double sample_rate = 22050.0;
  float threshold = 0.05f;       // flux above the local mean (log units per bin)
  float ratio = 1.5f;            // ... and above this many times that mean
  float floor_db = -50.0f;       // frames quieter than this hold no onset
  double min_interval_s = 0.05;  // onsets closer than this are one onset
};

class OnsetDetector {
 public:
  static constexpr int kFrame = 512, kHop = 128, kBlock = 16;

  explicit OnsetDetector(const OnsetDetectorConfig& config = {});
  ~OnsetDetector();
  OnsetDetector(const OnsetDetector&) = delete;
  OnsetDetector& operator=(const OnsetDetector&) = delete;

  // Feeds n samples. Writes the sample index (counted from the first sample
  // fed after construction or reset()) of each onset found to onsets, up to
  // capacity of them (more are dropped and counted), and returns how many.
  int process(const float* samples, int n, std::int64_t* onsets,
              int capacity) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;

  // Samples fed since reset(); onsets found; onsets dropped for lack of capacity.
  std::int64_t samples() const { return received_; }
  long onsets() const { return found_; }
  long dropped() const { return dropped_; }
  const OnsetDetectorConfig& config() const { return config_; }
  // The flux of the last hop (for meters and tuning).
  float last_flux() const { return flux_[0]; }

 private:
  void analyse_hop() noexcept TIMBREL_REALTIME;
  // Onset sample of the frame that ended at absolute sample `end`.
  std::int64_t place(std::int64_t end) const noexcept TIMBREL_REALTIME;

  OnsetDetectorConfig config_;
  RealFft fft_;
  std::vector<float> window_, frame_, level_, previous_level_;
  std::vector<std::complex<float>> spectrum_;
  static constexpr int kHistory = 1024;  // samples kept, a power of 2
  std::vector<float> history_;           // ring, slot = sample index mod kHistory
  std::int64_t received_ = 0;
  int since_hop_ = 0;
  long hops_ = 0;
  float flux_[4] = {0, 0, 0, 0};  // f_t, f_{t-1}, f_{t-2}, f_{t-3}
  float rms_[2] = {0, 0};         // frame RMS of t and t-1
  float mean_ring_[8] = {};       // flux of the hops before t-1
  int mean_at_ = 0;
  std::int64_t last_onset_ = -1;
  std::int64_t min_interval_ = 0;
  float floor_rms_ = 0.0f;
  std::int64_t* out_ = nullptr;
  int out_count_ = 0, out_capacity_ = 0;
  long found_ = 0, dropped_ = 0;
};

}  // namespace timbrel::dsp
