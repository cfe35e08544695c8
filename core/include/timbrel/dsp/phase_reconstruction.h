// Phase reconstruction: STFT magnitudes -> samples, for the spectral models
// (the cross-modal VAE decodes constant-Q magnitudes, which
// ConstantQ::stft_magnitude_from_cqt spreads back onto the STFT bins).
//
// Magnitudes are frames of window/2 + 1 values in the 2 / sum(w) scale
// (|X| * 2 / sum(w), periodic Hann window), frame m analysing input samples
// [m hop - (window - hop), m hop + hop) as dsp::stft does. Every function here
// returns samples in dsp::istft's alignment: out[t] = in[t - (window - hop)],
// i.e. frame m covers out[m hop, m hop + window). The offline functions return
// (frames - 1) hop + window samples, every sample a frame touches.
//
// - RtpghiSynth: real-time phase-gradient heuristic integration (Prusa &
//   Holighaus 2017; Prusa & Sondergaard 2016), one frame in, one hop out, no
//   iterations. The phase's time derivative (instantaneous frequency) comes from
//   the frequency derivative of the log-magnitude and the frequency derivative
//   (group delay) from its time derivative, as they are related exactly for a
//   Gaussian window; the Hann window is treated as the Gaussian
//   exp(-pi t^2 / lambda) with lambda = 0.25645 window^2. Bins are integrated
//   from the largest magnitude down (a heap), from the previous frame in time
//   and along the current frame in frequency. Bins under tolerance * the
//   frame's largest magnitude get a random phase.
// - griffin_lim: offline Griffin-Lim (30 iterations as in the cross-modal VAE
//   paper), started from the RTPGHI phase, with the fast Griffin-Lim momentum
//   (Perraudin, Balazs & Sondergaard 2013).
// Measured (`PYTHONPATH=scripts python3 -m timbrel.eval.phase_eval`, mean
// spectral convergence on 6 test notes / 3 test phrases of the corpora):
// RTPGHI 0.026 / 0.042; Griffin-Lim, 30 iterations, from zero phase 0.16 / 0.13,
// fast from zero 0.085 / 0.039, from RTPGHI 0.009 / 0.011, fast from RTPGHI (the
// default) 0.0065 / 0.0074.
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "timbrel/dsp/stft.h"
#include "timbrel/realtime.h"

namespace timbrel::dsp {

using MagnitudeFrames = std::vector<std::vector<float>>;

struct RtpghiOptions {
  // One frame of look-ahead gives the centred time derivative of the
  // log-magnitude (the group delay) instead of a backward difference, for one
  // hop (11.6 ms) of extra latency. On by default: without it the spectral
  // convergence rises from 0.026 to 0.041 on notes and 0.042 to 0.078 on
  // phrases (0.054 -> 0.106 on a violin staccato phrase).
  bool lookahead = true;
  // Bins under tolerance * (the frame's largest magnitude) get a random phase.
  double tolerance = 1e-5;
  std::uint32_t seed = 0x5eed;  // of the random phases; reset() restarts it
};

// The phase of each frame, streaming: what RtpghiSynth and griffin_lim's
// start use. All buffers are allocated in the constructor.
class RtpghiPhase {
 public:
  RtpghiPhase(const StftConfig& config, const RtpghiOptions& options);

  // Real-time safe. magnitude: window/2 + 1 values (negative or non-finite
  // values count as 0). Returns true when a frame's phase is ready: the frame
  // just pushed, or with look-ahead the one before it (never on the first push).
  bool push(const float* magnitude) noexcept TIMBREL_REALTIME;
  // The ready frame, window/2 + 1 values each; phases wrapped to [-pi, pi], and
  // 0 or pi at DC and Nyquist (bins that must be real).
  const double* phase() const { return phase_.data(); }
  const float* magnitude() const { return magnitude_[slot(target_)].data(); }
  void reset() noexcept TIMBREL_REALTIME;

  int bins() const { return bins_; }
  int frames_of_delay() const { return options_.lookahead ? 1 : 0; }

 private:
  struct HeapEntry {
    float magnitude;
    int id;  // bin, + bins_ for the previous frame's bins
    bool operator<(const HeapEntry& other) const { return magnitude < other.magnitude; }
  };
  size_t slot(long frame) const { return size_t(((frame % 3) + 3) % 3); }
  void integrate() noexcept TIMBREL_REALTIME;
  void heap_push(float magnitude, int id) noexcept TIMBREL_REALTIME;
  HeapEntry heap_pop() noexcept TIMBREL_REALTIME;
  double random_phase() noexcept TIMBREL_REALTIME;

  StftConfig config_;
  RtpghiOptions options_;
  int bins_;
  double lambda_;
  std::vector<float> magnitude_[3];  // frames by slot(frame)
  std::vector<double> log_magnitude_[3];
  float frame_max_[3] = {0.0f, 0.0f, 0.0f};
  long pushed_ = 0;   // frames pushed since reset
  long target_ = -1;  // the frame being (or last) integrated
  std::vector<double> time_gradient_previous_, time_gradient_;
  std::vector<double> frequency_gradient_;
  std::vector<double> phase_previous_, phase_;
  std::vector<unsigned char> significant_previous_, significant_, done_;
  std::vector<HeapEntry> heap_;  // capacity 2 bins, heap_size_ used
  size_t heap_size_ = 0;
  std::vector<int> by_magnitude_;  // fallback order when the heap runs dry
  std::uint32_t random_state_;
};

class RtpghiSynth {
 public:
  explicit RtpghiSynth(const StftConfig& config, const RtpghiOptions& options = {});

  // Real-time safe. magnitude: window/2 + 1 values (2 / sum(w) scale);
  // writes config.hop samples. Silence until look-ahead is filled.
  void push_magnitude(const float* magnitude, float* hop_out) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;
  // Output sample s reproduces analysis-time sample s - latency_samples():
  // window - hop (the overlap-add's, as dsp::istft), plus hop with look-ahead.
  // A frame starts to sound on the call that emits it (Hann fade-in) and its
  // centre comes window / 2 samples later.
  int latency_samples() const;
  const StftConfig& config() const { return config_; }

 private:
  StftConfig config_;
  RtpghiPhase phase_;
  OverlapAdd overlap_add_;
  std::vector<std::complex<float>> spectrum_;
  float synthesis_scale_;  // sum(w) / 2: undoes the magnitude scale
};

// Whole-buffer RTPGHI through RtpghiSynth, flushed so that every frame is
// heard: (frames - 1) hop + window samples (dsp::istft alignment).
std::vector<float> rtpghi(const MagnitudeFrames& magnitude, const StftConfig& config,
                          const RtpghiOptions& options = {});

enum class PhaseInit { zero, random, rtpghi };

// progress(done, total) after every iteration; return false to cancel.
using ProgressCallback = std::function<bool(int done, int total)>;

struct GriffinLimOptions {
  int iterations = 30;
  // RTPGHI starts far closer than zero or random phase (spectral convergence
  // 0.03-0.06 before any iteration against ~0.97; 30 iterations from it beat
  // 30 from zero phase by 10-20x on the corpora).
  PhaseInit init = PhaseInit::rtpghi;
  // Fast Griffin-Lim's alpha; 0 gives the classic algorithm.
  double momentum = 0.99;
  RtpghiOptions rtpghi;  // for init == rtpghi; seed also seeds init == random
  ProgressCallback progress;
};

// Thrown by griffin_lim when progress returns false.
class Cancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws std::invalid_argument for frames of the wrong size, negative or
// non-finite magnitudes or negative iterations; Cancelled when cancelled.
// Returns (frames - 1) hop + window samples (empty for no frames).
std::vector<float> griffin_lim(const MagnitudeFrames& magnitude, const StftConfig& config,
                               int iterations = 30, const ProgressCallback& progress = {});
std::vector<float> griffin_lim(const MagnitudeFrames& magnitude, const StftConfig& config,
                               const GriffinLimOptions& options);

// Griffin-Lim in segments, for a render heard while it is made: frames are
// pushed one by one (each gets its RTPGHI starting phase as it comes); every
// segment_frames frames, that segment and margin_frames on either side are
// iterated on their own (the same options as griffin_lim), and the samples of
// the segment's core are emitted, crossfaded over crossfade_samples with the
// segment before. emit(samples, count) receives every sample once, in order,
// in dsp::istft's alignment: (frames - 1) hop + window in all once finish()
// returns. The segments overlap by their margins, so the iterations cost
// (segment + 2 margin) / segment times griffin_lim's; the spectral convergence
// stays within a few % of griffin_lim's on the whole buffer (test). Offline:
// push() and finish() allocate.
class StreamingGriffinLim {
 public:
  struct Options {
    GriffinLimOptions gl;      // init must be PhaseInit::rtpghi; progress is per segment
    int segment_frames = 128;  // 1.5 s at hop 256, 22050 Hz
    int margin_frames = 16;    // >= window / hop + crossfade / hop
    int crossfade_samples = 512;
  };
  using Emit = std::function<void(const float* samples, size_t count)>;

  StreamingGriffinLim(const StftConfig& config, const Options& options, Emit emit);
  void push(const float* magnitude);  // window/2 + 1 values; throws on bad values
  void finish();                      // emits all that is left
  size_t emitted() const { return emitted_; }

 private:
  using Spectrum = std::vector<std::complex<float>>;
  void start_phase(const float* pushed);
  void run_segment(bool last_allowed);

  StftConfig config_;
  Options options_;
  Emit emit_;
  float scale_;
  RtpghiPhase rtpghi_;
  std::vector<float> silence_;
  MagnitudeFrames magnitude_;
  std::vector<Spectrum> start_;  // starting spectra of the frames whose phase is ready
  std::vector<float> tail_;      // the last segment's samples past what it emitted
  size_t next_segment_ = 0;
  size_t emitted_ = 0;
  bool emitted_all_ = false;
  bool finished_ = false;
};

// || |STFT(audio)| - M ||_F / ||M||_F with |STFT| in the 2 / sum(w) scale and
// audio in dsp::istft's alignment (frame m = audio[m hop, m hop + window),
// zeros past the end), as the functions above return it. For a signal x in
// analysis time, pass window - hop zeros followed by x. Throws
// std::invalid_argument for frames of the wrong size.
double spectral_convergence(const MagnitudeFrames& target_magnitude,
                            const std::vector<float>& audio, const StftConfig& config);

}  // namespace timbrel::dsp
