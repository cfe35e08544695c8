#include "timbrel/dsp/phase_reconstruction.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "timbrel/dsp/fft.h"
#include "timbrel/dsp/window.h"

namespace timbrel::dsp {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kTwoPi = 2.0 * kPi;
// lambda of the Gaussian exp(-pi t^2 / lambda) that best matches a Hann
// window of length L (Prusa & Holighaus 2017, ltfat's pghi).
constexpr double kHannLambdaPerLength2 = 0.25645;

const StftConfig& checked(const StftConfig& config) {
  if (const char* problem = validate_stft_config(config); problem[0] != '\0')
    throw std::invalid_argument(problem);
  return config;
}

float sanitized(float v) { return std::isfinite(v) && v > 0.0f ? v : 0.0f; }

double window_sum(int size) {
  double sum = 0.0;
  for (float w : periodic_hann(size)) sum += w;
  return sum;
}

void check_magnitude(const char* who, const MagnitudeFrames& magnitude, const StftConfig& config,
                     bool check_values) {
  const size_t bins = size_t(config.window / 2 + 1);
  for (size_t m = 0; m < magnitude.size(); ++m) {
    if (magnitude[m].size() != bins)
      throw std::invalid_argument(std::string(who) + ": magnitude frame " + std::to_string(m) +
                                  " has " + std::to_string(magnitude[m].size()) +
                                  " bins, expected window/2 + 1 = " + std::to_string(bins));
    if (!check_values) continue;
    for (size_t k = 0; k < bins; ++k) {
      const float v = magnitude[m][k];
      if (!std::isfinite(v) || v < 0.0f)
        throw std::invalid_argument(std::string(who) + ": magnitude frame " + std::to_string(m) +
                                    " bin " + std::to_string(k) + " is " + std::to_string(v) +
                                    " (must be finite and >= 0)");
    }
  }
}

// Samples every frame touches, in istft alignment.
size_t covered_length(size_t frames, const StftConfig& config) {
  return frames == 0 ? 0 : (frames - 1) * size_t(config.hop) + size_t(config.window);
}

}  // namespace

// --- RtpghiPhase -------------------------------------------------------------

RtpghiPhase::RtpghiPhase(const StftConfig& config, const RtpghiOptions& options)
    : config_(checked(config)),
      options_(options),
      bins_(config.window / 2 + 1),
      lambda_(kHannLambdaPerLength2 * double(config.window) * double(config.window)),
      time_gradient_previous_(size_t(bins_)),
      time_gradient_(size_t(bins_)),
      frequency_gradient_(size_t(bins_)),
      phase_previous_(size_t(bins_)),
      phase_(size_t(bins_)),
      significant_previous_(size_t(bins_)),
      significant_(size_t(bins_)),
      done_(size_t(bins_)),
      heap_(size_t(2 * bins_)),
      by_magnitude_(size_t(bins_)),
      random_state_(0) {
  if (!(options.tolerance > 0.0 && options.tolerance < 1.0))
    throw std::invalid_argument("RTPGHI tolerance must be between 0 and 1");
  for (int s = 0; s < 3; ++s) {
    magnitude_[s].resize(size_t(bins_));
    log_magnitude_[s].resize(size_t(bins_));
  }
  reset();
}

void RtpghiPhase::reset() noexcept {
  const double silent_log = std::log(1e-30);
  for (int s = 0; s < 3; ++s) {
    std::fill(magnitude_[s].begin(), magnitude_[s].end(), 0.0f);
    std::fill(log_magnitude_[s].begin(), log_magnitude_[s].end(), silent_log);
    frame_max_[s] = 0.0f;
  }
  pushed_ = 0;
  target_ = -1;
  std::fill(time_gradient_previous_.begin(), time_gradient_previous_.end(), 0.0);
  std::fill(phase_previous_.begin(), phase_previous_.end(), 0.0);
  std::fill(phase_.begin(), phase_.end(), 0.0);
  std::fill(significant_previous_.begin(), significant_previous_.end(), 0);
  heap_size_ = 0;
  random_state_ = options_.seed != 0 ? options_.seed : 1u;
}

double RtpghiPhase::random_phase() noexcept {
  // xorshift32: deterministic after reset(), no allocation.
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 17;
  random_state_ ^= random_state_ << 5;
  return kTwoPi * (double(random_state_) / 4294967296.0) - kPi;
}

void RtpghiPhase::heap_push(float magnitude, int id) noexcept {
  heap_[heap_size_++] = {magnitude, id};
  std::push_heap(heap_.begin(), heap_.begin() + long(heap_size_));
}

RtpghiPhase::HeapEntry RtpghiPhase::heap_pop() noexcept {
  std::pop_heap(heap_.begin(), heap_.begin() + long(heap_size_));
  return heap_[--heap_size_];
}

bool RtpghiPhase::push(const float* magnitude) noexcept {
  const size_t s = slot(pushed_);
  auto& mag = magnitude_[s];
  float peak = 0.0f;
  for (int k = 0; k < bins_; ++k) {
    mag[size_t(k)] = sanitized(magnitude[k]);
    peak = std::max(peak, mag[size_t(k)]);
  }
  frame_max_[s] = peak;
  // Clamped at tolerance * peak, so the quiet floor does not dominate the
  // log-magnitude derivatives (ltfat clamps at max - 11 nepers alike).
  const float floor = std::max(float(options_.tolerance) * peak, 1e-30f);
  for (int k = 0; k < bins_; ++k)
    log_magnitude_[s][size_t(k)] = std::log(double(std::max(mag[size_t(k)], floor)));
  ++pushed_;
  if (options_.lookahead && pushed_ == 1) return false;
  target_ = pushed_ - 1 - frames_of_delay();
  integrate();
  return true;
}

void RtpghiPhase::integrate() noexcept {
  const double hop = config_.hop;
  const double size = config_.window;
  const auto& mag = magnitude_[slot(target_)];
  const auto& previous_mag = magnitude_[slot(target_ - 1)];
  const auto& log_mag = log_magnitude_[slot(target_)];
  const auto& log_before = log_magnitude_[slot(target_ - 1)];
  const auto& log_after = log_magnitude_[slot(target_ + 1)];
  const int last = bins_ - 1;

  for (int k = 0; k < bins_; ++k) {
    // Phase advance per hop: the bin's frequency plus the deviation that the
    // log-magnitude's slope across frequency implies (zero at DC and Nyquist,
    // where the spectrum is symmetric).
    const double slope_k =
        (k == 0 || k == last) ? 0.0 : 0.5 * (log_mag[size_t(k + 1)] - log_mag[size_t(k - 1)]);
    time_gradient_[size_t(k)] = hop * (size / lambda_ * slope_k + kTwoPi * k / size);
    // Phase advance per bin: minus the energy's position in the frame. The
    // frame starts (not centres) at its time origin, hence the -pi; the
    // position is kept inside the window, since onsets from silence make the
    // Gaussian relation blow up.
    const double slope_t = options_.lookahead ? 0.5 * (log_after[size_t(k)] - log_before[size_t(k)])
                                              : log_mag[size_t(k)] - log_before[size_t(k)];
    frequency_gradient_[size_t(k)] = std::clamp(-lambda_ / (hop * size) * slope_t, -kPi, kPi) - kPi;
  }

  const float threshold = float(options_.tolerance) * frame_max_[slot(target_)];
  int remaining = 0;
  for (int k = 0; k < bins_; ++k) {
    const bool significant = mag[size_t(k)] > threshold && mag[size_t(k)] > 0.0f;
    significant_[size_t(k)] = significant;
    done_[size_t(k)] = 0;
    remaining += significant;
  }
  heap_size_ = 0;
  for (int k = 0; k < bins_; ++k)
    if (significant_previous_[size_t(k)]) heap_push(previous_mag[size_t(k)], k + bins_);

  auto from_time = [&](int k) {
    phase_[size_t(k)] = phase_previous_[size_t(k)] +
                        0.5 * (time_gradient_previous_[size_t(k)] + time_gradient_[size_t(k)]);
    done_[size_t(k)] = 1;
    --remaining;
    heap_push(mag[size_t(k)], k);
  };
  size_t sorted = 0, cursor = 0;  // by_magnitude_ is sorted on first need only
  while (remaining > 0) {
    if (heap_size_ == 0) {
      // A component with nothing to grow from (an onset, or an island between
      // quiet bins): start it from the previous frame's phase at its largest bin.
      if (sorted == 0) {
        for (int k = 0; k < bins_; ++k)
          if (significant_[size_t(k)]) by_magnitude_[sorted++] = k;
        std::sort(by_magnitude_.begin(), by_magnitude_.begin() + long(sorted),
                  [&](int a, int b) { return mag[size_t(a)] > mag[size_t(b)]; });
      }
      while (done_[size_t(by_magnitude_[cursor])]) ++cursor;
      from_time(by_magnitude_[cursor]);
      continue;
    }
    const HeapEntry top = heap_pop();
    if (top.id >= bins_) {
      const int k = top.id - bins_;
      if (significant_[size_t(k)] && !done_[size_t(k)]) from_time(k);
      continue;
    }
    const int k = top.id;
    for (int j : {k - 1, k + 1}) {
      if (j < 0 || j > last || !significant_[size_t(j)] || done_[size_t(j)]) continue;
      const double step = 0.5 * (frequency_gradient_[size_t(k)] + frequency_gradient_[size_t(j)]);
      phase_[size_t(j)] = phase_[size_t(k)] + (j > k ? step : -step);
      done_[size_t(j)] = 1;
      --remaining;
      heap_push(mag[size_t(j)], j);
    }
  }
  for (int k = 0; k < bins_; ++k) {
    double& p = phase_[size_t(k)];
    if (!significant_[size_t(k)]) p = random_phase();
    p = std::remainder(p, kTwoPi);
  }
  for (int k : {0, last}) phase_[size_t(k)] = std::cos(phase_[size_t(k)]) >= 0.0 ? 0.0 : kPi;

  std::copy(phase_.begin(), phase_.end(), phase_previous_.begin());
  time_gradient_.swap(time_gradient_previous_);
  significant_.swap(significant_previous_);
}

// --- RtpghiSynth -------------------------------------------------------------

RtpghiSynth::RtpghiSynth(const StftConfig& config, const RtpghiOptions& options)
    : config_(checked(config)),
      phase_(config, options),
      overlap_add_(config),
      spectrum_(size_t(config.window / 2 + 1)),
      synthesis_scale_(float(window_sum(config.window) / 2.0)) {}

void RtpghiSynth::reset() noexcept {
  phase_.reset();
  overlap_add_.reset();
}

int RtpghiSynth::latency_samples() const {
  return config_.window - config_.hop + phase_.frames_of_delay() * config_.hop;
}

void RtpghiSynth::push_magnitude(const float* magnitude, float* hop_out) noexcept {
  if (phase_.push(magnitude)) {
    const float* mag = phase_.magnitude();
    const double* phase = phase_.phase();
    for (size_t k = 0; k < spectrum_.size(); ++k)
      spectrum_[k] = std::polar(mag[k] * synthesis_scale_, float(phase[k]));
  } else {
    std::fill(spectrum_.begin(), spectrum_.end(), std::complex<float>(0.0f, 0.0f));
  }
  overlap_add_.push_spectrum(spectrum_.data(), hop_out);
}

std::vector<float> rtpghi(const MagnitudeFrames& magnitude, const StftConfig& config,
                          const RtpghiOptions& options) {
  checked(config);
  check_magnitude("rtpghi", magnitude, config, true);
  RtpghiSynth synth(config, options);
  const size_t hop = size_t(config.hop);
  const size_t length = covered_length(magnitude.size(), config);
  const size_t skip = size_t(synth.latency_samples() - (config.window - config.hop));
  const size_t pushes = (length + skip + hop - 1) / hop;
  std::vector<float> stream(pushes * hop);
  const std::vector<float> silence(size_t(config.window / 2 + 1), 0.0f);
  for (size_t p = 0; p < pushes; ++p)
    synth.push_magnitude(p < magnitude.size() ? magnitude[p].data() : silence.data(),
                         stream.data() + p * hop);
  return std::vector<float>(stream.begin() + long(skip), stream.begin() + long(skip + length));
}

// --- Griffin-Lim -------------------------------------------------------------

namespace {

// Least-squares inverse STFT on the istft grid (frame m at m hop) and its
// analysis, with preallocated work buffers.
class ConsistencyProjection {
 public:
  ConsistencyProjection(const StftConfig& config, size_t frames)
      : config_(config),
        fft_(config.window),
        window_(periodic_hann(config.window)),
        frames_(frames),
        signal_(covered_length(frames, config)),
        inverse_norm_(signal_.size()),
        frame_(size_t(config.window)) {
    std::vector<double> norm(signal_.size(), 0.0);
    for (size_t m = 0; m < frames; ++m)
      for (size_t n = 0; n < window_.size(); ++n)
        norm[m * size_t(config.hop) + n] += double(window_[n]) * window_[n];
    // The exact per-sample norm, floored where few frames overlap (the first
    // and last window - hop samples): there it divides a window tail by its
    // square, and unfloored the output would spike where the spectrogram is
    // inconsistent.
    double steady = 0.0;
    for (double v : norm) steady = std::max(steady, v);
    for (size_t t = 0; t < norm.size(); ++t)
      inverse_norm_[t] = float(1.0 / std::max(norm[t], 0.5 * steady));
  }

  const std::vector<float>& synthesise(const std::vector<Spectrum>& spectra) {
    std::fill(signal_.begin(), signal_.end(), 0.0f);
    for (size_t m = 0; m < frames_; ++m) {
      fft_.inverse(spectra[m].data(), frame_.data());
      float* out = signal_.data() + m * size_t(config_.hop);
      for (size_t n = 0; n < frame_.size(); ++n) out[n] += frame_[n] * window_[n];
    }
    for (size_t t = 0; t < signal_.size(); ++t) signal_[t] *= inverse_norm_[t];
    return signal_;
  }

  void analyse(size_t m, std::complex<float>* spectrum) {
    const float* in = signal_.data() + m * size_t(config_.hop);
    for (size_t n = 0; n < frame_.size(); ++n) frame_[n] = in[n] * window_[n];
    fft_.forward(frame_.data(), spectrum);
  }

 private:
  StftConfig config_;
  RealFft fft_;
  std::vector<float> window_;
  size_t frames_;
  std::vector<float> signal_;
  std::vector<float> inverse_norm_;
  std::vector<float> frame_;
};

std::vector<Spectrum> initial_spectra(const MagnitudeFrames& magnitude, const StftConfig& config,
                                      const GriffinLimOptions& options, float scale) {
  const size_t bins = size_t(config.window / 2 + 1);
  std::vector<Spectrum> spectra(magnitude.size(), Spectrum(bins));
  if (options.init == PhaseInit::rtpghi) {
    RtpghiPhase phase(config, options.rtpghi);
    const std::vector<float> silence(bins, 0.0f);
    size_t ready = 0;
    for (size_t p = 0; ready < magnitude.size(); ++p) {
      if (!phase.push(p < magnitude.size() ? magnitude[p].data() : silence.data())) continue;
      for (size_t k = 0; k < bins; ++k)
        spectra[ready][k] = std::polar(magnitude[ready][k] * scale, float(phase.phase()[k]));
      ++ready;
    }
    return spectra;
  }
  std::uint32_t state = options.rtpghi.seed != 0 ? options.rtpghi.seed : 1u;
  for (size_t m = 0; m < magnitude.size(); ++m)
    for (size_t k = 0; k < bins; ++k) {
      float angle = 0.0f;
      if (options.init == PhaseInit::random && k > 0 && k + 1 < bins) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        angle = float(kTwoPi * (double(state) / 4294967296.0) - kPi);
      }
      spectra[m][k] = std::polar(magnitude[m][k] * scale, angle);
    }
  return spectra;
}

// The iterations of (fast) Griffin-Lim on frames [first, first + spectra.size())
// of `magnitude`, from `spectra` (their starting spectra, in the synthesis
// scale); returns the samples of those frames (istft alignment, from the
// first frame's start).
std::vector<float> iterate(const MagnitudeFrames& magnitude, size_t first,
                           std::vector<Spectrum> spectra, const StftConfig& config,
                           const GriffinLimOptions& options, float scale) {
  const size_t frames = spectra.size();
  const size_t bins = size_t(config.window / 2 + 1);
  const float alpha = float(options.momentum);
  // x_n = ISTFT(X_n); C_n = STFT(x_n); T_n = C_n + alpha (C_n - C_{n-1});
  // X_{n+1} = |M| T_n / |T_n| (Perraudin et al. 2013; alpha 0: Griffin & Lim).
  std::vector<Spectrum> previous(options.momentum > 0.0 ? frames : 0, Spectrum(bins));
  ConsistencyProjection projection(config, frames);
  Spectrum consistent(bins);
  for (int iteration = 0; iteration < options.iterations; ++iteration) {
    projection.synthesise(spectra);
    for (size_t m = 0; m < frames; ++m) {
      projection.analyse(m, consistent.data());
      const std::vector<float>& target_magnitude = magnitude[first + m];
      for (size_t k = 0; k < bins; ++k) {
        std::complex<float> target = consistent[k];
        if (alpha > 0.0f) {
          if (iteration > 0) target += alpha * (consistent[k] - previous[m][k]);
          previous[m][k] = consistent[k];
        }
        // sqrt(norm), not std::abs: hypot's overflow care costs a third of an iteration.
        const float power = std::norm(target);
        const float wanted = target_magnitude[k] * scale;
        spectra[m][k] =
            power > 0.0f ? target * (wanted / std::sqrt(power)) : std::complex<float>(wanted);
      }
    }
    if (options.progress && !options.progress(iteration + 1, options.iterations))
      throw Cancelled("griffin_lim: cancelled after " + std::to_string(iteration + 1) + " of " +
                      std::to_string(options.iterations) + " iterations");
  }
  return projection.synthesise(spectra);
}

void check_options(const char* what, const GriffinLimOptions& options) {
  if (options.iterations < 0)
    throw std::invalid_argument(std::string(what) + ": iterations must be >= 0, got " +
                                std::to_string(options.iterations));
  if (!(options.momentum >= 0.0 && options.momentum < 1.0))
    throw std::invalid_argument(std::string(what) + ": momentum must be in [0, 1)");
}

}  // namespace

std::vector<float> griffin_lim(const MagnitudeFrames& magnitude, const StftConfig& config,
                               int iterations, const ProgressCallback& progress) {
  GriffinLimOptions options;
  options.iterations = iterations;
  options.progress = progress;
  return griffin_lim(magnitude, config, options);
}

std::vector<float> griffin_lim(const MagnitudeFrames& magnitude, const StftConfig& config,
                               const GriffinLimOptions& options) {
  checked(config);
  check_magnitude("griffin_lim", magnitude, config, true);
  check_options("griffin_lim", options);
  if (magnitude.empty()) return {};
  const float scale = float(window_sum(config.window) / 2.0);
  return iterate(magnitude, 0, initial_spectra(magnitude, config, options, scale), config, options,
                 scale);
}

// --- Griffin-Lim in segments ---------------------------------------------------

StreamingGriffinLim::StreamingGriffinLim(const StftConfig& config, const Options& options,
                                         Emit emit)
    : config_(checked(config)),
      options_(options),
      emit_(std::move(emit)),
      scale_(float(window_sum(config.window) / 2.0)),
      rtpghi_(config, options.gl.rtpghi),
      silence_(size_t(config.window / 2 + 1), 0.0f) {
  check_options("StreamingGriffinLim", options.gl);
  // Full overlap-add support around a segment's core and its crossfade needs
  // window / hop frames, plus a few more for the iterations to settle.
  const int support =
      config.window / config.hop + (options.crossfade_samples + config.hop - 1) / config.hop;
  if (options.segment_frames < 1 || options.margin_frames < support ||
      options.crossfade_samples < 0 || options.crossfade_samples % 2 != 0 ||
      options.crossfade_samples > options.segment_frames * config.hop)
    throw std::invalid_argument(
        "StreamingGriffinLim: segments of >= 1 frame, a margin of >= " + std::to_string(support) +
        " frames and an even crossfade no longer than a segment");
  if (options.gl.init != PhaseInit::rtpghi)
    throw std::invalid_argument("StreamingGriffinLim: segments start from the RTPGHI phase");
}

void StreamingGriffinLim::push(const float* magnitude) {
  const size_t bins = silence_.size();
  for (size_t k = 0; k < bins; ++k)
    if (!(magnitude[k] >= 0.0f) || !std::isfinite(magnitude[k]))
      throw std::invalid_argument("StreamingGriffinLim: magnitudes must be finite and >= 0");
  magnitude_.emplace_back(magnitude, magnitude + bins);
  start_phase(magnitude);
  // A segment is done once its margin after it has its starting phase.
  const size_t a = next_segment_ * size_t(options_.segment_frames);
  if (start_.size() >= a + size_t(options_.segment_frames + options_.margin_frames))
    run_segment(false);
}

void StreamingGriffinLim::finish() {
  if (finished_) return;
  finished_ = true;
  if (magnitude_.empty()) return;
  while (start_.size() < magnitude_.size()) start_phase(silence_.data());  // look-ahead's flush
  while (next_segment_ * size_t(options_.segment_frames) < magnitude_.size() || !emitted_all_)
    run_segment(true);
}

void StreamingGriffinLim::start_phase(const float* pushed) {
  if (!rtpghi_.push(pushed)) return;
  const size_t m = start_.size();
  if (m >= magnitude_.size()) return;
  const size_t bins = silence_.size();
  Spectrum spectrum(bins);
  for (size_t k = 0; k < bins; ++k)
    spectrum[k] = std::polar(magnitude_[m][k] * scale_, float(rtpghi_.phase()[k]));
  start_.push_back(std::move(spectrum));
}

void StreamingGriffinLim::run_segment(bool last_allowed) {
  const size_t frames = magnitude_.size();
  const size_t segment = size_t(options_.segment_frames), margin = size_t(options_.margin_frames);
  const size_t hop = size_t(config_.hop), half = size_t(options_.crossfade_samples / 2);
  const size_t a = next_segment_ * segment;
  const size_t b = std::min(a + segment, frames);
  const bool last = last_allowed && b >= frames;
  const size_t lo = a > margin ? a - margin : 0;
  const size_t hi = last ? frames : std::min(b + margin, start_.size());
  std::vector<Spectrum> spectra(start_.begin() + long(lo), start_.begin() + long(hi));
  const std::vector<float> y =
      iterate(magnitude_, lo, std::move(spectra), config_, options_.gl, scale_);
  const size_t origin = lo * hop;  // y[0] is sample origin
  // This segment's samples: from where the last one stopped (crossfading its
  // tail) to the next crossfade's start, or to the end.
  const size_t total = (frames - 1) * hop + size_t(config_.window);
  const size_t from = emitted_;
  const size_t to = last ? total : b * hop - half;
  std::vector<float> out(to - from);
  for (size_t t = from; t < to; ++t) out[t - from] = y[t - origin];
  for (size_t i = 0; i < tail_.size() && i < out.size(); ++i) {
    const float w = float(i + 1) / float(tail_.size() + 1);
    out[i] = (1.0f - w) * tail_[i] + w * out[i];
  }
  tail_.clear();
  if (!last)
    for (size_t t = to; t < to + 2 * half; ++t) tail_.push_back(y[t - origin]);
  emitted_ = to;
  emitted_all_ = last;
  ++next_segment_;
  if (!out.empty()) emit_(out.data(), out.size());
}

double spectral_convergence(const MagnitudeFrames& target_magnitude,
                            const std::vector<float>& audio, const StftConfig& config) {
  checked(config);
  check_magnitude("spectral_convergence", target_magnitude, config, false);
  const RealFft fft(config.window);
  const auto window = periodic_hann(config.window);
  const double scale = 2.0 / window_sum(config.window);
  std::vector<float> frame(size_t(config.window));
  Spectrum spectrum(size_t(fft.bins()));
  double error = 0.0, reference = 0.0;
  for (size_t m = 0; m < target_magnitude.size(); ++m) {
    const size_t start = m * size_t(config.hop);
    for (size_t n = 0; n < frame.size(); ++n)
      frame[n] = start + n < audio.size() ? audio[start + n] * window[n] : 0.0f;
    fft.forward(frame.data(), spectrum.data());
    for (size_t k = 0; k < spectrum.size(); ++k) {
      const double want = target_magnitude[m][k];
      const double diff = std::sqrt(double(std::norm(spectrum[k]))) * scale - want;
      error += diff * diff;
      reference += want * want;
    }
  }
  return std::sqrt(error) / std::max(std::sqrt(reference), 1e-12);
}

}  // namespace timbrel::dsp
