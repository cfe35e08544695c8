// Fundamental frequency by YIN (de Cheveigne & Kawahara 2002), steps 1-5.
//
// Convention shared with scripts/timbrel/dsp_reference.py:
//   tau_min = max(2, floor(sr / f0_max)), tau_max = ceil(sr / f0_min), W = N - tau_max
//   d(tau)  = sum_{j=0}^{W-1} (x[j] - x[j + tau])^2,  tau = 1..tau_max  (raw frame)
//   d'(tau) = d(tau) tau / sum_{j=1}^{tau} d(j)   (d' = 1 where the sum is 0)
//   tau*    = first tau in [tau_min, tau_max] with d'(tau) < threshold, then
//             followed downhill while d'(tau + 1) < d'(tau); voiced = true.
//             If no tau is under the threshold: argmin of d' there, voiced = false.
//   refined by a parabola through d'(tau*-1), d'(tau*), d'(tau*+1) when both
//   neighbours lie in [1, tau_max] and the parabola opens upwards (offset
//   clamped to [-1, 1]);
//   f0 = sr / tau_refined, confidence = clamp(1 - d'(tau*), 0, 1).
//   A frame with mean_n x[n]^2 < 1e-10 (below -100 dBFS) is silent:
//   f0 = 0, confidence = 0, voiced = false.
// The sum runs over the frame's first W + tau samples, so the estimate
// describes the frame's start. estimate_at_end runs the same steps on the
// frame reversed (the pitch of a periodic signal is the same backwards): the
// estimate then describes the frame's last W + tau samples, where a streaming
// engine's newest output lies (the voice engine: see PitchTracker).
#pragma once

#include <vector>

#include "timbrel/realtime.h"

namespace timbrel::dsp {

struct PitchEstimate {
  float f0_hz = 0.0f;
  float confidence = 0.0f;
  bool voiced = false;
};

struct YinConfig {
  double sample_rate = 22050.0;
  int frame_size = 1024;  // N; must exceed tau_max
  double f0_min_hz = 50.0;
  double f0_max_hz = 2000.0;
  double threshold = 0.15;
  bool estimate_at_end = false;  // YIN on the reversed frame (above)
};

class Yin {
 public:
  explicit Yin(const YinConfig& config);  // allocates the lag buffers

  // Real-time safe: frame holds config.frame_size samples.
  PitchEstimate estimate(const float* frame) noexcept TIMBREL_REALTIME;

  const YinConfig& config() const { return config_; }
  int tau_min() const { return tau_min_; }
  int tau_max() const { return tau_max_; }

 private:
  YinConfig config_;
  int tau_min_;
  int tau_max_;
  std::vector<double> difference_;  // d(tau), then d'(tau)
  std::vector<float> reversed_;     // the frame backwards, for estimate_at_end
};

// What the voice engine does with YIN's estimates, hop by hop: holds f0 leaps
// for one hop and keeps a voiced run going where YIN's periodicity dips.
//
// Leaps. YIN's octave errors come one frame at a time (e.g. 65 Hz for one hop
// while a voice glides from 262 to 330 Hz); heard as they are, they make a
// pulse train of four times as many harmonics for a hop: a click. A voiced f0
// more than jump_semitones from the last voiced one is held for one hop (the
// last f0 is reported, voiced); if the next hop confirms the leap (within
// confirm_semitones of it), it is taken. A real leap is thus heard one hop
// (11.6 ms) late; everything else passes untouched.
//
// Voicing hysteresis. YIN calls a frame voiced when its periodicity (1 - d')
// exceeds 1 - threshold (0.85). A sung glide or a wide vibrato moves the pitch
// within the 1024-sample window and reads 0.5-0.8 (most frames of an espeak-ng
// siren), and every instrument dropped to its noise-only sound there, 20 dB
// quieter. A run that YIN started stays voiced through a hop whose best f0, or
// 2 or 3 times it (in noise the best lag often spans 2 or 3 periods: up to
// max_multiple), lies within continue_semitones of the last voiced f0 with
// periodicity >= continue_confidence (that f0 is taken), and through up to
// bridge_hops other hops with an estimate (the last f0 is held: an octave slip
// in a glide, or the last hops of a decaying note). A silent hop (no estimate) or more
// failing hops end the run; a new run needs YIN's own threshold again.
class PitchHold {
 public:
  struct Config {
    double jump_semitones = 7.0;
    double confirm_semitones = 1.0;
    double continue_semitones = 1.0;
    float continue_confidence = 0.5f;
    int bridge_hops = 2;
    int max_multiple = 3;
  };
  PitchHold() = default;
  explicit PitchHold(const Config& config) : config_(config) {}
  PitchEstimate next(const PitchEstimate& raw) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;
  bool holding() const { return pending_; }

 private:
  Config config_;
  bool have_last_ = false;  // the previous hop was reported voiced
  float last_f0_ = 0.0f;    // the last f0 taken (not held)
  bool pending_ = false;
  float pending_f0_ = 0.0f;
  int bridged_ = 0;  // consecutive hops bridged with the last f0
};

// The voice engine's pitch: YIN at the end of each analysis frame, through a
// PitchHold. The contract of family vq_timbre (models/README.md); the numpy
// twin is timbrel.dsp_reference.PitchTracker.
class PitchTracker {
 public:
  // config.estimate_at_end is set here.
  explicit PitchTracker(YinConfig config);
  PitchEstimate next(const float* frame) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME { hold_.reset(); }
  const Yin& yin() const { return yin_; }

 private:
  Yin yin_;
  PitchHold hold_;
};

}  // namespace timbrel::dsp
