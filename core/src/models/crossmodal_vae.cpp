#include "timbrel/models/crossmodal_vae.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "model_loading.h"

namespace timbrel::models {

using Json = nlohmann::json;
using detail::metadata_of;
using detail::text_of;

namespace {

constexpr int kLowestPitch = 12;    // C0: octave 0 of the symbol layout
constexpr int kHighestPitch = 119;  // B8: octave 8

bool is_whole(const Json& v) {
  return v.is_number() && std::isfinite(v.get<double>()) &&
         std::floor(v.get<double>()) == v.get<double>();
}

// Empty when `v` is an array of `n` finite numbers, else the problem.
std::string check_floats(const Json& v, size_t n, const std::string& what) {
  if (!v.is_array() || v.size() != n)
    return what + " must be a list of " + std::to_string(n) + " numbers";
  for (const auto& e : v)
    if (!e.is_number() || !std::isfinite(e.get<double>()))
      return what + " must hold only finite numbers";
  return "";
}

std::string check_projection(const Json& meta) {
  const std::string what = "metadata 'latent_projection'";
  const auto it = meta.find("latent_projection");
  if (it == meta.end() || !it->is_object())
    return what + " (mean, axes, extent of the XY pad) is missing";
  const Json& p = *it;
  if (!p.contains("mean")) return what + " has no 'mean'";
  if (auto e = check_floats(p["mean"], CrossmodalVae::kLatent, what + " 'mean'"); !e.empty())
    return e;
  if (!p.contains("axes") || !p["axes"].is_array() || p["axes"].size() != 2)
    return what + " 'axes' must be two lists of " + std::to_string(CrossmodalVae::kLatent) +
           " numbers";
  for (const auto& axis : p["axes"])
    if (auto e = check_floats(axis, CrossmodalVae::kLatent, what + " axis"); !e.empty()) return e;
  if (!p.contains("extent") || !p["extent"].is_array() || p["extent"].size() != 2)
    return what + " 'extent' must be [[xmin, xmax], [ymin, ymax]]";
  for (const auto& range : p["extent"]) {
    if (auto e = check_floats(range, 2, what + " extent"); !e.empty()) return e;
    if (!(range[0].get<double>() < range[1].get<double>()))
      return what + " extent [" + text_of(range[0].get<double>()) + ", " +
             text_of(range[1].get<double>()) + "] is empty (min must be below max)";
  }
  return "";
}

constexpr int kAnchorValues = 4 + CrossmodalVae::kLatent;  // pitch, dynamics, x, y, z

// Empty when a model image's stored anchors and pad level fit the model's
// first pitch range (one anchor per pitch and dynamics, in order), else the problem.
std::string check_prepared(const nn::Model& model, int lowest, int highest) {
  const auto* anchors = model.prepared(CrossmodalVae::kPreparedAnchors);
  const auto* level = model.prepared(CrossmodalVae::kPreparedPadReference);
  if (!anchors && !level) return "";
  const size_t count = size_t(highest - lowest + 1) * CrossmodalVae::kDynamics;
  if (!anchors || !level || level->size() != 1 || anchors->size() != count * kAnchorValues)
    return "the model image's stored anchors do not fit its pitch range";
  for (size_t i = 0; i < count; ++i) {
    const float* a = anchors->data() + i * kAnchorValues;
    if (a[0] != float(lowest + int(i) / CrossmodalVae::kDynamics) ||
        a[1] != float(int(i) % CrossmodalVae::kDynamics))
      return "the model image's stored anchors are not in label order";
  }
  return "";
}

// Pointwise in time: the engine calls every graph once per frame, in any order
// and on unrelated frames, so a graph with state (GRU, convolution) would mix them.
bool pointwise(const nn::Graph& graph) {
  for (size_t i = 0; i < graph.size(); ++i) {
    const std::string kind = graph.layer(i).kind();
    if (kind == "gru" || kind == "conv1d" || kind == "flatten" || kind == "unflatten" ||
        kind == "vq")
      return false;
  }
  return true;
}

}  // namespace

NoteLabel label_from_midi(int pitch, int velocity, const std::vector<int>& dynamics_velocity) {
  NoteLabel label{};
  const int p = std::clamp(pitch, kLowestPitch, kHighestPitch);
  label.pitch_class = p % 12;
  label.octave = p / 12 - 1;
  int best = 0;
  for (int k = 1; k < int(dynamics_velocity.size()) && k < CrossmodalVae::kDynamics; ++k)
    if (std::abs(velocity - dynamics_velocity[size_t(k)]) <
        std::abs(velocity - dynamics_velocity[size_t(best)]))
      best = k;
  label.dynamics = best;
  return label;
}

int midi_from_label(const NoteLabel& label) { return (label.octave + 1) * 12 + label.pitch_class; }

std::string CrossmodalVae::validate(const nn::Model& model) {
  const std::string prefix = "crossmodal_vae model: ";
  if (model.family() != "crossmodal_vae")
    return "model family is '" + model.family() +
           "', not 'crossmodal_vae': this is not a cross-modal (MIDI / transcription) model";
  const Json& meta = metadata_of(model);
  struct Fixed {
    const char* key;
    double value;
  };
  for (const Fixed& f :
       {Fixed{"sample_rate", kSampleRate}, Fixed{"window", kWindow}, Fixed{"hop", kHop},
        Fixed{"bins_per_octave", 48}, Fixed{"f_min", 30}, Fixed{"f_max", 11000},
        Fixed{"n_bins", kBins}, Fixed{"log_floor", 1e-4}, Fixed{"latent", kLatent}}) {
    const auto it = meta.find(f.key);
    if (it == meta.end() || !it->is_number())
      return prefix + "metadata has no '" + f.key + "' (expected " + text_of(f.value) + ")";
    const double v = it->get<double>();
    if (std::fabs(v - f.value) > 1e-9 * std::fabs(f.value))
      return prefix + "metadata '" + f.key + "' is " + text_of(v) + ", this engine needs " +
             text_of(f.value);
  }

  const auto names = meta.find("instruments");
  if (names == meta.end() || !names->is_array() || names->empty())
    return prefix + "metadata 'instruments' must be a non-empty list of instrument names";
  if (names->size() > size_t(CrossmodalVae::kMaxInstruments))
    return prefix + "metadata 'instruments' lists " + std::to_string(names->size()) +
           " instruments, at most " + std::to_string(CrossmodalVae::kMaxInstruments) +
           " are supported";
  for (const auto& n : *names)
    if (!n.is_string() || n.get<std::string>().empty())
      return prefix + "metadata 'instruments' must hold non-empty names";
  const int m = int(names->size());

  const auto octaves = meta.find("octaves");
  bool octaves_ok = octaves != meta.end() && octaves->is_array() && octaves->size() == kOctaves;
  for (int k = 0; octaves_ok && k < kOctaves; ++k)
    octaves_ok = is_whole((*octaves)[size_t(k)]) && (*octaves)[size_t(k)].get<int>() == k;
  if (!octaves_ok) return prefix + "metadata 'octaves' must be [0, 1, ..., 8] (9 octave symbols)";
  if (meta.value("dynamics", Json()) != Json{"pp", "mf", "ff"})
    return prefix + "metadata 'dynamics' must be [\"pp\", \"mf\", \"ff\"]";
  const auto velocity = meta.find("dynamics_velocity");
  bool velocity_ok =
      velocity != meta.end() && velocity->is_array() && velocity->size() == kDynamics;
  for (int k = 0; velocity_ok && k < kDynamics; ++k) {
    const Json& v = (*velocity)[size_t(k)];
    velocity_ok = is_whole(v) && v.get<double>() >= 1 && v.get<double>() <= 127 &&
                  (k == 0 || v.get<double>() > (*velocity)[size_t(k - 1)].get<double>());
  }
  if (!velocity_ok)
    return prefix +
           "metadata 'dynamics_velocity' must be 3 ascending MIDI velocities (1-127) for pp, mf, "
           "ff";
  const auto ranges = meta.find("pitch_ranges");
  if (ranges == meta.end() || !ranges->is_array() || int(ranges->size()) != m)
    return prefix + "metadata 'pitch_ranges' must hold one [low, high] MIDI pair per instrument (" +
           std::to_string(m) + ")";
  for (const auto& r : *ranges) {
    if (!r.is_array() || r.size() != 2 || !is_whole(r[0]) || !is_whole(r[1]))
      return prefix + "metadata 'pitch_ranges' entries must be [low, high] whole MIDI pitches";
    const double lo = r[0].get<double>(), hi = r[1].get<double>();
    if (lo < kLowestPitch || hi > kHighestPitch || lo > hi)
      return prefix + "metadata pitch range [" + text_of(lo) + ", " + text_of(hi) +
             "] is out of range: needs " + std::to_string(kLowestPitch) +
             " <= low <= high <= " + std::to_string(kHighestPitch) + " (octaves 0-8)";
  }
  if (auto problem = check_projection(meta); !problem.empty()) return prefix + problem;
  if (auto problem = check_prepared(model, (*ranges)[0][0].get<int>(), (*ranges)[0][1].get<int>());
      !problem.empty())
    return prefix + problem;

  const int symbols = m * kSymbolsPerInstrument;
  struct Expected {
    const char* graph;
    int in, out;
  };
  const Expected graphs[] = {{"signal_encoder", kBins, 2 * kLatent},
                             {"signal_decoder", kLatent, kBins},
                             {"symbol_encoder", symbols, 2 * kLatent},
                             {"symbol_decoder", kLatent, symbols}};
  const std::string sizes = std::to_string(m) + " instrument" + (m == 1 ? "" : "s") + ", latent " +
                            std::to_string(kLatent);
  for (const Expected& e : graphs) {
    const std::string name = e.graph;
    if (!model.has_graph(name)) return prefix + "no '" + name + "' graph";
    const nn::Graph& g = model.graph(name);
    if (auto problem = detail::graph_size_problem(g, name, e.in, e.out, sizes); !problem.empty())
      return prefix + problem;
    if (!pointwise(g))
      return prefix + "graph '" + name +
             "' must be pointwise in time (linear, layer_norm and activations only)";
  }
  const std::uint64_t setup =
      model.graph("symbol_encoder").parameters() + model.graph("signal_decoder").parameters();
  if (setup > kMaxSetupParameters)
    return prefix + "graphs 'symbol_encoder' and 'signal_decoder' hold " + std::to_string(setup) +
           " weights, more than the limit of " + std::to_string(kMaxSetupParameters);
  return "";
}

CrossmodalVae::LoadResult CrossmodalVae::load(const std::uint8_t* bytes, std::size_t size) {
  return detail::validated<CrossmodalVae>(nn::load_model(bytes, size), "");
}

CrossmodalVae::LoadResult CrossmodalVae::load_file(const std::string& path) {
  return detail::validated<CrossmodalVae>(nn::load_model_file(path), path + ": ");
}

CrossmodalVae::LoadResult CrossmodalVae::adopt(nn::ImageBlock image) {
  return detail::validated<CrossmodalVae>(nn::adopt_model_image(std::move(image)), "");
}

CrossmodalVae::CrossmodalVae(std::unique_ptr<nn::Model> model)
    : model_((detail::checked<CrossmodalVae>(model, "crossmodal_vae"), std::move(model))),
      signal_encoder_(&model_->graph("signal_encoder")),
      signal_decoder_(&model_->graph("signal_decoder")),
      symbol_encoder_(&model_->graph("symbol_encoder")),
      symbol_decoder_(&model_->graph("symbol_decoder")),
      posterior_(2 * kLatent, 0.0f) {
  const Json& meta = metadata_of(*model_);
  for (const auto& n : meta["instruments"]) instrument_names_.push_back(n.get<std::string>());
  for (const auto& r : meta["pitch_ranges"])
    pitch_ranges_.emplace_back(r[0].get<int>(), r[1].get<int>());
  for (const auto& v : meta["dynamics_velocity"]) dynamics_velocity_.push_back(v.get<int>());
  const Json& p = meta["latent_projection"];
  for (int i = 0; i < kLatent; ++i) {
    projection_.mean[size_t(i)] = p["mean"][size_t(i)].get<float>();
    for (int a = 0; a < 2; ++a)
      projection_.axes[size_t(a)][size_t(i)] = p["axes"][size_t(a)][size_t(i)].get<float>();
  }
  for (int a = 0; a < 2; ++a)
    for (int k = 0; k < 2; ++k)
      projection_.extent[size_t(a)][size_t(k)] = p["extent"][size_t(a)][size_t(k)].get<float>();
  // validate() checked the stored arrays' sizes and order.
  if (const auto* stored = model_->prepared(kPreparedAnchors)) {
    anchors_.resize(stored->size() / kAnchorValues);
    for (size_t i = 0; i < anchors_.size(); ++i) {
      const float* a = stored->data() + i * kAnchorValues;
      anchors_[i] = {int(a[0]), int(a[1]), a[2], a[3], {}};
      std::copy(a + 4, a + kAnchorValues, anchors_[i].z.begin());
    }
    pad_reference_ = (*model_->prepared(kPreparedPadReference))[0];
  } else {
    compute_anchors();
  }
}

float CrossmodalVae::pad_reference() {
  if (pad_reference_ >= 0.0f) return pad_reference_;
  // As dsp::ConstantQ::magnitudes_from_features with the front end's log floor.
  const float floor = static_cast<float>(1e-4);
  std::vector<float> sums, features(kBins);
  for (const auto& anchor : anchors_) {
    if (anchor.dynamics != 1) continue;
    decode_signal(anchor.z.data(), features.data());
    float sum = 0.0f;
    for (float f : features) {
      const float m = f > 0.0f ? floor * std::expm1(f) : 0.0f;
      sum += m * m;
    }
    sums.push_back(std::sqrt(sum));
  }
  pad_reference_ = 0.0f;
  if (!sums.empty()) {
    std::nth_element(sums.begin(), sums.begin() + long(sums.size() / 2), sums.end());
    pad_reference_ = sums[sums.size() / 2];
  }
  return pad_reference_;
}

std::map<std::string, std::vector<float>> CrossmodalVae::prepared_arrays() {
  std::vector<float> anchors;
  anchors.reserve(anchors_.size() * kAnchorValues);
  for (const auto& a : anchors_) {
    anchors.insert(anchors.end(), {float(a.pitch), float(a.dynamics), a.x, a.y});
    anchors.insert(anchors.end(), a.z.begin(), a.z.end());
  }
  return {{kPreparedAnchors, std::move(anchors)}, {kPreparedPadReference, {pad_reference()}}};
}

void CrossmodalVae::compute_anchors() {
  const int m = instruments();
  std::vector<NoteLabel> labels(size_t(m), NoteLabel{0, 0, 0});
  std::vector<float> hot(static_cast<size_t>(symbols())), logvar(kLatent);
  double gram[4] = {0.0, 0.0, 0.0, 0.0};
  for (int d = 0; d < kLatent; ++d) {
    const double u = projection_.axes[0][size_t(d)], v = projection_.axes[1][size_t(d)];
    gram[0] += u * u;
    gram[1] += u * v;
    gram[3] += v * v;
  }
  gram[2] = gram[1];
  const double det = gram[0] * gram[3] - gram[1] * gram[2];
  if (!(std::fabs(det) > 1e-12))
    throw std::invalid_argument("metadata 'latent_projection': the two axes are parallel or zero");
  const double gram_inverse[4] = {gram[3] / det, -gram[1] / det, -gram[2] / det, gram[0] / det};
  const auto [lo, hi] = pitch_range(0);
  for (int pitch = lo; pitch <= hi; ++pitch)
    for (int dynamics = 0; dynamics < kDynamics; ++dynamics) {
      for (int i = 0; i < m; ++i) {
        const auto [ilo, ihi] = pitch_range(i);
        const int p = std::clamp(pitch, ilo, ihi);
        labels[size_t(i)] = {p % 12, p / 12 - 1, dynamics};
      }
      LatentAnchor anchor{pitch, dynamics, 0.0f, 0.0f, {}};
      one_hot(labels.data(), hot.data());
      encode_symbols(hot.data(), anchor.z.data(), logvar.data());
      // Least-squares coordinates (the axes need not be orthonormal): solve
      // G [x y] = A^T (z - mean) with G = A^T A.
      double b[2] = {0.0, 0.0};
      for (int a = 0; a < 2; ++a)
        for (int d = 0; d < kLatent; ++d)
          b[a] += double(anchor.z[size_t(d)] - projection_.mean[size_t(d)]) *
                  projection_.axes[size_t(a)][size_t(d)];
      anchor.x = float(gram_inverse[0] * b[0] + gram_inverse[1] * b[1]);
      anchor.y = float(gram_inverse[2] * b[0] + gram_inverse[3] * b[1]);
      anchors_.push_back(anchor);
    }
}

CrossmodalVae::~CrossmodalVae() = default;

std::pair<int, int> CrossmodalVae::pitch_range(int instrument) const {
  return pitch_ranges_.at(size_t(instrument));
}

std::string CrossmodalVae::info_json() const {
  // Floats go in as doubles: the text then round-trips to the same value.
  auto pair = [](double a, double b) { return Json::array({a, b}); };
  Json ranges = Json::array(), extent = Json::array(), points = Json::array();
  for (const auto& [lo, hi] : pitch_ranges_) ranges.push_back(Json::array({lo, hi}));
  for (const auto& e : projection_.extent) extent.push_back(pair(double(e[0]), double(e[1])));
  for (const auto& anchor : anchors_) {
    Json pitches = Json::array();
    for (const auto& [lo, hi] : pitch_ranges_) pitches.push_back(std::clamp(anchor.pitch, lo, hi));
    points.push_back({{"pitch", anchor.pitch},
                      {"dynamics", anchor.dynamics},
                      {"x", double(anchor.x)},
                      {"y", double(anchor.y)},
                      {"pitches", pitches}});
  }
  Json info = {{"name", model_->name()},
               {"instruments", instrument_names_},
               {"pitchRanges", ranges},
               {"dynamicsVelocity", dynamics_velocity_},
               {"projection", {{"extent", extent}}},
               {"points", points}};
  return info.dump();
}

void CrossmodalVae::latent_from_point(float x, float y, float* z) const noexcept {
  // The kPadNeighbours nearest anchors by insertion into a fixed-size list.
  std::array<int, kPadNeighbours> nearest{};
  std::array<float, kPadNeighbours> distance{};
  int found = 0;
  // Distances in the full latent space to the plane's point mean + x a0 + y a1:
  // in 2D, anchors that differ only off the plane would tie.
  std::array<float, kLatent> planar{};
  for (int d = 0; d < kLatent; ++d)
    planar[size_t(d)] = projection_.mean[size_t(d)] + x * projection_.axes[0][size_t(d)] +
                        y * projection_.axes[1][size_t(d)];
  for (int i = 0; i < int(anchors_.size()); ++i) {
    float d2 = 0.0f;
    for (int d = 0; d < kLatent; ++d) {
      const float e = anchors_[size_t(i)].z[size_t(d)] - planar[size_t(d)];
      d2 += e * e;
    }
    int slot = found < kPadNeighbours ? found++ : kPadNeighbours;
    if (slot == kPadNeighbours && d2 >= distance[kPadNeighbours - 1]) continue;
    if (slot == kPadNeighbours) slot = kPadNeighbours - 1;
    while (slot > 0 && distance[size_t(slot - 1)] > d2) {
      distance[size_t(slot)] = distance[size_t(slot - 1)];
      nearest[size_t(slot)] = nearest[size_t(slot - 1)];
      --slot;
    }
    distance[size_t(slot)] = d2;
    nearest[size_t(slot)] = i;
  }
  if (found == 0) {
    std::copy(planar.begin(), planar.end(), z);
    return;
  }
  // On an anchor: that anchor alone (its label's q(z|y) mean, exactly).
  if (distance[0] <= 1e-12f) found = 1;
  float total = 0.0f;
  std::fill(z, z + kLatent, 0.0f);
  for (int k = 0; k < found; ++k) {
    const LatentAnchor& a = anchors_[size_t(nearest[size_t(k)])];
    const float w = 1.0f / (distance[size_t(k)] + 1e-6f);
    total += w;
    for (int i = 0; i < kLatent; ++i) z[i] += w * a.z[size_t(i)];
  }
  for (int i = 0; i < kLatent; ++i) z[i] /= total;
}

void CrossmodalVae::encode_signal(const float* features, float* mean, float* logvar) noexcept {
  signal_encoder_->step(features, posterior_.data());
  std::copy(posterior_.begin(), posterior_.begin() + kLatent, mean);
  std::copy(posterior_.begin() + kLatent, posterior_.end(), logvar);
}

void CrossmodalVae::decode_signal(const float* z, float* features) noexcept {
  signal_decoder_->step(z, features);
}

void CrossmodalVae::encode_symbols(const float* one_hot, float* mean, float* logvar) noexcept {
  symbol_encoder_->step(one_hot, posterior_.data());
  std::copy(posterior_.begin(), posterior_.begin() + kLatent, mean);
  std::copy(posterior_.begin() + kLatent, posterior_.end(), logvar);
}

void CrossmodalVae::decode_symbols(const float* z, float* logits) noexcept {
  symbol_decoder_->step(z, logits);
}

void CrossmodalVae::one_hot(const NoteLabel* labels, float* out) const noexcept {
  std::fill(out, out + symbols(), 0.0f);
  for (int i = 0; i < instruments(); ++i) {
    float* triplet = out + i * kSymbolsPerInstrument;
    triplet[std::clamp(labels[i].pitch_class, 0, kPitchClasses - 1)] = 1.0f;
    triplet[kPitchClasses + std::clamp(labels[i].octave, 0, kOctaves - 1)] = 1.0f;
    triplet[kPitchClasses + kOctaves + std::clamp(labels[i].dynamics, 0, kDynamics - 1)] = 1.0f;
  }
}

namespace {

// Index of the largest of n logits (lowest on ties) and its softmax probability.
int argmax_softmax(const float* logits, int n, double* probability) {
  int best = 0;
  for (int k = 1; k < n; ++k)
    if (logits[k] > logits[best]) best = k;
  double sum = 0.0;
  for (int k = 0; k < n; ++k) sum += std::exp(double(logits[k]) - double(logits[best]));
  *probability = 1.0 / sum;
  return best;
}

}  // namespace

void CrossmodalVae::labels_from_logits(const float* logits, NoteLabel* labels,
                                       float* confidence) const noexcept {
  for (int i = 0; i < instruments(); ++i) {
    const float* triplet = logits + i * kSymbolsPerInstrument;
    double p_pitch = 0.0, p_octave = 0.0, p_dynamics = 0.0;
    labels[i].pitch_class = argmax_softmax(triplet, kPitchClasses, &p_pitch);
    labels[i].octave = argmax_softmax(triplet + kPitchClasses, kOctaves, &p_octave);
    labels[i].dynamics = argmax_softmax(triplet + kPitchClasses + kOctaves, kDynamics, &p_dynamics);
    if (confidence) confidence[i] = float(p_pitch * p_octave * p_dynamics);
  }
}

}  // namespace timbrel::models
