// Descriptor-based synthesis with a vq_timbre model (thesis lines
// ~11250-11330, ~11390-11420): drawn target curves of acoustic descriptors ->
// the nearest code per hop (by the code table of code_analysis.h) -> the
// model's decoder -> audio.
//
// Per hop t (at time t * 256 / 22050 s):
//   targets (any subset of centroid, bandwidth, rolloff, flatness, loudness,
//   f0), clamped to what the model reaches (range()), optionally smoothed
//   (one-pole, time constant smoothing_hops)
//   -> code: the nearest by CodeSelector's weighted, normalised distance,
//      with hysteresis (the current code stays unless another is nearer by
//      more than the margin)
//   -> VqTimbre::decode_hop(code, pitch, loud): in pitch mode a drawn f0
//      drives the harmonic excitation (voiced), else the table's reference
//      f0; noise mode has no pitch (an f0 target is refused by the callers)
//   -> x the user's gain (linear, ramped across the hop) -> 256 samples.
//
// Loudness: two ways were tried (LoudnessControl), measured on the violin model
// by `python -m timbrel.eval.draw_quality` (figures in models/README.md,
// "Descriptor table"): choosing codes by their measured loudness (r 0.999,
// MAE 0.59 dB) or driving the decoder's loud conditioning from the target
// (r 0.999 but MAE 9.0 dB, and r 0.33 when a centroid is drawn too). The
// first is the default; the second stays selectable for comparison.
//
// process_hop() never allocates, locks, throws or logs (an AudioWorklet can
// loop a curve through engine::DrawPlayer); render() is the same hop stream
// without its 256-sample delay. Not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/models/code_analysis.h"
#include "timbrel/models/vq_timbre.h"
#include "timbrel/realtime.h"

namespace timbrel::models {

struct DescriptorRange {
  float min = 0.0f, max = 0.0f;
};

// Nearest code to a set of targets:
//   D(k) = sqrt( sum_d w_d ((t_d - v_d(k)) / s_d)^2 / sum_d w_d )
// over the descriptors with weight w_d > 0, where v_d(k) is the table's value
// and s_d the spread between its 5th and 95th percentiles over the codes (the
// full range where that is 0, else 1). So D is measured in "typical ranges of
// the model": a margin of 0.05 is 5 % of it. Ties go to the lowest index (as
// the quantizer's argmin).
// A code counts as silent when its loudness_db (at the table's reference
// loudness) is below kAudibleFloorDb, or more than kAudibleRangeDb below the
// median code's: every code is decoded at the same conditioning, so one that
// comes out 30 dB under the typical code is, next to it, silence (the alto
// sax's brightest codes decode near -80 dBFS where the median is -37). No
// spectral target chooses a silent code and the spectral axes' ranges leave
// them out (CodeSelector), so a drawn brightness never asks for silence.
constexpr float kAudibleFloorDb = -90.0f;
constexpr float kAudibleRangeDb = 30.0f;
// The loudness axis starts here (when the model's loudest code is above it):
// the page and timbrel.eval.draw_quality call a frame under -60 dBFS silence,
// and a drawn level renders within a few dB of its target, so an axis that
// ran down to the quietest code (the alto sax's: -73 dB) let a drawn curve ask
// for what is heard as nothing. Loudness targets may still choose any code.
constexpr float kLoudnessAxisFloorDb = -57.0f;
constexpr bool is_spectral(Descriptor d) {
  return d == Descriptor::kCentroid || d == Descriptor::kBandwidth || d == Descriptor::kRolloff ||
         d == Descriptor::kFlatness;
}

class CodeSelector {
 public:
  CodeSelector() = default;
  explicit CodeSelector(const CodeDescriptors& table);

  int codes() const { return codes_; }
  float scale(Descriptor d) const { return scale_[size_t(index_of(d))]; }
  DescriptorRange range(Descriptor d) const { return range_[size_t(index_of(d))]; }
  float value(Descriptor d, int code) const {
    return normalised_[size_t(index_of(d))][size_t(code)] * scale(d);
  }
  // targets and weights: kDescriptorCount values each (index_of order).
  // Real-time safe.
  float distance(int code, const float* targets,
                 const float* weights) const noexcept TIMBREL_REALTIME;
  // With no weight > 0 every code is at distance 0: code 0.
  int nearest(const float* targets, const float* weights,
              float* distance = nullptr) const noexcept TIMBREL_REALTIME;
  // Hysteresis: keeps `current` (a valid code) unless the nearest code is
  // nearer by more than `margin`; current < 0 (none yet): the nearest.
  int choose(const float* targets, const float* weights, int current,
             float margin) const noexcept TIMBREL_REALTIME;

 private:
  int codes_ = 0;
  std::array<std::vector<float>, kDescriptorCount> normalised_;  // v_d(k) / s_d
  std::array<float, kDescriptorCount> scale_{};
  std::array<DescriptorRange, kDescriptorCount> range_{};
  std::vector<unsigned char> audible_;  // per code: not silent (kAudibleFloorDb, kAudibleRangeDb)
};

enum class LoudnessControl {
  kCodes,         // (a) loudness is one more descriptor that chooses codes
  kConditioning,  // (b) the codes come from the other descriptors; the loud conditioning
                  //     follows the target: loud = loud_ref + (target - table_dB(code)) / 50
};
// "codes" / "conditioning"; false (untouched) for anything else.
bool parse_loudness_control(const std::string& text, LoudnessControl* control);
const char* loudness_control_name(LoudnessControl control);

// One hop's targets. weight > 0: the descriptor is drawn (f0: in pitch mode
// it drives the excitation whatever its weight, and chooses no code).
struct DrawTargets {
  std::array<float, kDescriptorCount> value{};
  std::array<float, kDescriptorCount> weight{};
  float gain = 1.0f;  // linear gain of this hop's output

  bool drawn(Descriptor d) const { return weight[size_t(index_of(d))] > 0.0f; }
  void set(Descriptor d, float v, float w = 1.0f) {
    value[size_t(index_of(d))] = v;
    weight[size_t(index_of(d))] = w;
  }
};

// Whole curves, one value per hop (hop t at t * 256 / 22050 s). An empty
// target curve is a descriptor not drawn; an empty gain curve is gain 1.
// Curves shorter than `hops` hold their last value.
struct DrawCurves {
  std::size_t hops = 0;
  std::array<std::vector<float>, kDescriptorCount> target;
  std::array<float, kDescriptorCount> weight = {1, 1, 1, 1, 1, 1};
  std::vector<float> gain;

  std::vector<float>& curve(Descriptor d) { return target[size_t(index_of(d))]; }
  const std::vector<float>& curve(Descriptor d) const { return target[size_t(index_of(d))]; }
  // Real-time safe.
  DrawTargets at(std::size_t hop) const noexcept TIMBREL_REALTIME;
};

struct DrawSettings {
  TransferMode mode = TransferMode::kPitch;
  float smoothing_hops = 0.0f;  // one-pole time constant of the targets, in hops; 0: none
  float hysteresis = 0.0f;      // margin in CodeSelector distance units; 0: always the nearest
  LoudnessControl loudness = LoudnessControl::kCodes;
  // When the codes are chosen by other descriptors but not by loudness, also
  // aim at the table's median loudness with this weight: codes of the same
  // brightness can lie 30 dB apart, and without this the level jumps from hop
  // to hop. Measured on the violin model (centroid ramp 1735-2808 Hz, 4 s):
  // weight 0 gives r 0.977, MAE 138 Hz and 4.2 dB mean level change per hop;
  // 0.25 gives r 0.995, MAE 36 Hz and 0.2 dB. 0: off.
  float steady_loudness = 0.25f;
  std::uint32_t seed = VqTimbre::kDefaultSeed;
};

class DescriptorSynth {
 public:
  static constexpr int kHop = VqTimbre::kHop;
  static constexpr int kSampleRate = VqTimbre::kSampleRate;

  struct LoadResult {
    std::unique_ptr<DescriptorSynth> synth;  // null on error
    std::string error;
  };
  // Loads a vq_timbre model and its stored descriptor table. A model without
  // one: with analyse_if_missing the table is computed now (analyse_codes,
  // seconds for 512 codes natively), else the error says how to add it.
  // Never throws.
  static LoadResult load(const std::uint8_t* bytes, std::size_t size,
                         bool analyse_if_missing = false);
  static LoadResult load_file(const std::string& path, bool analyse_if_missing = false);
  // Adopts a model image (models/prepared_model.h: the table's columns and the
  // codebook map come with it) as load(bytes, size, false) loads the file.
  static LoadResult adopt(nn::ImageBlock image);
  // What to tell someone whose model has no table.
  static std::string missing_table_message(const std::string& model);

  // Throws std::invalid_argument when the table does not fit the model.
  DescriptorSynth(std::unique_ptr<VqTimbre> model, CodeAnalysis table);
  ~DescriptorSynth();
  DescriptorSynth(const DescriptorSynth&) = delete;
  DescriptorSynth& operator=(const DescriptorSynth&) = delete;

  const VqTimbre& model() const { return *model_; }
  const CodeAnalysis& table() const { return table_; }
  const CodeSelector& selector() const { return selector_[mode_index()]; }
  // What a target can reach in the current mode: the table's min..max over
  // the codes; f0 (pitch mode): the model's f0_range_hz widened by an octave
  // on each side (the excitation follows any f0; the octave is the transfer
  // page's octave control), within YIN's 50-2000 Hz so it can be measured.
  DescriptorRange range(Descriptor d) const;
  DescriptorRange range(Descriptor d, TransferMode mode) const;
  // The code nothing drawn chooses: nearest to the table's medians of
  // centroid, bandwidth and loudness (current mode).
  int neutral_code() const { return neutral_code_[mode_index()]; }

  // Real-time safe; take effect from the next hop. A mode change resets the
  // smoothing and the current code.
  void set_settings(const DrawSettings& settings) noexcept TIMBREL_REALTIME;
  const DrawSettings& settings() const { return settings_; }

  // --- streaming (real-time safe) ------------------------------------------
  // out: 256 samples, the output of the hop before (as VqTimbre::process_hop:
  // 256 samples of delay).
  void process_hop(const DrawTargets& targets, float* out) noexcept TIMBREL_REALTIME;
  // Holds one code (auditioning the codebook map) at the reference f0 and
  // loudness, times gain.
  void process_code_hop(int code, float gain, float* out) noexcept TIMBREL_REALTIME;
  // Back to the state before hop 0 (model, smoothing, code, gain ramp).
  void reset() noexcept TIMBREL_REALTIME;
  int last_code() const { return code_; }
  float last_loudness_conditioning() const { return last_loud_; }
  float last_f0_hz() const { return last_f0_; }

  // --- offline --------------------------------------------------------------
  // curves.hops * 256 samples at 22050 Hz, time-aligned (hop t's frame is
  // centred on sample t * 256): runs hops + 1 stream hops from reset() and
  // drops the first 256 samples. codes, when not null, receives the code of
  // every hop. Resets afterwards. Allocates.
  std::vector<float> render(const DrawCurves& curves, std::vector<int>* codes = nullptr);
  // The same in pieces, for a Worker with a progress bar: begin_render() then
  // render_some() until it returns true; out must hold curves.hops * 256
  // samples. Allocation-free after begin_render().
  void begin_render();
  bool render_some(const DrawCurves& curves, std::size_t max_hops, float* out,
                   std::vector<int>* codes = nullptr);
  std::size_t rendered_hops() const { return render_hop_; }

 private:
  static LoadResult with_table(VqTimbre::LoadResult loaded, bool analyse_if_missing);
  int mode_index() const { return settings_.mode == TransferMode::kNoise ? 1 : 0; }
  void synthesize(int code, const dsp::PitchEstimate& pitch, float loud, float gain,
                  float* out) noexcept TIMBREL_REALTIME;

  std::unique_ptr<VqTimbre> model_;
  CodeAnalysis table_;
  std::array<CodeSelector, 2> selector_;  // pitch, noise
  std::array<int, 2> neutral_code_{};
  std::array<float, 2> median_loudness_{};
  std::array<std::array<DescriptorRange, kDescriptorCount>, 2> range_{};  // pitch, noise
  DrawSettings settings_;
  // Streaming state.
  std::array<float, kDescriptorCount> smoothed_{};
  std::array<bool, kDescriptorCount> smoothing_started_{};
  int code_ = -1;
  float gain_ = 1.0f;
  bool started_ = false;  // a hop has run since reset(): gain_ is the last hop's
  float last_loud_ = 0.0f, last_f0_ = 0.0f;
  std::vector<float> hop_out_;  // render's scratch
  std::size_t render_hop_ = 0;
};

}  // namespace timbrel::models
