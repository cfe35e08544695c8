#include "timbrel/models/gmvae.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "model_loading.h"
#include "timbrel/nn/layers.h"

namespace timbrel::models {

using Json = nlohmann::json;
using detail::metadata_of;
using detail::text_of;

// --- running a graph over a patch ----------------------------------------------

struct Gmvae::Plan {
  enum class Op { kReshape, kConv, kPerFrame };
  struct Step {
    Op op;
    int frames_in, frames_out, in, out, pad_right;
  };
  nn::Graph* graph = nullptr;  // set by the constructor (validate() plans a const model)
  std::vector<Step> steps;
  int in_frames = 0, out_frames = 0, out_channels = 0;
  std::size_t largest = 0;     // floats of the largest intermediate sequence
  std::size_t largest_in = 0;  // channels of the widest convolution input
  std::uint64_t work = 0;      // multiply-adds of one run
};

namespace {

constexpr const char* kPrefix = "gmvae model: ";

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a)
    return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

bool activation(const std::string& kind) {
  return kind == "relu" || kind == "leaky_relu" || kind == "elu" || kind == "tanh" ||
         kind == "sigmoid" || kind == "softplus" || kind == "log1p";
}

// Empty when graph `name` runs over `in_frames` frames (sizes within the
// limits), with *plan filled; else the problem.
std::string make_plan(const nn::Graph& graph, const std::string& name, int in_frames,
                      Gmvae::Plan* plan) {
  using Op = Gmvae::Plan::Op;
  plan->steps.clear();
  plan->in_frames = in_frames;
  int frames = in_frames;
  std::size_t largest = std::size_t(in_frames) * std::size_t(graph.input_size());
  std::uint64_t work = 0;
  for (std::size_t i = 0; i < graph.size(); ++i) {
    const nn::Layer& layer = graph.layer(i);
    const std::string kind = layer.kind();
    const std::string where = "graph '" + name + "' op " + std::to_string(i) + " (" + kind + ")";
    Gmvae::Plan::Step step{Op::kPerFrame,       frames, frames, layer.input_size(),
                           layer.output_size(), 0};
    if (kind == "flatten") {
      // [T, C] -> [1, T C]: the same values in the same order.
      const int expected = layer.input_size() > 0 ? layer.output_size() / layer.input_size() : 0;
      if (frames != expected)
        return where + " flattens " + std::to_string(expected) + " frames, but gets " +
               std::to_string(frames);
      step.op = Op::kReshape;
      step.frames_out = 1;
    } else if (kind == "unflatten") {
      // [1, F C] -> [F, C].
      if (frames != 1) return where + " needs 1 frame, gets " + std::to_string(frames);
      if (layer.output_size() <= 0 || layer.input_size() % layer.output_size() != 0)
        return where + " cannot split " + std::to_string(layer.input_size()) + " values into " +
               "frames of " + std::to_string(layer.output_size());
      step.op = Op::kReshape;
      step.frames_out = layer.input_size() / layer.output_size();
    } else if (kind == "conv1d") {
      const auto* conv = dynamic_cast<const nn::Conv1d*>(&layer);
      if (!conv) return where + ": not a convolution layer";
      const auto& s = conv->shape();
      const std::int64_t span = std::int64_t(s.kernel - 1) * s.dilation + 1;
      const std::int64_t padded = std::int64_t(frames) + s.padding_left + s.padding_right;
      if (padded < span)
        return where + ": " + std::to_string(frames) + " frames (padded " + std::to_string(padded) +
               ") are fewer than its span of " + std::to_string(span);
      step.op = Op::kConv;
      step.frames_out = int((padded - span) / s.stride + 1);
      step.pad_right = s.padding_right;
      plan->largest_in = std::max(plan->largest_in, std::size_t(s.in));
      work = saturating_add(
          work,
          saturating_mul(saturating_mul(std::uint64_t(s.kernel), std::uint64_t(s.in)),
                         saturating_mul(std::uint64_t(s.out), std::uint64_t(step.frames_out))));
    } else if (kind == "linear") {
      work = saturating_add(work, saturating_mul(saturating_mul(std::uint64_t(layer.input_size()),
                                                                std::uint64_t(layer.output_size())),
                                                 std::uint64_t(frames)));
    } else if (kind == "layer_norm" || activation(kind)) {
      work = saturating_add(
          work, saturating_mul(std::uint64_t(layer.output_size()), std::uint64_t(frames)));
    } else {
      return where +
             ": this family's graphs use linear, conv1d, flatten, unflatten, layer_norm "
             "and activations only";
    }
    frames = step.frames_out;
    largest = std::max(largest, std::size_t(frames) * std::size_t(layer.output_size()));
    plan->steps.push_back(step);
  }
  plan->out_frames = frames;
  plan->out_channels = graph.output_size();
  plan->largest = largest;
  plan->work = work;
  return "";
}

// Empty when `v` is a list of `n` finite numbers within +-bound, else the problem.
std::string check_floats(const Json& v, std::size_t n, const std::string& what, double bound) {
  if (!v.is_array() || v.size() != n)
    return what + " must be a list of " + std::to_string(n) + " numbers";
  for (const auto& e : v) {
    if (!e.is_number() || !std::isfinite(e.get<double>()))
      return what + " must hold only finite numbers";
    if (std::fabs(e.get<double>()) > bound)
      return what + " holds " + text_of(e.get<double>()) + ", outside +-" + text_of(bound);
  }
  return "";
}

bool is_whole(const Json& v) {
  return v.is_number() && std::isfinite(v.get<double>()) &&
         std::floor(v.get<double>()) == v.get<double>();
}

// Empty when meta[key] is a finite number within [lo, hi], with *value set.
std::string number_in(const Json& meta, const std::string& what, const char* key, double lo,
                      double hi, double* value) {
  const auto it = meta.find(key);
  if (it == meta.end() || !it->is_number()) return what + " has no number '" + key + "'";
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi)
    return what + " '" + key + "' is " + (std::isfinite(v) ? text_of(v) : "not finite") +
           ", outside " + text_of(lo) + " to " + text_of(hi);
  *value = v;
  return "";
}

std::string check_means(const Json& meta, const char* key, std::size_t count,
                        const std::string& of) {
  const std::string what = std::string("metadata '") + key + "'";
  const auto it = meta.find(key);
  if (it == meta.end() || !it->is_array() || it->size() != count)
    return what + " must hold one mean of " + std::to_string(Gmvae::kLatent) + " numbers per " +
           of + " (" + std::to_string(count) + ")";
  for (const auto& mean : *it)
    if (auto e = check_floats(mean, Gmvae::kLatent, what + " entry", Gmvae::kMaxLatentValue);
        !e.empty())
      return e;
  return "";
}

std::string check_map(const Json& meta, int instruments) {
  const std::string what = "metadata 'map'";
  const auto it = meta.find("map");
  if (it == meta.end() || !it->is_object())
    return what + " (center, axes, points, residuals of the timbre map) is missing";
  const Json& map = *it;
  const double bound = Gmvae::kMaxLatentValue;
  if (!map.contains("center")) return what + " has no 'center'";
  if (auto e = check_floats(map["center"], Gmvae::kLatent, what + " 'center'", bound); !e.empty())
    return e;
  if (!map.contains("axes") || !map["axes"].is_array() || map["axes"].size() != 2)
    return what + " 'axes' must be two lists of " + std::to_string(Gmvae::kLatent) + " numbers";
  for (const auto& axis : map["axes"])
    if (auto e = check_floats(axis, Gmvae::kLatent, what + " axis", bound); !e.empty()) return e;
  double uu = 0.0, uv = 0.0, vv = 0.0;
  for (int d = 0; d < Gmvae::kLatent; ++d) {
    const double u = map["axes"][0][std::size_t(d)].get<double>();
    const double v = map["axes"][1][std::size_t(d)].get<double>();
    uu += u * u;
    uv += u * v;
    vv += v * v;
  }
  if (!(uu * vv - uv * uv > 1e-12 * std::max(1.0, uu * vv)))
    return what + " 'axes' are zero or parallel: they must span a plane";
  if (!map.contains("points") || !map["points"].is_array())
    return what + " 'points' must be a list of [x, y, instrument index, midi]";
  if (map["points"].size() > std::size_t(Gmvae::kMaxMapPoints))
    return what + " holds " + std::to_string(map["points"].size()) + " points, at most " +
           std::to_string(Gmvae::kMaxMapPoints) + " are allowed";
  for (const auto& p : map["points"]) {
    if (!p.is_array() || p.size() != 4)
      return what + " 'points' entries must be [x, y, instrument index, midi]";
    for (int c = 0; c < 2; ++c)
      if (!p[std::size_t(c)].is_number() || !std::isfinite(p[std::size_t(c)].get<double>()) ||
          std::fabs(p[std::size_t(c)].get<double>()) > bound)
        return what + " point coordinates must be finite numbers within +-" + text_of(bound);
    if (!is_whole(p[2]) || p[2].get<double>() < 0 || p[2].get<double>() >= instruments)
      return what + " point instrument index must be a whole number 0-" +
             std::to_string(instruments - 1);
    if (!is_whole(p[3]) || p[3].get<double>() < 0 || p[3].get<double>() > 127)
      return what + " point midi must be a whole number 0-127";
  }
  if (!map.contains("residuals") || !map["residuals"].is_array() ||
      map["residuals"].size() != std::size_t(instruments))
    return what + " 'residuals' must hold one list of " + std::to_string(Gmvae::kLatent) +
           " numbers per instrument (" + std::to_string(instruments) + ")";
  for (const auto& r : map["residuals"])
    if (auto e = check_floats(r, Gmvae::kLatent, what + " residual", bound); !e.empty()) return e;
  return "";
}

std::string check_brightness(const Json& meta) {
  const std::string what = "metadata 'brightness'";
  const auto it = meta.find("brightness");
  if (it == meta.end() || !it->is_object())
    return what + " (dim, r, low, high, hz_per_unit) is missing";
  double dim = 0, r = 0, low = 0, high = 0, hz = 0;
  for (auto problem :
       {number_in(*it, what, "dim", 0, Gmvae::kLatent - 1, &dim),
        number_in(*it, what, "r", -1, 1, &r),
        number_in(*it, what, "low", -Gmvae::kMaxLatentValue, Gmvae::kMaxLatentValue, &low),
        number_in(*it, what, "high", -Gmvae::kMaxLatentValue, Gmvae::kMaxLatentValue, &high),
        number_in(*it, what, "hz_per_unit", -1e5, 1e5, &hz)})
    if (!problem.empty()) return problem;
  if (dim != std::floor(dim)) return what + " 'dim' must be a whole number 0-15";
  if (!(low < high))
    return what + " range [" + text_of(low) + ", " + text_of(high) +
           "] is empty (low must be below high)";
  return "";
}

std::string check_metadata(const Json& meta) {
  struct Fixed {
    const char* key;
    double value;
  };
  for (const Fixed& f :
       {Fixed{"sample_rate", Gmvae::kSampleRate}, Fixed{"window", Gmvae::kWindow},
        Fixed{"hop", Gmvae::kHop}, Fixed{"frames", Gmvae::kFrames},
        Fixed{"mel_bins", Gmvae::kMelBins}, Fixed{"fmin", dsp::MelSpectrogram::kFmin},
        Fixed{"fmax", dsp::MelSpectrogram::kFmax}, Fixed{"latent", Gmvae::kLatent}}) {
    const auto it = meta.find(f.key);
    if (it == meta.end() || !it->is_number())
      return std::string("metadata has no '") + f.key + "' (expected " + text_of(f.value) + ")";
    const double v = it->get<double>();
    if (!(std::fabs(v - f.value) <= 1e-9 * std::fabs(f.value)))
      return std::string("metadata '") + f.key + "' is " +
             (std::isfinite(v) ? text_of(v) : "not finite") + ", this engine needs " +
             text_of(f.value);
  }
  double db_min = 0, db_max = 0;
  if (auto e = number_in(meta, "metadata", "db_min", -Gmvae::kMaxDb, Gmvae::kMaxDb, &db_min);
      !e.empty())
    return e;
  if (auto e = number_in(meta, "metadata", "db_max", -Gmvae::kMaxDb, Gmvae::kMaxDb, &db_max);
      !e.empty())
    return e;
  if (!(db_max - db_min >= 1.0))
    return "metadata level range db_min " + text_of(db_min) + " to db_max " + text_of(db_max) +
           " is empty (db_max must be at least 1 dB above db_min)";
  // Optional: the trainer's make-up gain (older files have none: 0 dB).
  if (meta.contains("output_gain_db")) {
    double gain_db = 0;
    if (auto e = number_in(meta, "metadata", "output_gain_db", -Gmvae::kMaxGainDb,
                           Gmvae::kMaxGainDb, &gain_db);
        !e.empty())
      return e;
  }

  const auto pitches = meta.find("pitches");
  if (pitches == meta.end() || !pitches->is_array() || pitches->empty() ||
      pitches->size() > std::size_t(Gmvae::kMaxPitches))
    return "metadata 'pitches' must list 1-" + std::to_string(Gmvae::kMaxPitches) +
           " MIDI numbers (the pitch components)";
  for (std::size_t i = 0; i < pitches->size(); ++i) {
    const Json& p = (*pitches)[i];
    if (!is_whole(p) || p.get<double>() < 0 || p.get<double>() > 127)
      return "metadata 'pitches' must hold whole MIDI numbers 0-127";
    if (i > 0 && !(p.get<double>() > (*pitches)[i - 1].get<double>()))
      return "metadata 'pitches' must be strictly ascending";
  }
  const auto names = meta.find("instruments");
  if (names == meta.end() || !names->is_array() || names->empty() ||
      names->size() > std::size_t(Gmvae::kMaxInstruments))
    return "metadata 'instruments' must list 1-" + std::to_string(Gmvae::kMaxInstruments) +
           " instrument names (the timbre components)";
  std::set<std::string> seen;
  for (const auto& n : *names) {
    if (!n.is_string() || n.get<std::string>().empty() || n.get<std::string>().size() > 64)
      return "metadata 'instruments' must hold names of 1-64 characters";
    if (!seen.insert(n.get<std::string>()).second)
      return "metadata 'instruments' names '" + n.get<std::string>() + "' twice";
  }
  const int k = int(names->size());
  const auto ranges = meta.find("instrument_ranges");
  if (ranges == meta.end() || !ranges->is_array() || int(ranges->size()) != k)
    return "metadata 'instrument_ranges' must hold one [low, high] MIDI pair per instrument (" +
           std::to_string(k) + ")";
  for (const auto& r : *ranges) {
    if (!r.is_array() || r.size() != 2 || !is_whole(r[0]) || !is_whole(r[1]) ||
        r[0].get<double>() < 0 || r[1].get<double>() > 127 ||
        r[0].get<double>() > r[1].get<double>())
      return "metadata 'instrument_ranges' entries must be [low, high] MIDI numbers with 0 <= "
             "low <= high <= 127";
  }
  if (auto e = check_means(meta, "pitch_means", pitches->size(), "pitch"); !e.empty()) return e;
  if (auto e = check_means(meta, "timbre_means", names->size(), "instrument"); !e.empty()) return e;
  double sigma = 0;
  if (auto e = number_in(meta, "metadata", "pitch_sigma", 0, Gmvae::kMaxSigma, &sigma); !e.empty())
    return e;
  if (!(sigma > 0)) return "metadata 'pitch_sigma' must be above 0";
  if (auto e = number_in(meta, "metadata", "timbre_sigma", 0, Gmvae::kMaxSigma, &sigma); !e.empty())
    return e;
  if (!(sigma > 0)) return "metadata 'timbre_sigma' must be above 0";
  if (auto e = check_map(meta, k); !e.empty()) return e;
  return check_brightness(meta);
}

std::string check_graphs(const nn::Model& model) {
  struct Expected {
    const char* graph;
    int in_frames, in_channels;
  };
  for (const Expected& e : {Expected{"pitch_encoder", Gmvae::kFrames, Gmvae::kMelBins},
                            Expected{"timbre_encoder", Gmvae::kFrames, Gmvae::kMelBins},
                            Expected{"decoder", 1, Gmvae::kZ}}) {
    const std::string name = e.graph;
    if (!model.has_graph(name)) return "no '" + name + "' graph";
    const nn::Graph& g = model.graph(name);
    if (g.input_size() != e.in_channels)
      return "graph '" + name + "' takes " + std::to_string(g.input_size()) +
             " values per frame, expected " + std::to_string(e.in_channels) +
             (name == "decoder" ? " (z_pitch and z_timbre, latent 16 each)" : " (mel bins)");
    Gmvae::Plan plan;
    if (auto problem = make_plan(g, name, e.in_frames, &plan); !problem.empty()) return problem;
    const bool decoder = name == "decoder";
    const bool ok =
        decoder ? (plan.out_frames == Gmvae::kFrames && plan.out_channels == Gmvae::kMelBins) ||
                      (plan.out_frames == 1 && plan.out_channels == Gmvae::kPatch)
                : plan.out_frames == 1 && plan.out_channels == Gmvae::kZ;
    if (!ok)
      return "graph '" + name + "' maps [" + std::to_string(e.in_frames) + ", " +
             std::to_string(e.in_channels) + "] to [" + std::to_string(plan.out_frames) + ", " +
             std::to_string(plan.out_channels) + "], expected " +
             (decoder ? "[43, 256] (or [1, 11008])" : "[1, 32] (mean and log-variance, 16 each)");
    const std::uint64_t limit = decoder ? Gmvae::kMaxDecodeWork : Gmvae::kMaxEncodeWork;
    if (plan.work > limit)
      return "graph '" + name + "' costs " + std::to_string(plan.work) +
             " multiply-adds per run, more than the limit of " + std::to_string(limit) +
             (decoder ? " (it runs on the audio thread at every note)" : "");
  }
  return "";
}

}  // namespace

std::string Gmvae::validate(const nn::Model& model) {
  if (model.family() != "gmvae")
    return "model family is '" + model.family() +
           "', not 'gmvae': this is not a GMVAE note model (Notes panel)";
  if (auto problem = check_metadata(metadata_of(model)); !problem.empty()) return kPrefix + problem;
  if (auto problem = check_graphs(model); !problem.empty()) return kPrefix + problem;
  return "";
}

Gmvae::LoadResult Gmvae::load(const std::uint8_t* bytes, std::size_t size) {
  return detail::validated<Gmvae>(nn::load_model(bytes, size), "");
}

Gmvae::LoadResult Gmvae::load_file(const std::string& path) {
  return detail::validated<Gmvae>(nn::load_model_file(path), path + ": ");
}

Gmvae::LoadResult Gmvae::adopt(nn::ImageBlock image) {
  return detail::validated<Gmvae>(nn::adopt_model_image(std::move(image)), "");
}

Gmvae::Gmvae(std::unique_ptr<nn::Model> model)
    : model_((detail::checked<Gmvae>(model, "gmvae"), std::move(model))),
      pitch_plan_(std::make_unique<Plan>()),
      timbre_plan_(std::make_unique<Plan>()),
      decoder_plan_(std::make_unique<Plan>()),
      posterior_(std::size_t(kZ), 0.0f),
      patch_(std::size_t(kPatch), 0.0f) {
  const Json& meta = metadata_of(*model_);
  db_min_ = meta["db_min"].get<float>();
  db_max_ = meta["db_max"].get<float>();
  output_gain_ = meta.contains("output_gain_db")
                     ? float(std::pow(10.0, meta["output_gain_db"].get<double>() / 20.0))
                     : 1.0f;
  for (const auto& p : meta["pitches"]) pitch_midi_.push_back(p.get<int>());
  for (const auto& n : meta["instruments"]) instrument_names_.push_back(n.get<std::string>());
  for (const auto& r : meta["instrument_ranges"])
    instrument_ranges_.emplace_back(r[0].get<int>(), r[1].get<int>());
  for (const auto& mean : meta["pitch_means"])
    for (const auto& v : mean) pitch_means_.push_back(v.get<float>());
  for (const auto& mean : meta["timbre_means"])
    for (const auto& v : mean) timbre_means_.push_back(v.get<float>());
  pitch_sigma_ = meta["pitch_sigma"].get<float>();
  timbre_sigma_ = meta["timbre_sigma"].get<float>();
  const Json& map = meta["map"];
  for (int d = 0; d < kLatent; ++d) {
    map_.center[std::size_t(d)] = map["center"][std::size_t(d)].get<float>();
    for (int a = 0; a < 2; ++a)
      map_.axes[std::size_t(a)][std::size_t(d)] =
          map["axes"][std::size_t(a)][std::size_t(d)].get<float>();
  }
  for (const auto& p : map["points"])
    map_.points.push_back({p[0].get<float>(), p[1].get<float>(), p[2].get<int>(), p[3].get<int>()});
  for (const auto& r : map["residuals"])
    for (const auto& v : r) map_.residuals.push_back(v.get<float>());
  for (int k = 0; k < instruments(); ++k) {
    std::array<float, 2> xy{};
    map_coordinates(timbre_mean(k), &xy[0], &xy[1]);
    map_.xy.push_back(xy);
  }
  const Json& b = meta["brightness"];
  brightness_ = {b["dim"].get<int>(), b["r"].get<float>(), b["low"].get<float>(),
                 b["high"].get<float>(), b["hz_per_unit"].get<float>()};

  std::size_t largest = 0, widest = 1;
  struct Slot {
    const char* name;
    int frames;
    Plan* plan;
  };
  for (const Slot& s : {Slot{"pitch_encoder", kFrames, pitch_plan_.get()},
                        Slot{"timbre_encoder", kFrames, timbre_plan_.get()},
                        Slot{"decoder", 1, decoder_plan_.get()}}) {
    nn::Graph& graph = model_->graph(s.name);
    make_plan(graph, s.name, s.frames, s.plan);  // validate() checked it
    s.plan->graph = &graph;
    largest = std::max(largest, s.plan->largest);
    widest = std::max(widest, s.plan->largest_in);
  }
  buffer_a_.assign(largest, 0.0f);
  buffer_b_.assign(largest, 0.0f);
  zeros_.assign(widest, 0.0f);
}

Gmvae::~Gmvae() = default;

std::pair<int, int> Gmvae::instrument_range(int instrument) const {
  return instrument_ranges_.at(std::size_t(instrument));
}

int Gmvae::pitch_index(int midi) const {
  const auto it = std::lower_bound(pitch_midi_.begin(), pitch_midi_.end(), midi);
  return it != pitch_midi_.end() && *it == midi ? int(it - pitch_midi_.begin()) : -1;
}

int Gmvae::instrument_index(const std::string& name) const {
  const auto it = std::find(instrument_names_.begin(), instrument_names_.end(), name);
  return it == instrument_names_.end() ? -1 : int(it - instrument_names_.begin());
}

std::string Gmvae::info_json() const {
  // Floats go in as doubles: the text then round-trips to the same value.
  auto floats = [](const float* v, int n) {
    Json a = Json::array();
    for (int i = 0; i < n; ++i) a.push_back(double(v[i]));
    return a;
  };
  Json ranges = Json::array(), pitch_means = Json::array(), timbre_means = Json::array(),
       points = Json::array(), residuals = Json::array(), means = Json::array();
  for (const auto& [lo, hi] : instrument_ranges_) ranges.push_back(Json::array({lo, hi}));
  for (int m = 0; m < pitches(); ++m) pitch_means.push_back(floats(pitch_mean(m), kLatent));
  for (int k = 0; k < instruments(); ++k) {
    timbre_means.push_back(floats(timbre_mean(k), kLatent));
    residuals.push_back(floats(map_.residuals.data() + std::size_t(k) * kLatent, kLatent));
    means.push_back(
        Json::array({double(map_.xy[std::size_t(k)][0]), double(map_.xy[std::size_t(k)][1])}));
  }
  for (const auto& p : map_.points)
    points.push_back(Json::array({double(p.x), double(p.y), p.instrument, p.midi}));
  Json info = {{"name", model_->name()},
               {"sampleRate", kSampleRate},
               {"frames", kFrames},
               {"melBins", kMelBins},
               {"latent", kLatent},
               {"dbMin", double(db_min_)},
               {"dbMax", double(db_max_)},
               {"outputGainDb", 20.0 * std::log10(double(output_gain_))},
               {"pitches", pitch_midi_},
               {"instruments", instrument_names_},
               {"instrumentRanges", ranges},
               {"pitchMeans", pitch_means},
               {"pitchSigma", double(pitch_sigma_)},
               {"timbreMeans", timbre_means},
               {"timbreSigma", double(timbre_sigma_)},
               {"map",
                {{"center", floats(map_.center.data(), kLatent)},
                 {"axes", Json::array({floats(map_.axes[0].data(), kLatent),
                                       floats(map_.axes[1].data(), kLatent)})},
                 {"points", points},
                 {"residuals", residuals},
                 {"means", means}}},
               {"brightness",
                {{"dim", brightness_.dim},
                 {"r", double(brightness_.r)},
                 {"low", double(brightness_.low)},
                 {"high", double(brightness_.high)},
                 {"hzPerUnit", double(brightness_.hz_per_unit)}}}};
  return info.dump();
}

// --- inference ---------------------------------------------------------------------

void Gmvae::run(Plan& plan, const float* in, float* out) noexcept {
  using Op = Plan::Op;
  const float* x = in;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Plan::Step& s = plan.steps[i];
    const bool last = i + 1 == plan.steps.size();
    if (s.op == Op::kReshape) {  // the same values in the same order
      if (last) std::copy(x, x + std::size_t(s.frames_out) * std::size_t(s.out), out);
      continue;
    }
    float* y = last ? out : (x == buffer_a_.data() ? buffer_b_.data() : buffer_a_.data());
    nn::Layer& layer = plan.graph->layer(i);
    layer.reset();
    if (s.op == Op::kConv) {
      // The streaming step pads the left with zeros; the right padding is fed.
      int produced = 0;
      for (int t = 0; t < s.frames_in + s.pad_right && produced < s.frames_out; ++t) {
        const float* frame =
            t < s.frames_in ? x + std::size_t(t) * std::size_t(s.in) : zeros_.data();
        if (layer.step(frame, y + std::size_t(produced) * std::size_t(s.out))) ++produced;
      }
    } else {
      for (int t = 0; t < s.frames_in; ++t)
        layer.step(x + std::size_t(t) * std::size_t(s.in), y + std::size_t(t) * std::size_t(s.out));
    }
    x = y;
  }
}

void Gmvae::encode(const float* patch, float* mu_pitch, float* logvar_pitch, float* mu_timbre,
                   float* logvar_timbre) noexcept {
  auto split = [this](float* mu, float* logvar) {
    if (mu) std::copy(posterior_.begin(), posterior_.begin() + kLatent, mu);
    if (logvar) std::copy(posterior_.begin() + kLatent, posterior_.end(), logvar);
  };
  if (mu_pitch || logvar_pitch) {
    run(*pitch_plan_, patch, posterior_.data());
    split(mu_pitch, logvar_pitch);
  }
  if (mu_timbre || logvar_timbre) {
    run(*timbre_plan_, patch, posterior_.data());
    split(mu_timbre, logvar_timbre);
  }
}

void Gmvae::decode(const float* z, float* patch) noexcept { run(*decoder_plan_, z, patch); }

void Gmvae::encode_audio(const float* samples, std::size_t n, float* z) noexcept {
  mel_.analyse_scaled(samples, n, db_min_, db_max_, patch_.data());
  encode(patch_.data(), z, nullptr, z + kLatent, nullptr);
}

void Gmvae::sample(int instrument, int pitch_index, float spread, std::uint32_t seed,
                   float* z) const noexcept {
  const int m = std::clamp(pitch_index, 0, pitches() - 1);
  const int k = std::clamp(instrument, 0, instruments() - 1);
  const float w = std::isfinite(spread) ? std::clamp(spread, 0.0f, 10.0f) : 0.0f;
  // The seed through murmur3's finaliser: xorshift32 from a small seed starts
  // with tiny values (seed 1 gives u = 6e-5, eps = 4.4 first).
  std::uint32_t state = seed == 0 ? 0x9E3779B9u : seed;
  state ^= state >> 16;
  state *= 0x85EBCA6Bu;
  state ^= state >> 13;
  state *= 0xC2B2AE35u;
  state ^= state >> 16;
  if (state == 0) state = 0x9E3779B9u;
  auto uniform = [&state] {  // xorshift32 -> (0, 1]
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return (double(state) + 1.0) / 4294967296.0;
  };
  float eps[kZ];
  for (int i = 0; i < kZ; i += 2) {  // Box-Muller: cos, then sin
    const double u1 = uniform(), u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 6.283185307179586 * u2;
    eps[i] = float(radius * std::cos(angle));
    eps[i + 1] = float(radius * std::sin(angle));
  }
  const float* mp = pitch_mean(m);
  const float* mt = timbre_mean(k);
  for (int d = 0; d < kLatent; ++d) {
    z[d] = mp[d] + w * pitch_sigma_ * eps[d];
    z[kLatent + d] = mt[d] + w * timbre_sigma_ * eps[kLatent + d];
  }
}

int Gmvae::nearest_pitch(const float* z_pitch) const noexcept {
  int best = 0;
  double best_d2 = std::numeric_limits<double>::infinity();
  for (int m = 0; m < pitches(); ++m) {
    const float* mean = pitch_mean(m);
    double d2 = 0.0;
    for (int d = 0; d < kLatent; ++d) {
      const double e = double(z_pitch[d]) - mean[d];
      d2 += e * e;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = m;
    }
  }
  return best;
}

int Gmvae::nearest_instrument(const float* z_timbre) const noexcept {
  int best = 0;
  double best_d2 = std::numeric_limits<double>::infinity();
  for (int k = 0; k < instruments(); ++k) {
    const float* mean = timbre_mean(k);
    double d2 = 0.0;
    for (int d = 0; d < kLatent; ++d) {
      const double e = double(z_timbre[d]) - mean[d];
      d2 += e * e;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = k;
    }
  }
  return best;
}

void Gmvae::transfer(const float* z, int target, float amount, float* out) const noexcept {
  const int source = nearest_instrument(z + kLatent);
  const int k = std::clamp(target, 0, instruments() - 1);
  const float a = std::isfinite(amount) ? std::clamp(amount, 0.0f, 1.0f) : 0.0f;
  const float* from = timbre_mean(source);
  const float* to = timbre_mean(k);
  if (out != z) std::copy(z, z + kLatent, out);
  for (int d = 0; d < kLatent; ++d) out[kLatent + d] = z[kLatent + d] + a * (to[d] - from[d]);
}

void Gmvae::map_point(float x, float y, float* z_timbre) const noexcept {
  if (!std::isfinite(x)) x = 0.0f;
  if (!std::isfinite(y)) y = 0.0f;
  for (int d = 0; d < kLatent; ++d)
    z_timbre[d] = map_.center[std::size_t(d)] + x * map_.axes[0][std::size_t(d)] +
                  y * map_.axes[1][std::size_t(d)];
  // Softmax of -d^2 / 2 over the components, from the nearest (stable).
  double nearest = std::numeric_limits<double>::infinity();
  for (const auto& xy : map_.xy) {
    const double dx = double(x) - xy[0], dy = double(y) - xy[1];
    nearest = std::min(nearest, dx * dx + dy * dy);
  }
  double total = 0.0;
  for (const auto& xy : map_.xy) {
    const double dx = double(x) - xy[0], dy = double(y) - xy[1];
    total += std::exp(-0.5 * (dx * dx + dy * dy - nearest));
  }
  for (int k = 0; k < instruments(); ++k) {
    const auto& xy = map_.xy[std::size_t(k)];
    const double dx = double(x) - xy[0], dy = double(y) - xy[1];
    const float w = float(std::exp(-0.5 * (dx * dx + dy * dy - nearest)) / total);
    const float* r = map_.residuals.data() + std::size_t(k) * kLatent;
    for (int d = 0; d < kLatent; ++d) z_timbre[d] += w * r[d];
  }
}

void Gmvae::map_coordinates(const float* z_timbre, float* x, float* y) const noexcept {
  double a = 0.0, b = 0.0;
  for (int d = 0; d < kLatent; ++d) {
    const double c = double(z_timbre[d]) - map_.center[std::size_t(d)];
    a += c * map_.axes[0][std::size_t(d)];
    b += c * map_.axes[1][std::size_t(d)];
  }
  *x = float(a);
  *y = float(b);
}

void Gmvae::set_brightness(float b, float* z_timbre) const noexcept {
  const float v = std::isfinite(b) ? b : 0.5f * (brightness_.low + brightness_.high);
  z_timbre[brightness_.dim] = std::clamp(v, brightness_.low, brightness_.high);
}

}  // namespace timbrel::models
