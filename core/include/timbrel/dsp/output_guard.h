// The last stage of every engine's output (VoiceTransfer, DrawPlayer,
// MidiPlayer, render_song, the CLI's offline renders): whatever a model does,
// what reaches the speakers or a file is finite and inside [-1, 1].
//
//   x -> non-finite samples replaced by 0 (counted)
//     -> watch: non-finite or above +12 dBFS (absurd_level) for longer than
//        absurd_s (100 ms) in a row -> muted (silence) until reset()
//     -> true-peak limiter, ceiling -1 dBTP (0.891)
//     -> clamp to [-1, 1] (a last resort the limiter leaves nothing to)
//
// The limiter, per sample:
//   peak estimate: the larger of |x[n]| and six inter-sample values, the
//     4-point cubic (Lagrange) interpolants at 1/4, 1/2 and 3/4 of the last
//     two sample intervals (x[n-3..n]): a 4x-oversampled estimate of the true
//     peak (ITU-R BS.1770 style), measured in the tests to under-read a sine's
//     true peak by at most 0.3 dB up to a quarter of the sample rate.
//   attack: instantaneous (no lookahead: the engines' stated latencies are
//     unchanged); the gain drops to ceiling / peak at the sample that needs it.
//   hold: 20 ms at the lowest gain (no ripple on tones down to 25 Hz).
//   release: exponential back towards 0 dB, time constant 100 ms.
// Material whose estimated true peak stays at or under the ceiling passes
// bit for bit (gain exactly 1): normal levels are never pumped. Only overs
// are reduced, and the gain recovers within half a second of the last one.
//
// Real-time rules: nothing allocates; process() never allocates, locks,
// throws or logs. One guard per stream (it keeps three samples of history).
#pragma once

#include <cstdint>

#include "timbrel/realtime.h"

namespace timbrel::dsp {

struct OutputGuardConfig {
  double sample_rate = 48000.0;
  float ceiling = 0.891251f;      // -1 dBTP
  double hold_s = 0.020;          // the gain holds this long after an over
  double release_s = 0.100;       // then recovers with this time constant
  float absurd_level = 3.98107f;  // +12 dBFS: no sane model output gets there
  double absurd_s = 0.100;        // non-finite or absurd this long in a row: muted
  bool limit = true;              // false: only sanitise and watch (a pre-mix model check)
  bool mute = true;               // false: never mute (only sanitise and limit)
};

enum class GuardState : int {
  kClean = 0,     // nothing changed since reset()
  kLimiting = 1,  // overs were reduced (or non-finite samples replaced)
  kMuted = 2,     // the input stayed non-finite or absurd: silence until reset()
};

class OutputGuard {
 public:
  explicit OutputGuard(const OutputGuardConfig& config = {}) noexcept;
  // The defaults at another rate.
  explicit OutputGuard(double sample_rate) noexcept : OutputGuard(with_rate(sample_rate)) {}

  // In place, any n >= 0.
  void process(float* samples, int n) noexcept TIMBREL_REALTIME;
  // A new stream or a new model: unmuted, gain 0 dB, history and counters cleared.
  void reset() noexcept TIMBREL_REALTIME;

  GuardState state() const { return state_; }
  bool muted() const { return state_ == GuardState::kMuted; }
  // Why it muted: "non-finite" or "above +12 dBFS" (or "" when not muted).
  const char* mute_reason() const { return muted() ? reason_ : ""; }
  // Current gain and the deepest reduction since reset(), in dB (<= 0).
  float gain_db() const;
  float min_gain_db() const;
  // Since reset(): samples replaced for being non-finite, samples whose gain
  // was below 1, and the largest finite |x| seen before the guard.
  long nonfinite() const { return nonfinite_; }
  long limited() const { return limited_; }
  // Samples whose gain was more than 1 dB down: the audible part of limiting.
  long limited_1db() const { return limited_1db_; }
  float peak_in() const { return peak_in_; }
  const OutputGuardConfig& config() const { return config_; }

 private:
  static OutputGuardConfig with_rate(double rate) noexcept {
    OutputGuardConfig c;
    c.sample_rate = rate;
    return c;
  }
  OutputGuardConfig config_;
  int hold_samples_;
  float release_coef_;
  long absurd_limit_;
  int gap_samples_;  // a run of absurd samples goes on through gaps this short
  float history_[3] = {0.0f, 0.0f, 0.0f};  // x[n-3], x[n-2], x[n-1]
  float gain_ = 1.0f;
  float min_gain_ = 1.0f;
  int hold_left_ = 0;
  long absurd_run_ = 0;
  int gap_left_ = 0;
  GuardState state_ = GuardState::kClean;
  const char* reason_ = "";
  long nonfinite_ = 0;
  long limited_ = 0;
  long limited_1db_ = 0;
  float peak_in_ = 0.0f;
};

// An offline render through a fresh guard at `sample_rate`: the same rule as
// the live engines. Returns false (and leaves the samples silent) when the
// guard muted: the model's output was not sound.
struct GuardReport {
  bool muted = false;
  const char* mute_reason = "";
  long nonfinite = 0;
  long limited = 0;
  long limited_1db = 0;
  float peak_in = 0.0f;
  float min_gain_db = 0.0f;
};
GuardReport guard_offline(float* samples, long n, double sample_rate) noexcept;

}  // namespace timbrel::dsp
