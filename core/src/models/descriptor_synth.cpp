#include "timbrel/models/descriptor_synth.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace timbrel::models {

namespace {

// Linear interpolation between order statistics (numpy's default percentile).
// Selection, not a sort: the same two order statistics in O(n), which keeps a
// model switch in the worklet short (the constructor takes ~30 of these).
double percentile(std::vector<float> values, double share) {
  if (values.empty()) return 0.0;
  const double position = share * double(values.size() - 1);
  const size_t below = size_t(std::floor(position));
  const auto at_below = values.begin() + std::ptrdiff_t(below);
  std::nth_element(values.begin(), at_below, values.end());
  const float low = *at_below;
  // The next order statistic: the least of what selection left above `below`.
  const float high =
      below + 1 < values.size() ? *std::min_element(at_below + 1, values.end()) : low;
  const double fraction = position - double(below);
  return low + (high - low) * fraction;
}

constexpr int kF0 = index_of(Descriptor::kF0);
constexpr int kLoudness = index_of(Descriptor::kLoudness);
constexpr float kMaxGain = 16.0f;  // +24 dB: a drawn gain curve cannot blow up the output

// The f0 range the excitation is offered (see DescriptorSynth::range).
constexpr double kYinLowHz = 50.0, kYinHighHz = 2000.0;

}  // namespace

// --- CodeSelector -------------------------------------------------------------

CodeSelector::CodeSelector(const CodeDescriptors& table) : codes_(table.codes()) {
  // A code that decodes to (near) silence has no meaningful spectrum (its
  // centroid reads 0 Hz): it neither widens the spectral descriptors' ranges
  // nor answers a spectral target. Loudness targets may still choose it.
  const auto& loudness = table[Descriptor::kLoudness];
  audible_.assign(size_t(codes_), 1);
  int audible_count = codes_;
  if (int(loudness.size()) == codes_) {
    audible_count = 0;
    const float floor_db =
        std::max(kAudibleFloorDb, float(percentile(loudness, 0.5)) - kAudibleRangeDb);
    for (size_t k = 0; k < loudness.size(); ++k) {
      audible_[k] = loudness[k] >= floor_db;
      audible_count += audible_[k];
    }
    if (audible_count == 0) audible_.assign(size_t(codes_), 1);  // all silent: keep them all
  }
  for (Descriptor d : kAllDescriptors) {
    const auto& all = table[d];
    const size_t i = size_t(index_of(d));
    if (all.empty()) {
      scale_[i] = 1.0f;
      continue;
    }
    std::vector<float> v;
    for (size_t k = 0; k < all.size(); ++k)
      if (!is_spectral(d) || audible_[k]) v.push_back(all[k]);
    const auto [low, high] = std::minmax_element(v.begin(), v.end());
    range_[i] = {*low, *high};
    if (d == Descriptor::kLoudness && range_[i].max > kLoudnessAxisFloorDb)
      range_[i].min = std::max(range_[i].min, kLoudnessAxisFloorDb);
    double spread = percentile(v, 0.95) - percentile(v, 0.05);
    if (!(spread > 0.0)) spread = double(*high) - double(*low);
    if (!(spread > 0.0)) spread = 1.0;
    scale_[i] = float(spread);
    normalised_[i].resize(all.size());
    for (size_t k = 0; k < all.size(); ++k) normalised_[i][k] = float(all[k] / spread);
  }
}

float CodeSelector::distance(int code, const float* targets, const float* weights) const noexcept {
  if (code < 0 || code >= codes_) return INFINITY;
  double sum = 0.0, weight_sum = 0.0;
  for (int d = 0; d < kDescriptorCount; ++d) {
    if (!(weights[d] > 0.0f)) continue;
    const double difference =
        double(targets[d]) / scale_[size_t(d)] - normalised_[size_t(d)][size_t(code)];
    sum += weights[d] * difference * difference;
    weight_sum += weights[d];
  }
  return weight_sum > 0.0 ? float(std::sqrt(sum / weight_sum)) : 0.0f;
}

int CodeSelector::nearest(const float* targets, const float* weights,
                          float* distance_out) const noexcept {
  // The normalised targets once, then squared sums (monotone in D).
  std::array<double, kDescriptorCount> target{};
  double weight_sum = 0.0;
  for (int d = 0; d < kDescriptorCount; ++d)
    if (weights[d] > 0.0f) {
      target[size_t(d)] = double(targets[d]) / scale_[size_t(d)];
      weight_sum += weights[d];
    }
  bool spectral = false;
  for (Descriptor d : kAllDescriptors) spectral |= is_spectral(d) && weights[index_of(d)] > 0.0f;
  int best = 0;
  double best_sum = INFINITY;
  for (int k = 0; k < codes_; ++k) {
    if (spectral && !audible_[size_t(k)]) continue;
    double sum = 0.0;
    for (int d = 0; d < kDescriptorCount; ++d) {
      if (!(weights[d] > 0.0f)) continue;
      const double difference = target[size_t(d)] - normalised_[size_t(d)][size_t(k)];
      sum += weights[d] * difference * difference;
    }
    if (sum < best_sum) {  // strict: ties keep the lowest index
      best_sum = sum;
      best = k;
    }
  }
  if (distance_out)
    *distance_out = weight_sum > 0.0 && codes_ > 0 ? float(std::sqrt(best_sum / weight_sum)) : 0.0f;
  return best;
}

int CodeSelector::choose(const float* targets, const float* weights, int current,
                         float margin) const noexcept {
  float best_distance = 0.0f;
  const int best = nearest(targets, weights, &best_distance);
  if (current < 0 || current >= codes_ || current == best) return best;
  return best_distance + margin < distance(current, targets, weights) ? best : current;
}

// --- parameters ---------------------------------------------------------------

bool parse_loudness_control(const std::string& text, LoudnessControl* control) {
  if (text == "codes") return *control = LoudnessControl::kCodes, true;
  if (text == "conditioning") return *control = LoudnessControl::kConditioning, true;
  return false;
}

const char* loudness_control_name(LoudnessControl control) {
  return control == LoudnessControl::kConditioning ? "conditioning" : "codes";
}

DrawTargets DrawCurves::at(std::size_t hop) const noexcept {
  DrawTargets t;
  for (int d = 0; d < kDescriptorCount; ++d) {
    const auto& c = target[size_t(d)];
    if (c.empty()) continue;
    t.value[size_t(d)] = c[std::min(hop, c.size() - 1)];
    t.weight[size_t(d)] = weight[size_t(d)];
  }
  if (!gain.empty()) t.gain = gain[std::min(hop, gain.size() - 1)];
  return t;
}

// --- DescriptorSynth ------------------------------------------------------------

std::string DescriptorSynth::missing_table_message(const std::string& model) {
  return "model '" + model +
         "' has no descriptor table (metadata \"descriptor_table\"): add it once with "
         "`PYTHONPATH=scripts python3 -m timbrel.export.code_table " +
         model + "` (it runs `timbrel analyse-codes` and rewrites the file)";
}

DescriptorSynth::LoadResult DescriptorSynth::load(const std::uint8_t* bytes, std::size_t size,
                                                  bool analyse_if_missing) {
  return with_table(VqTimbre::load(bytes, size), analyse_if_missing);
}

DescriptorSynth::LoadResult DescriptorSynth::adopt(nn::ImageBlock image) {
  return with_table(VqTimbre::adopt(std::move(image)), false);
}

DescriptorSynth::LoadResult DescriptorSynth::with_table(VqTimbre::LoadResult loaded,
                                                        bool analyse_if_missing) {
  if (!loaded.model) return {nullptr, loaded.error};
  if (!loaded.model->quantized())
    return {nullptr, "model '" + loaded.model->name() +
                         "' is not quantized: descriptor synthesis chooses codes from a codebook"};
  CodeAnalysis table;
  bool present = false;
  std::string problem = CodeAnalysis::from_model(*loaded.model, &table, &present);
  if (!present) {
    if (!analyse_if_missing) return {nullptr, missing_table_message(loaded.model->name())};
    table = analyse_codes(*loaded.model);
  } else if (!problem.empty()) {
    return {nullptr, problem};
  }
  return {std::make_unique<DescriptorSynth>(std::move(loaded.model), std::move(table)), ""};
}

DescriptorSynth::LoadResult DescriptorSynth::load_file(const std::string& path,
                                                       bool analyse_if_missing) {
  auto loaded = VqTimbre::load_file(path);
  if (!loaded.model) return {nullptr, loaded.error};
  if (!loaded.model->quantized())
    return {nullptr, path + ": not quantized: descriptor synthesis chooses codes from a codebook"};
  CodeAnalysis table;
  bool present = false;
  std::string problem = CodeAnalysis::from_model(*loaded.model, &table, &present);
  if (!present) {
    if (!analyse_if_missing) return {nullptr, missing_table_message(path)};
    table = analyse_codes(*loaded.model);
  } else if (!problem.empty()) {
    return {nullptr, path + ": " + problem};
  }
  return {std::make_unique<DescriptorSynth>(std::move(loaded.model), std::move(table)), ""};
}

DescriptorSynth::DescriptorSynth(std::unique_ptr<VqTimbre> model, CodeAnalysis table)
    : model_(std::move(model)), table_(std::move(table)), hop_out_(size_t(kHop), 0.0f) {
  if (!model_) throw std::invalid_argument("descriptor synthesis: no model");
  if (!model_->quantized())
    throw std::invalid_argument("descriptor synthesis: model '" + model_->name() +
                                "' has no codebook");
  if (table_.codes() != model_->codes() || table_.noise.codes() != model_->codes())
    throw std::invalid_argument("descriptor synthesis: the table describes " +
                                std::to_string(table_.codes()) + " codes, model '" +
                                model_->name() + "' has " + std::to_string(model_->codes()));
  for (const auto* mode : {&table_.pitch, &table_.noise})
    for (const auto& column : mode->values)
      if (int(column.size()) != model_->codes())
        throw std::invalid_argument("descriptor synthesis: a table column has " +
                                    std::to_string(column.size()) + " entries, the model has " +
                                    std::to_string(model_->codes()) + " codes");
  selector_ = {CodeSelector(table_.pitch), CodeSelector(table_.noise)};
  for (int m = 0; m < 2; ++m) {
    const CodeDescriptors& t = m == 0 ? table_.pitch : table_.noise;
    DrawTargets median;
    for (Descriptor d : {Descriptor::kCentroid, Descriptor::kBandwidth, Descriptor::kLoudness})
      median.set(d, float(percentile(t[d], 0.5)));
    neutral_code_[size_t(m)] =
        selector_[size_t(m)].nearest(median.value.data(), median.weight.data());
    median_loudness_[size_t(m)] = median.value[size_t(kLoudness)];
  }
  for (int m = 0; m < 2; ++m)
    for (Descriptor d : kAllDescriptors)
      range_[size_t(m)][size_t(index_of(d))] = selector_[size_t(m)].range(d);
  const auto f0 = model_->model().numbers("f0_range_hz");
  const double low = f0.size() == 2 && f0[0] > 0.0f ? f0[0] / 2.0 : kYinLowHz;
  const double high = f0.size() == 2 && f0[1] > 0.0f ? f0[1] * 2.0 : kYinHighHz;
  range_[0][size_t(kF0)] = {float(std::max(kYinLowHz, low)), float(std::min(kYinHighHz, high))};
  set_settings(settings_);
  reset();
}

DescriptorSynth::~DescriptorSynth() = default;

DescriptorRange DescriptorSynth::range(Descriptor d) const { return range(d, settings_.mode); }

DescriptorRange DescriptorSynth::range(Descriptor d, TransferMode mode) const {
  return range_[mode == TransferMode::kNoise ? 1 : 0][size_t(index_of(d))];
}

void DescriptorSynth::set_settings(const DrawSettings& settings) noexcept {
  const bool new_mode = settings.mode != settings_.mode;
  const bool new_seed = settings.seed != settings_.seed;
  settings_ = settings;
  if (!(settings_.smoothing_hops >= 0.0f)) settings_.smoothing_hops = 0.0f;
  if (!(settings_.hysteresis >= 0.0f)) settings_.hysteresis = 0.0f;
  if (!(settings_.steady_loudness >= 0.0f)) settings_.steady_loudness = 0.0f;
  model_->set_mode(settings_.mode);
  model_->set_octaves(0);
  if (new_seed || model_->seed() != settings_.seed) model_->set_seed(settings_.seed);
  if (new_mode) {
    code_ = -1;
    smoothing_started_.fill(false);
  }
}

void DescriptorSynth::reset() noexcept {
  model_->reset();
  smoothing_started_.fill(false);
  smoothed_.fill(0.0f);
  code_ = -1;
  gain_ = 1.0f;
  started_ = false;
  last_loud_ = float(table_.reference.loudness);
  last_f0_ = 0.0f;
}

void DescriptorSynth::process_hop(const DrawTargets& targets, float* out) noexcept {
  const bool pitch_mode = settings_.mode == TransferMode::kPitch;
  const float follow = settings_.smoothing_hops > 0.0f
                           ? float(1.0 - std::exp(-1.0 / double(settings_.smoothing_hops)))
                           : 1.0f;
  std::array<float, kDescriptorCount> value{}, weight{};
  for (int d = 0; d < kDescriptorCount; ++d) {
    const size_t i = size_t(d);
    const float v = targets.value[i];
    if (!(targets.weight[i] > 0.0f) || !std::isfinite(v)) {
      smoothing_started_[i] = false;
      continue;
    }
    const DescriptorRange r = range(Descriptor(d));
    const float clamped = std::clamp(v, r.min, r.max);
    smoothed_[i] =
        smoothing_started_[i] ? smoothed_[i] + follow * (clamped - smoothed_[i]) : clamped;
    smoothing_started_[i] = true;
    value[i] = smoothed_[i];
    weight[i] = targets.weight[i];
  }
  // f0 drives the excitation (pitch mode) and never chooses codes; with the
  // conditioning control, neither does loudness.
  const bool f0_drawn = weight[size_t(kF0)] > 0.0f;
  const bool loud_drawn = weight[size_t(kLoudness)] > 0.0f;
  weight[size_t(kF0)] = 0.0f;
  if (settings_.loudness == LoudnessControl::kConditioning) weight[size_t(kLoudness)] = 0.0f;

  bool choosing = false;
  for (float w : weight) choosing = choosing || w > 0.0f;
  if (choosing && !(weight[size_t(kLoudness)] > 0.0f) && settings_.steady_loudness > 0.0f) {
    value[size_t(kLoudness)] = median_loudness_[size_t(mode_index())];
    weight[size_t(kLoudness)] = settings_.steady_loudness;
  }
  const CodeSelector& s = selector();
  code_ = choosing ? s.choose(value.data(), weight.data(), code_, settings_.hysteresis)
                   : neutral_code();

  float loud = float(table_.reference.loudness);
  if (settings_.loudness == LoudnessControl::kConditioning && loud_drawn)
    loud += (smoothed_[size_t(kLoudness)] - s.value(Descriptor::kLoudness, code_)) / 50.0f;
  const float f0 = pitch_mode && f0_drawn ? value[size_t(kF0)] : float(table_.reference.f0_hz);
  synthesize(code_, dsp::PitchEstimate{f0, 1.0f, true}, loud, targets.gain, out);
}

void DescriptorSynth::process_code_hop(int code, float gain, float* out) noexcept {
  code_ = std::clamp(code, 0, model_->codes() - 1);
  synthesize(code_, dsp::PitchEstimate{float(table_.reference.f0_hz), 1.0f, true},
             float(table_.reference.loudness), gain, out);
}

void DescriptorSynth::synthesize(int code, const dsp::PitchEstimate& pitch, float loud, float gain,
                                 float* out) noexcept {
  last_loud_ = std::clamp(loud, -1.0f, 1.0f);
  last_f0_ = settings_.mode == TransferMode::kPitch ? pitch.f0_hz : 0.0f;
  model_->decode_hop(code, pitch, last_loud_, out);
  // The gain ramps from the last hop's value over this hop (no zipper noise).
  const float target = std::isfinite(gain) ? std::clamp(gain, 0.0f, kMaxGain) : 0.0f;
  const float from = started_ ? gain_ : target;
  for (int i = 0; i < kHop; ++i) out[i] *= from + (target - from) * float(i + 1) / float(kHop);
  gain_ = target;
  started_ = true;
}

void DescriptorSynth::begin_render() {
  reset();
  render_hop_ = 0;
}

bool DescriptorSynth::render_some(const DrawCurves& curves, std::size_t max_hops, float* out,
                                  std::vector<int>* codes) {
  // Stream hop h (targets of hop min(h, hops - 1)) completes the samples
  // before h * 256; hops + 1 of them complete all hops * 256 samples.
  const std::size_t total = curves.hops == 0 ? 0 : curves.hops + 1;
  for (std::size_t n = 0; n < max_hops && render_hop_ < total; ++n, ++render_hop_) {
    const std::size_t h = render_hop_;
    process_hop(curves.at(std::min(h, curves.hops - 1)), hop_out_.data());
    if (codes && h < curves.hops) codes->push_back(code_);
    if (h >= 1) std::copy(hop_out_.begin(), hop_out_.end(), out + (h - 1) * size_t(kHop));
  }
  return render_hop_ >= total;
}

std::vector<float> DescriptorSynth::render(const DrawCurves& curves, std::vector<int>* codes) {
  std::vector<float> out(curves.hops * size_t(kHop), 0.0f);
  if (codes) {
    codes->clear();
    codes->reserve(curves.hops);
  }
  begin_render();
  render_some(curves, curves.hops + 1, out.data(), codes);
  reset();
  return out;
}

}  // namespace timbrel::models
