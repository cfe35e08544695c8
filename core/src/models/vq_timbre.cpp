#include "timbrel/models/vq_timbre.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "model_loading.h"
#include "timbrel/dsp/window.h"
#include "timbrel/nn/layers.h"

namespace timbrel::models {

using Json = nlohmann::json;
using detail::metadata_of;
using detail::text_of;

namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

bool quantized_of(const Json& meta) {
  const auto it = meta.find("quantized");
  return it == meta.end() || !it->is_boolean() || it->get<bool>();
}

int whole(const Json& meta, const char* key) {
  const auto it = meta.find(key);
  if (it == meta.end() || !it->is_number()) return 0;
  const double v = it->get<double>();
  return std::floor(v) == v && v >= 1 && v <= 1e7 ? int(v) : 0;
}

const nn::VectorQuantizer* find_vq(const nn::Graph& graph) {
  for (size_t i = 0; i < graph.size(); ++i)
    if (auto* vq = dynamic_cast<const nn::VectorQuantizer*>(&graph.layer(i))) return vq;
  return nullptr;
}

}  // namespace

bool parse_transfer_mode(const std::string& text, TransferMode* mode) {
  if (text == "pitch") return *mode = TransferMode::kPitch, true;
  if (text == "noise") return *mode = TransferMode::kNoise, true;
  return false;
}

const char* transfer_mode_name(TransferMode mode) {
  return mode == TransferMode::kNoise ? "noise" : "pitch";
}

std::string VqTimbre::validate(const nn::Model& model) {
  const std::string prefix = "vq_timbre model: ";
  if (model.family() != "vq_timbre")
    return "model family is '" + model.family() +
           "', not 'vq_timbre': this is not a timbre transfer model";
  const Json& meta = metadata_of(model);
  struct Fixed {
    const char* key;
    int value;
  };
  for (const Fixed& f : {Fixed{"sample_rate", kSampleRate}, Fixed{"window", kWindow},
                         Fixed{"hop", kHop}, Fixed{"synthesis_window", kSynthesisWindow}}) {
    const auto it = meta.find(f.key);
    if (it == meta.end() || !it->is_number())
      return prefix + "metadata has no '" + f.key + "' (expected " + std::to_string(f.value) + ")";
    if (it->get<double>() != f.value)
      return prefix + "metadata '" + f.key + "' is " + text_of(it->get<double>()) +
             ", this engine needs " + std::to_string(f.value);
  }
  if (meta.contains("quantized") && !meta["quantized"].is_boolean())
    return prefix + "metadata 'quantized' must be true or false";
  const bool quantized = quantized_of(meta);
  const int latent = whole(meta, "latent"), hidden = whole(meta, "hidden");
  if (latent == 0)
    return prefix + "metadata 'latent' (latent size D) is missing or not a whole number";
  if (hidden == 0)
    return prefix + "metadata 'hidden' (GRU size H) is missing or not a whole number";
  // What set-up costs scales with these (the codebook's 2D map: codes x latent^2).
  if (latent > kMaxLatent)
    return prefix + "metadata 'latent' " + std::to_string(latent) + " exceeds the limit of " +
           std::to_string(kMaxLatent);
  if (hidden > kMaxHidden)
    return prefix + "metadata 'hidden' " + std::to_string(hidden) + " exceeds the limit of " +
           std::to_string(kMaxHidden);

  struct Expected {
    const char* graph;
    int in, out;
  };
  const Expected graphs[] = {{"encoder", kFeatures, latent},
                             {"quantizer", latent, latent},
                             {"decoder", latent + kConditioning, hidden},
                             {"harmonic", hidden, kFilterBins},
                             {"noise", hidden, kFilterBins},
                             {"gain", hidden, 1}};
  const std::string sizes =
      "latent " + std::to_string(latent) + ", hidden " + std::to_string(hidden);
  for (const Expected& e : graphs) {
    const std::string name = e.graph;
    if (name == "quantizer") {
      if (!quantized) {
        if (model.has_graph(name))
          return prefix + "metadata says quantized is false but the file has a 'quantizer' graph";
        continue;
      }
    }
    if (!model.has_graph(name)) return prefix + "no '" + name + "' graph";
    const nn::Graph& g = model.graph(name);
    if (auto problem = detail::graph_size_problem(g, name, e.in, e.out, sizes); !problem.empty())
      return prefix + problem;
    if (!g.streams()) return prefix + "graph '" + name + "' cannot run one hop at a time";
  }
  if (quantized) {
    const auto* vq = find_vq(model.graph("quantizer"));
    if (!vq) return prefix + "graph 'quantizer' has no vq op";
    const int codes = whole(meta, "codes");
    if (vq->codes() > kMaxCodes)
      return prefix + "the codebook has " + std::to_string(vq->codes()) +
             " codes, more than the limit of " + std::to_string(kMaxCodes);
    if (codes != vq->codes())
      return prefix + "metadata 'codes' is " + (codes ? std::to_string(codes) : "missing") +
             " but the codebook has " + std::to_string(vq->codes()) + " codes";
  }
  return "";
}

VqTimbre::LoadResult VqTimbre::load(const std::uint8_t* bytes, std::size_t size) {
  return detail::validated<VqTimbre>(nn::load_model(bytes, size), "");
}

VqTimbre::LoadResult VqTimbre::load_file(const std::string& path) {
  return detail::validated<VqTimbre>(nn::load_model_file(path), path + ": ");
}

VqTimbre::LoadResult VqTimbre::adopt(nn::ImageBlock image) {
  return detail::validated<VqTimbre>(nn::adopt_model_image(std::move(image)), "");
}

VqTimbre::VqTimbre(std::unique_ptr<nn::Model> model)
    : model_((detail::checked<VqTimbre>(model, "vq_timbre"), std::move(model))),
      encoder_(&model_->graph("encoder")),
      quantizer_(nullptr),
      decoder_(&model_->graph("decoder")),
      harmonic_graph_(&model_->graph("harmonic")),
      noise_graph_(&model_->graph("noise")),
      gain_graph_(&model_->graph("gain")),
      vq_layer_(nullptr),
      quantized_(quantized_of(metadata_of(*model_))),
      codes_(0),
      latent_(encoder_->output_size()),
      hidden_(decoder_->output_size()),
      analysis_fft_(kWindow),
      synthesis_fft_(kSynthesisWindow),
      pitch_(dsp::YinConfig{double(kSampleRate), kWindow, 50.0, 2000.0, 0.15}),
      analysis_window_(dsp::periodic_hann(kWindow)),
      synthesis_window_(dsp::periodic_hann(kSynthesisWindow)),
      windowed_(kWindow, 0.0f),
      spectrum_(kFeatures),
      features_(kFeatures, 0.0f),
      z_(size_t(latent_), 0.0f),
      q_(size_t(latent_), 0.0f),
      decoder_in_(size_t(latent_ + kConditioning), 0.0f),
      h_(size_t(hidden_), 0.0f),
      harmonic_filter_(kFilterBins, 0.0f),
      noise_filter_(kFilterBins, 0.0f),
      gain_(1, 0.0f),
      harmonic_(kSynthesisWindow, 0.0f),
      noise_(kSynthesisWindow, 0.0f),
      harmonic_spectrum_(kFilterBins),
      noise_spectrum_(kFilterBins),
      synthesis_frame_(kSynthesisWindow, 0.0f),
      overlap_(kSynthesisWindow, 0.0f) {
  if (quantized_) {
    quantizer_ = &model_->graph("quantizer");
    vq_layer_ = find_vq(*quantizer_);
    codes_ = vq_layer_ ? vq_layer_->codes() : 0;
  }
  reset();
}

VqTimbre::~VqTimbre() = default;

void VqTimbre::reset() noexcept {
  for (nn::Graph* g : {encoder_, quantizer_, decoder_, harmonic_graph_, noise_graph_, gain_graph_})
    if (g) g->reset();
  std::fill(harmonic_.begin(), harmonic_.end(), 0.0f);
  std::fill(noise_.begin(), noise_.end(), 0.0f);
  std::fill(overlap_.begin(), overlap_.end(), 0.0f);
  std::fill(h_.begin(), h_.end(), 0.0f);
  gain_[0] = 0.0f;
  phase_ = 0.0;
  frequency_ = 0.0;
  noise_state_ = seed_;
  loudness_ = -1.0f;
  last_code_ = -1;
  hops_ = 0;
  pitch_.reset();
}

void VqTimbre::set_octaves(int octaves) noexcept {
  octaves_ = std::clamp(octaves, -kMaxOctaves, kMaxOctaves);
}

void VqTimbre::set_seed(std::uint32_t seed) noexcept {
  seed_ = seed == 0 ? kDefaultSeed : seed;
  noise_state_ = seed_;
}

int VqTimbre::last_code() const { return hops_ > 0 ? last_code_ : -1; }

const float* VqTimbre::code_vector(int code) const noexcept {
  return vq_layer_ && code >= 0 && code < codes_ ? vq_layer_->code(code) : nullptr;
}

void VqTimbre::decode_hop(int code, const dsp::PitchEstimate& pitch, float loudness,
                          float* out) noexcept {
  if (vq_layer_) {
    last_code_ = std::clamp(code, 0, codes_ - 1);
    const float* vector = vq_layer_->code(last_code_);
    std::copy(vector, vector + latent_, q_.begin());
  } else {
    last_code_ = -1;
    std::fill(q_.begin(), q_.end(), 0.0f);
  }
  loudness_ = std::isfinite(loudness) ? std::clamp(loudness, -1.0f, 1.0f) : 0.0f;
  decode_and_synthesize(pitch, out);
}

void VqTimbre::process_hop(const float* frame, float* out) noexcept {
  process_hop(frame, pitch_.next(frame), out);
}

void VqTimbre::process_hop(const float* frame, const dsp::PitchEstimate& pitch,
                           float* out) noexcept {
  // 1. Features and loudness of the analysis frame.
  double energy = 0.0;
  for (int i = 0; i < kWindow; ++i) {
    windowed_[size_t(i)] = analysis_window_[size_t(i)] * frame[i];
    energy += double(frame[i]) * double(frame[i]);
  }
  analysis_fft_.forward(windowed_.data(), spectrum_.data());
  for (int k = 0; k < kFeatures; ++k)
    features_[size_t(k)] = std::log1p(std::abs(spectrum_[size_t(k)]));
  const double rms = std::sqrt(energy / kWindow);
  loudness_ = float(20.0 * std::log10(std::max(rms, 1e-5)) / 50.0 + 1.0);

  // 2. Encode, quantise.
  encoder_->step(features_.data(), z_.data());
  if (quantizer_)
    quantizer_->step(z_.data(), q_.data());
  else
    std::copy(z_.begin(), z_.end(), q_.begin());
  last_code_ = vq_layer_ ? vq_layer_->last_index() : -1;
  decode_and_synthesize(pitch, out);
}

void VqTimbre::decode_and_synthesize(const dsp::PitchEstimate& pitch, float* out) noexcept {
  // 3. Output f0 and conditioning. A "voiced" frame without a usable f0 (only
  // possible with an external pitch) counts as unvoiced.
  const bool voiced = pitch.voiced && std::isfinite(pitch.f0_hz) && pitch.f0_hz > 0.0f;
  const double f = voiced ? double(pitch.f0_hz) * std::ldexp(1.0, octaves_) : 0.0;
  const bool follow = mode_ == TransferMode::kPitch && voiced;
  std::copy(q_.begin(), q_.end(), decoder_in_.begin());
  decoder_in_[size_t(latent_)] = follow ? float(std::log2(f / 440.0)) : 0.0f;
  decoder_in_[size_t(latent_) + 1] = follow ? 1.0f : 0.0f;
  decoder_in_[size_t(latent_) + 2] = loudness_;

  // 4. Decoder (GRU state carried) and its heads.
  decoder_->step(decoder_in_.data(), h_.data());
  harmonic_graph_->step(h_.data(), harmonic_filter_.data());
  noise_graph_->step(h_.data(), noise_filter_.data());
  gain_graph_->step(h_.data(), gain_.data());

  // 5. The frame's excitation: 512 harmonic samples, 256 new noise samples.
  synthesize_excitation(voiced, f);

  // 6. Filter the frame's excitation, overlap-add.
  for (int j = 0; j < kSynthesisWindow; ++j)
    synthesis_frame_[size_t(j)] = synthesis_window_[size_t(j)] * harmonic_[size_t(j)];
  synthesis_fft_.forward(synthesis_frame_.data(), harmonic_spectrum_.data());
  for (int j = 0; j < kSynthesisWindow; ++j)
    synthesis_frame_[size_t(j)] = synthesis_window_[size_t(j)] * noise_[size_t(j)];
  synthesis_fft_.forward(synthesis_frame_.data(), noise_spectrum_.data());
  const float g = gain_[0];
  for (int k = 0; k < kFilterBins; ++k) {
    const size_t b = size_t(k);
    harmonic_spectrum_[b] =
        g * (harmonic_filter_[b] * harmonic_spectrum_[b] + noise_filter_[b] * noise_spectrum_[b]);
  }
  synthesis_fft_.inverse(harmonic_spectrum_.data(), synthesis_frame_.data());
  for (int j = 0; j < kSynthesisWindow; ++j) overlap_[size_t(j)] += synthesis_frame_[size_t(j)];

  // 7. out[e - 512, e - 256) is complete: emit it and move the rest up.
  std::copy(overlap_.begin(), overlap_.begin() + kHop, out);
  std::copy(overlap_.begin() + kHop, overlap_.end(), overlap_.begin());
  std::fill(overlap_.begin() + (kSynthesisWindow - kHop), overlap_.end(), 0.0f);
  ++hops_;
}

void VqTimbre::synthesize_excitation(bool voiced, double f) noexcept {
  // Noise: one continuous stream, 256 new samples; the frame is its last 512.
  std::copy(noise_.begin() + kHop, noise_.end(), noise_.begin());
  float* noise = noise_.data() + (kSynthesisWindow - kHop);
  std::uint32_t s = noise_state_;
  for (int i = 0; i < kHop; ++i) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    noise[i] = float(double(s >> 8) * (1.0 / 8388608.0) - 1.0);
  }
  noise_state_ = s;

  // Harmonic: the whole frame at this hop's pitch, in phase with the previous
  // frame at the centre of their overlap (sample kCentre). Building it whole
  // from the newest f0, rather than reusing the half built a hop earlier, is
  // what keeps the output's pitch on time (models/README.md, step 5).
  constexpr int kCentre = (kSynthesisWindow - kHop) / 2;
  frequency_ = voiced ? f : frequency_;  // F_t: the last voiced f held
  const double amplitude = mode_ == TransferMode::kPitch && voiced ? 1.0 : 0.0;
  if (amplitude == 0.0) {
    std::fill(harmonic_.begin(), harmonic_.end(), 0.0f);
  } else {
    const int harmonics = int(std::clamp(std::floor(11025.0 / frequency_), 1.0, 200.0));
    const double n_half = harmonics + 0.5;
    const double step = kTwoPi * frequency_ / kSampleRate;
    for (int j = 0; j < kSynthesisWindow; ++j) {
      double phase = phase_ + step * (j - kCentre);
      phase -= kTwoPi * std::floor(phase / kTwoPi);
      const double half_sine = std::sin(0.5 * phase);
      harmonic_[size_t(j)] =
          float(std::fabs(half_sine) < 1e-9 ? double(harmonics)
                                            : std::sin(n_half * phase) / (2.0 * half_sine) - 0.5);
    }
  }
  // theta_{t+1} = theta_t + 2 pi F_t 256 / 22050: where this frame's phase is at the
  // next frame's centre sample.
  phase_ = std::fmod(phase_ + std::fmod(kTwoPi * frequency_ * kHop / kSampleRate, kTwoPi), kTwoPi);
}

std::size_t VqTimbre::render_hops(std::size_t n) { return (n + kHop - 1) / kHop + 1; }

namespace {
// Copies x[e - kWindow, e) into frame, zeros outside [0, n).
void analysis_frame(const float* x, std::size_t n, std::size_t e, float* frame) {
  for (int i = 0; i < VqTimbre::kWindow; ++i) {
    const long long index = static_cast<long long>(e) - VqTimbre::kWindow + i;
    frame[i] = index >= 0 && static_cast<std::size_t>(index) < n ? x[index] : 0.0f;
  }
}
}  // namespace

std::vector<dsp::PitchEstimate> VqTimbre::pitch_track(const float* x, std::size_t n,
                                                      std::size_t hops) {
  std::vector<dsp::PitchEstimate> track(hops);
  std::vector<float> frame(kWindow);
  pitch_.reset();
  for (std::size_t t = 0; t < hops; ++t) {
    analysis_frame(x, n, (t + 1) * kHop, frame.data());
    track[t] = pitch_.next(frame.data());
  }
  pitch_.reset();
  return track;
}

int VqTimbre::suggest_octaves(const std::vector<dsp::PitchEstimate>& track) const {
  const Json& meta = metadata_of(*model_);
  const auto range = meta.find("f0_range_hz");
  if (range == meta.end() || !range->is_array() || range->size() != 2 || !(*range)[0].is_number() ||
      !(*range)[1].is_number())
    return 0;
  const double low = (*range)[0].get<double>(), high = (*range)[1].get<double>();
  std::vector<float> voiced;
  for (const auto& p : track)
    if (p.voiced && p.f0_hz > 0.0f) voiced.push_back(p.f0_hz);
  if (voiced.empty() || !(low > 0.0) || !(high > 0.0)) return 0;
  auto middle = voiced.begin() + std::ptrdiff_t(voiced.size() / 2);
  std::nth_element(voiced.begin(), middle, voiced.end());
  const double shift = std::round(std::log2(std::sqrt(low * high) / double(*middle)));
  return int(std::clamp(shift, double(-kMaxOctaves), double(kMaxOctaves)));
}

std::vector<float> VqTimbre::render(const float* x, std::size_t n, const RenderOptions& options) {
  const TransferMode mode = mode_;
  const int octaves = octaves_;
  const std::uint32_t seed = seed_;
  set_mode(options.mode);
  set_octaves(options.octaves);
  set_seed(options.seed);
  reset();

  const std::size_t hops = options.pitch.empty() ? render_hops(n) : options.pitch.size();
  if (options.trace) options.trace->clear();
  std::vector<float> out(n, 0.0f);
  std::vector<float> frame(kWindow), chunk(kHop);
  // Hop t emits out[e - 512, e - 256); after the last hop the overlap buffer
  // holds the (partial) out[e - 256, e).
  auto place = [&](const float* samples, long long start) {
    for (int i = 0; i < kHop; ++i) {
      const long long index = start + i;
      if (index >= 0 && static_cast<std::size_t>(index) < n) out[std::size_t(index)] = samples[i];
    }
  };
  for (std::size_t t = 0; t < hops; ++t) {
    const std::size_t e = (t + 1) * kHop;
    analysis_frame(x, n, e, frame.data());
    const dsp::PitchEstimate pitch =
        options.pitch.empty() ? pitch_.next(frame.data()) : options.pitch[t];
    process_hop(frame.data(), pitch, chunk.data());
    if (options.trace) options.trace->push_back({last_code(), last_gain(), last_loudness()});
    place(chunk.data(), static_cast<long long>(e) - kSynthesisWindow);
  }
  if (hops > 0) place(overlap_.data(), static_cast<long long>(hops * kHop) - kHop);

  set_mode(mode);
  set_octaves(octaves);
  set_seed(seed);
  reset();
  return out;
}

std::string VqTimbre::instrument() const {
  const std::string label = model_->text("instrument", "");
  return label.empty() ? model_->name() : label;
}

std::string VqTimbre::info_json() const {
  const Json& meta = metadata_of(*model_);
  Json info = Json::object();
  info["instrument"] = instrument();
  info["name"] = model_->name();
  info["codes"] = codes_;
  info["latent"] = latent_;
  info["hidden"] = hidden_;
  info["f0_range_hz"] = meta.contains("f0_range_hz") ? meta["f0_range_hz"] : Json::array();
  info["quantized"] = quantized_;
  info["training"] = meta.contains("training") ? meta["training"] : Json::object();
  // Whether descriptor drawing can use the model as it is (models/code_analysis.h).
  info["descriptor_table"] = meta.contains("descriptor_table");
  return info.dump();
}

}  // namespace timbrel::models
