#include "timbrel/models/grains.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "model_loading.h"
#include "timbrel/nn/layers.h"
#include "timbrel/simd/kernels.h"

namespace timbrel::models {

using Json = nlohmann::json;
using detail::metadata_of;
using detail::text_of;

// --- running the grain encoder over a grain -------------------------------------

struct GrainsModel::Plan {
  enum class Op { kReshape, kConv, kPerFrame };
  struct Step {
    Op op = Op::kPerFrame;
    int frames_in = 0, frames_out = 0, in = 0, out = 0;
    const nn::Conv1d* conv = nullptr;
    // A convolution over one channel (the first): its weights as [out, kernel],
    // so that an output is one dot product over its taps (set by the constructor).
    std::vector<float> mono;
  };
  nn::Graph* graph = nullptr;  // set by the constructor (validate() plans a const model)
  std::vector<Step> steps;
  int out_frames = 0, out_channels = 0;
  std::size_t largest = 0;  // floats of the largest intermediate sequence
  std::uint64_t work = 0;   // multiply-adds of one run
};

namespace {

constexpr const char* kPrefix = "grains model: ";
constexpr std::uint64_t kSaturated = std::numeric_limits<std::uint64_t>::max();

std::uint64_t mul(std::uint64_t a, std::uint64_t b) {
  return a != 0 && b > kSaturated / a ? kSaturated : a * b;
}
std::uint64_t add(std::uint64_t a, std::uint64_t b) {
  return a > kSaturated - b ? kSaturated : a + b;
}

bool activation(const std::string& kind) {
  return kind == "relu" || kind == "leaky_relu" || kind == "elu" || kind == "tanh" ||
         kind == "sigmoid" || kind == "softplus" || kind == "log1p";
}

bool frame_wise(const std::string& kind) {
  return kind == "linear" || kind == "layer_norm" || kind == "residual" || activation(kind);
}

// Multiply-adds of one frame through a frame-wise layer (or a GRU step).
std::uint64_t frame_work(const nn::Layer& layer) {
  const std::string kind = layer.kind();
  if (kind == "linear")
    return mul(std::uint64_t(layer.input_size()), std::uint64_t(layer.output_size()));
  if (kind == "gru") {
    const std::uint64_t h = std::uint64_t(layer.output_size());
    return mul(3 * h, std::uint64_t(layer.input_size()) + h);
  }
  if (kind == "residual") {
    const auto* r = dynamic_cast<const nn::Residual*>(&layer);
    std::uint64_t work = std::uint64_t(layer.output_size());
    if (r)
      for (std::size_t j = 0; j < r->body_size(); ++j) work = add(work, frame_work(r->body(j)));
    return work;
  }
  return std::uint64_t(layer.output_size());  // layer_norm, activations
}

std::uint64_t graph_frame_work(const nn::Graph& graph) {
  std::uint64_t work = 0;
  for (std::size_t i = 0; i < graph.size(); ++i) work = add(work, frame_work(graph.layer(i)));
  return work;
}

// Empty when the grain encoder runs over `in_frames` frames (sizes within the
// limits), with *plan filled; else the problem.
std::string make_plan(const nn::Graph& graph, const std::string& name, int in_frames,
                      GrainsModel::Plan* plan) {
  using Op = GrainsModel::Plan::Op;
  plan->steps.clear();
  int frames = in_frames;
  std::size_t largest = std::size_t(in_frames) * std::size_t(graph.input_size());
  std::uint64_t work = 0;
  for (std::size_t i = 0; i < graph.size(); ++i) {
    const nn::Layer& layer = graph.layer(i);
    const std::string kind = layer.kind();
    const std::string where = "graph '" + name + "' op " + std::to_string(i) + " (" + kind + ")";
    GrainsModel::Plan::Step step;
    step.op = Op::kPerFrame;
    step.frames_in = step.frames_out = frames;
    step.in = layer.input_size();
    step.out = layer.output_size();
    if (kind == "flatten") {
      const int expected = layer.input_size() > 0 ? layer.output_size() / layer.input_size() : 0;
      if (frames != expected)
        return where + " flattens " + std::to_string(expected) + " frames, but gets " +
               std::to_string(frames);
      step.op = Op::kReshape;
      step.frames_out = 1;
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
      step.conv = conv;
      step.frames_out = int((padded - span) / s.stride + 1);
      work = add(work, mul(mul(std::uint64_t(s.kernel), std::uint64_t(s.in)),
                           mul(std::uint64_t(s.out), std::uint64_t(step.frames_out))));
    } else if (frame_wise(kind)) {
      work = add(work, mul(frame_work(layer), std::uint64_t(frames)));
    } else {
      return where +
             ": the grain encoder uses conv1d, linear, layer_norm, residual, flatten and "
             "activations only";
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

bool is_whole(const Json& v) {
  return v.is_number() && std::isfinite(v.get<double>()) &&
         std::floor(v.get<double>()) == v.get<double>();
}

// Empty when meta[key] is a whole number within [lo, hi], with *value set.
std::string whole_in(const Json& meta, const char* key, int lo, int hi, int* value,
                     const std::string& meaning) {
  const auto it = meta.find(key);
  if (it == meta.end() || !is_whole(*it))
    return std::string("metadata has no whole number '") + key + "' (" + meaning + ")";
  const double v = it->get<double>();
  if (v < lo || v > hi)
    return std::string("metadata '") + key + "' is " + text_of(v) + ", outside " +
           std::to_string(lo) + "-" + std::to_string(hi) + " (" + meaning + ")";
  *value = int(v);
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

// Empty when meta[key] holds `rows` lists of `columns` numbers within +-kMaxValue.
std::string check_rows(const Json& meta, const char* key, std::size_t rows, std::size_t columns,
                       const std::string& meaning) {
  const std::string what = std::string("metadata '") + key + "'";
  const auto it = meta.find(key);
  if (it == meta.end() || !it->is_array() || it->size() != rows)
    return what + " must hold " + std::to_string(rows) + " lists of " + std::to_string(columns) +
           " numbers (" + meaning + ")";
  for (const auto& row : *it)
    if (auto e = check_floats(row, columns, what + " entry", GrainsModel::kMaxValue); !e.empty())
      return e;
  return "";
}

std::string check_text(const Json& meta, const std::string& what, const char* key,
                       const char* expected) {
  const auto it = meta.find(key);
  if (it == meta.end() || !it->is_string())
    return what + " has no '" + key + "' (expected \"" + expected + "\")";
  if (it->get<std::string>() != expected)
    return what + " '" + key + "' is \"" + it->get<std::string>() +
           "\", this engine implements \"" + expected + "\"";
  return "";
}

std::string check_noise(const Json& meta) {
  const std::string what = "metadata 'noise'";
  const auto it = meta.find("noise");
  if (it == meta.end() || !it->is_object())
    return what + " (distribution, low, high, generator, seed) is missing";
  const Json& noise = *it;
  if (auto e = check_text(noise, what, "distribution", "uniform"); !e.empty()) return e;
  if (auto e = check_text(noise, what, "generator", "xorshift32"); !e.empty()) return e;
  for (const auto& [key, value] : {std::pair<const char*, double>{"low", -1.0}, {"high", 1.0}}) {
    const auto v = noise.find(key);
    if (v == noise.end() || !v->is_number() || v->get<double>() != value)
      return what + " '" + key + "' must be " + text_of(value);
  }
  const auto seed = noise.find("seed");
  if (seed == noise.end() || !is_whole(*seed) || seed->get<double>() < 1 ||
      seed->get<double>() > 4294967295.0)
    return what + " 'seed' must be a whole number 1-4294967295 (xorshift32 stays at 0)";
  return "";
}

std::string check_class_names(const Json& meta) {
  const auto names = meta.find("classes");
  if (names == meta.end() || !names->is_array() || names->empty() ||
      names->size() > std::size_t(GrainsModel::kMaxClasses))
    return "metadata 'classes' must list 1-" + std::to_string(GrainsModel::kMaxClasses) +
           " class names (the one-hot order)";
  std::set<std::string> seen;
  for (const auto& n : *names) {
    if (!n.is_string() || n.get<std::string>().empty() || n.get<std::string>().size() > 64)
      return "metadata 'classes' must hold names of 1-64 characters";
    if (!seen.insert(n.get<std::string>()).second)
      return "metadata 'classes' names '" + n.get<std::string>() + "' twice";
  }
  return "";
}

std::string check_post_filter(const Json& meta) {
  const auto pp = meta.find("post_processing");
  if (pp == meta.end() || !pp->is_boolean())
    return "metadata has no 'post_processing' (true or false)";
  const auto taps = meta.find("post_filter");
  if (taps == meta.end() || !taps->is_array())
    return "metadata has no 'post_filter' (the FIR taps; empty without post-processing)";
  if (!pp->get<bool>()) {
    if (!taps->empty())
      return "metadata 'post_filter' holds " + std::to_string(taps->size()) +
             " taps, but 'post_processing' is false";
    return "";
  }
  if (taps->empty() || taps->size() > std::size_t(GrainsModel::kMaxTaps))
    return "metadata 'post_filter' holds " + std::to_string(taps->size()) + " taps, expected 1-" +
           std::to_string(GrainsModel::kMaxTaps);
  return check_floats(*taps, taps->size(), "metadata 'post_filter'", GrainsModel::kMaxValue);
}

std::string check_grain_map(const Json& meta, int latent, int classes) {
  const std::string what = "metadata 'grain_map'";
  const auto it = meta.find("grain_map");
  if (it == meta.end() || !it->is_object())
    return what + " (mean, axes, extent, class_points of the grain plane) is missing";
  const Json& map = *it;
  const double bound = GrainsModel::kMaxValue;
  if (!map.contains("mean")) return what + " has no 'mean'";
  if (auto e = check_floats(map["mean"], std::size_t(latent), what + " 'mean'", bound); !e.empty())
    return e;
  if (!map.contains("axes") || !map["axes"].is_array() || map["axes"].size() != 2)
    return what + " 'axes' must be two lists of " + std::to_string(latent) + " numbers";
  for (const auto& axis : map["axes"])
    if (auto e = check_floats(axis, std::size_t(latent), what + " axis", bound); !e.empty())
      return e;
  double uu = 0.0, uv = 0.0, vv = 0.0;
  for (std::size_t d = 0; d < std::size_t(latent); ++d) {
    const double u = map["axes"][0][d].get<double>(), v = map["axes"][1][d].get<double>();
    uu += u * u;
    uv += u * v;
    vv += v * v;
  }
  if (!(uu * vv - uv * uv > 1e-12 * std::max(1.0, uu * vv)))
    return what + " 'axes' are zero or parallel: they must span a plane";
  if (!map.contains("extent")) return what + " has no 'extent' [x0, x1, y0, y1]";
  if (auto e = check_floats(map["extent"], 4, what + " 'extent' [x0, x1, y0, y1]", bound);
      !e.empty())
    return e;
  const Json& ext = map["extent"];
  if (!(ext[0].get<double>() < ext[1].get<double>() && ext[2].get<double>() < ext[3].get<double>()))
    return what + " 'extent' [x0, x1, y0, y1] needs x0 < x1 and y0 < y1";
  if (!map.contains("class_points") || !map["class_points"].is_array() ||
      map["class_points"].size() != std::size_t(classes))
    return what + " 'class_points' must hold one [x, y] per class (" + std::to_string(classes) +
           ")";
  for (const auto& p : map["class_points"])
    if (auto e = check_floats(p, 2, what + " class point", bound); !e.empty()) return e;
  return "";
}

// A pitched model's pitch_conditioning {code "gaussian_bumps", centres (1-128
// MIDI numbers in [0, 127]), width (0, 48]} and class_pitches (per class [lo,
// typical, hi], 0 <= lo <= typical <= hi <= 127); both absent: not pitched.
// *centres_out: how many pitch code values c holds after the one-hot.
std::string check_pitch(const Json& meta, int classes, int* centres_out) {
  *centres_out = 0;
  const auto it = meta.find("pitch_conditioning");
  if (it == meta.end()) {
    if (meta.contains("class_pitches"))
      return "metadata 'class_pitches' without 'pitch_conditioning'";
    return "";
  }
  const std::string what = "metadata 'pitch_conditioning'";
  if (!it->is_object()) return what + " must be an object {code, centres, width}";
  if (auto e = check_text(*it, what, "code", "gaussian_bumps"); !e.empty()) return e;
  const auto centres = it->find("centres");
  if (centres == it->end() || !centres->is_array() || centres->empty() ||
      centres->size() > std::size_t(GrainsModel::kMaxPitchCentres))
    return what + " 'centres' must list 1-" + std::to_string(GrainsModel::kMaxPitchCentres) +
           " MIDI pitches";
  if (auto e = check_floats(*centres, centres->size(), what + " 'centres'", 127.0); !e.empty())
    return e;
  for (const auto& m : *centres)
    if (m.get<double>() < 0.0) return what + " 'centres' must be MIDI pitches 0-127";
  const auto width = it->find("width");
  if (width == it->end() || !width->is_number() || !std::isfinite(width->get<double>()) ||
      !(width->get<double>() > 0.0) || width->get<double>() > 48.0)
    return what + " 'width' must be a number of semitones in (0, 48]";
  if (auto e = check_rows(meta, "class_pitches", std::size_t(classes), 3,
                          "per class, its lowest, typical and highest MIDI pitch");
      !e.empty())
    return e;
  for (const auto& row : meta["class_pitches"]) {
    const double lo = row[0].get<double>(), mid = row[1].get<double>(), hi = row[2].get<double>();
    if (!(0.0 <= lo && lo <= mid && mid <= hi && hi <= 127.0))
      return "metadata 'class_pitches' rows must be MIDI pitches with 0 <= lo <= typical <= hi "
             "<= 127";
  }
  *centres_out = int(centres->size());
  return "";
}

std::string check_metadata(const Json& meta, int* latent_out, int* embedding_out,
                           int* conditions_out) {
  struct Fixed {
    const char* key;
    double value;
  };
  for (const Fixed& f :
       {Fixed{"sample_rate", GrainsModel::kSampleRate}, Fixed{"grain", GrainsModel::kGrain},
        Fixed{"hop", GrainsModel::kHop}, Fixed{"bins", GrainsModel::kBins}}) {
    const auto it = meta.find(f.key);
    if (it == meta.end() || !it->is_number())
      return std::string("metadata has no '") + f.key + "' (expected " + text_of(f.value) + ")";
    const double v = it->get<double>();
    if (v != f.value)
      return std::string("metadata '") + f.key + "' is " +
             (std::isfinite(v) ? text_of(v) : "not finite") + ", this engine needs " +
             text_of(f.value);
  }
  int grains = 0, samples = 0, latent = 0, embedding = 0;
  if (auto e = whole_in(meta, "grains", 1, GrainsModel::kMaxGrains, &grains, "grains per one-shot");
      !e.empty())
    return e;
  if (auto e = whole_in(meta, "samples", 1,
                        (GrainsModel::kMaxGrains - 1) * GrainsModel::kHop + GrainsModel::kGrain,
                        &samples, "one-shot length");
      !e.empty())
    return e;
  if (samples != (grains - 1) * GrainsModel::kHop + GrainsModel::kGrain)
    return "metadata 'samples' is " + std::to_string(samples) + ", but " + std::to_string(grains) +
           " grains make (g - 1) 512 + 2048 = " +
           std::to_string((grains - 1) * GrainsModel::kHop + GrainsModel::kGrain);
  if (auto e = whole_in(meta, "latent", 1, GrainsModel::kMaxLatent, &latent, "d_z"); !e.empty())
    return e;
  if (auto e = whole_in(meta, "embedding", 1, GrainsModel::kMaxEmbedding, &embedding, "d_e");
      !e.empty())
    return e;
  if (auto e = check_class_names(meta); !e.empty()) return e;
  const int classes = int(meta["classes"].size());
  const auto gain = meta.find("encoder_input_gain");
  if (gain == meta.end() || !gain->is_number() || !std::isfinite(gain->get<double>()) ||
      !(gain->get<double>() > 0) || gain->get<double>() > 1e6)
    return "metadata 'encoder_input_gain' must be a number in (0, 1e6]";
  if (meta.contains("encoder_gain_folded") && !meta["encoder_gain_folded"].is_boolean())
    return "metadata 'encoder_gain_folded' must be true or false";
  if (auto e = check_text(meta, "metadata", "conditioning", "one_hot_after_input"); !e.empty())
    return e;
  if (auto e = check_text(meta, "metadata", "window", "hann_periodic_flat_ends"); !e.empty())
    return e;
  if (auto e = check_text(meta, "metadata", "ola_normalisation", "window_sum"); !e.empty())
    return e;
  if (auto e = check_text(meta, "metadata", "filter", "softplus_magnitude_zero_phase"); !e.empty())
    return e;
  if (auto e = check_noise(meta); !e.empty()) return e;
  if (auto e = check_post_filter(meta); !e.empty()) return e;
  if (auto e = check_grain_map(meta, latent, classes); !e.empty()) return e;
  if (auto e = check_rows(meta, "onset_centroids", std::size_t(classes), std::size_t(latent),
                          "per class, the mean grain-0 latent: one list of latent numbers each");
      !e.empty())
    return e;
  if (auto e = check_rows(meta, "class_embeddings", std::size_t(classes), std::size_t(embedding),
                          "per class, the mean embedding: one list of embedding numbers each");
      !e.empty())
    return e;
  int centres = 0;
  if (auto e = check_pitch(meta, classes, &centres); !e.empty()) return e;
  *latent_out = latent;
  *embedding_out = embedding;
  *conditions_out = classes + centres;
  return "";
}

struct GraphCheck {
  std::string problem;
  std::uint64_t hop_work = 0, encode_work = 0;
};

// conditions: the values of c (classes, plus a pitched model's pitch code).
GraphCheck check_graphs(const nn::Model& model, int latent, int embedding, int conditions) {
  GraphCheck r;
  for (const char* name :
       {"grain_encoder", "grain_decoder", "sequence_encoder", "embedding", "sequence_decoder"})
    if (!model.has_graph(name)) {
      r.problem = std::string("no '") + name + "' graph";
      return r;
    }
  const std::string zc = std::to_string(latent + conditions) + " ([z, c]: latent " +
                         std::to_string(latent) + " + conditioning " + std::to_string(conditions) +
                         ")";
  auto fail = [&r](std::string problem) {
    r.problem = std::move(problem);
    return r;
  };
  auto frame_wise_problem = [](const nn::Graph& g, const std::string& name, bool gru_allowed) {
    for (std::size_t i = 0; i < g.size(); ++i) {
      const std::string kind = g.layer(i).kind();
      if (!frame_wise(kind) && !(gru_allowed && kind == "gru"))
        return "graph '" + name + "' op " + std::to_string(i) + " (" + kind + "): this graph " +
               (gru_allowed ? "takes gru, " : "takes ") +
               "linear, layer_norm, residual and activations only";
    }
    return std::string();
  };

  // Grain encoder: [2048, 1] -> [1, 2 d_z].
  const nn::Graph& encoder = model.graph("grain_encoder");
  if (encoder.input_size() != 1)
    return fail("graph 'grain_encoder' takes " + std::to_string(encoder.input_size()) +
                " values per frame, expected 1 (the grain's samples)");
  GrainsModel::Plan plan;
  if (auto p = make_plan(encoder, "grain_encoder", GrainsModel::kGrain, &plan); !p.empty())
    return fail(p);
  if (plan.out_frames != 1 || plan.out_channels != 2 * latent)
    return fail("graph 'grain_encoder' maps [2048, 1] to [" + std::to_string(plan.out_frames) +
                ", " + std::to_string(plan.out_channels) + "], expected [1, " +
                std::to_string(2 * latent) + "] (mean and log-variance, latent " +
                std::to_string(latent) + " each)");
  if (plan.work > GrainsModel::kMaxEncodeWork)
    return fail("graph 'grain_encoder' costs " + std::to_string(plan.work) +
                " multiply-adds per grain, more than the limit of " +
                std::to_string(GrainsModel::kMaxEncodeWork) + " (it runs at every beat-box onset)");
  r.encode_work = plan.work;

  // Grain decoder: [z, c] -> 1025.
  const nn::Graph& decoder = model.graph("grain_decoder");
  if (auto p = frame_wise_problem(decoder, "grain_decoder", false); !p.empty()) return fail(p);
  if (decoder.layer(decoder.size() - 1).kind() != "softplus")
    return fail("graph 'grain_decoder' must end in softplus (filter magnitudes H >= 0), not " +
                decoder.layer(decoder.size() - 1).kind());
  if (auto p = detail::graph_size_problem(decoder, "grain_decoder", latent + conditions,
                                          GrainsModel::kBins, "[z, c] -> 1025 filter magnitudes");
      !p.empty())
    return fail(p);

  // Sequence encoder and embedding head.
  const nn::Graph& seq_encoder = model.graph("sequence_encoder");
  if (auto p = frame_wise_problem(seq_encoder, "sequence_encoder", true); !p.empty())
    return fail(p);
  if (seq_encoder.input_size() != latent + conditions)
    return fail("graph 'sequence_encoder' takes " + std::to_string(seq_encoder.input_size()) +
                " values per grain, expected " + zc);
  const nn::Graph& head = model.graph("embedding");
  if (auto p = frame_wise_problem(head, "embedding", false); !p.empty()) return fail(p);
  if (auto p =
          detail::graph_size_problem(head, "embedding", seq_encoder.output_size(), 2 * embedding,
                                     "the sequence encoder's output -> mean and "
                                     "log-variance, embedding " +
                                         std::to_string(embedding) + " each");
      !p.empty())
    return fail(p);

  // Sequence decoder: exactly GRU then Linear.
  const nn::Graph& seq_decoder = model.graph("sequence_decoder");
  if (seq_decoder.size() != 2 || seq_decoder.layer(0).kind() != "gru" ||
      seq_decoder.layer(1).kind() != "linear")
    return fail(
        "graph 'sequence_decoder' must be exactly a gru then a linear (the engine keeps one GRU "
        "state per voice)");
  if (seq_decoder.input_size() != embedding + conditions)
    return fail("graph 'sequence_decoder' takes " + std::to_string(seq_decoder.input_size()) +
                " values per step, expected " + std::to_string(embedding + conditions) +
                " ([e, c]: embedding " + std::to_string(embedding) + " + conditioning " +
                std::to_string(conditions) + ")");
  if (seq_decoder.output_size() != latent)
    return fail("graph 'sequence_decoder' gives " + std::to_string(seq_decoder.output_size()) +
                " values per step, expected the latent " + std::to_string(latent));

  r.hop_work = add(graph_frame_work(decoder), graph_frame_work(seq_decoder));
  if (r.hop_work > GrainsModel::kMaxHopWork)
    return fail("graphs 'grain_decoder' + 'sequence_decoder' cost " + std::to_string(r.hop_work) +
                " multiply-adds per voice and hop, more than the limit of " +
                std::to_string(GrainsModel::kMaxHopWork) +
                " (9 voices run them every 512 samples on the audio thread)");
  return r;
}

void floats_into(const Json& v, std::vector<float>* out) {
  for (const auto& x : v) out->push_back(x.get<float>());
}

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

std::string GrainsModel::validate(const nn::Model& model) {
  if (model.family() != "grains")
    return "model family is '" + model.family() +
           "', not 'grains': this is not a neural granular drum model (Grains panel)";
  int latent = 0, embedding = 0, conditions = 0;
  if (auto p = check_metadata(metadata_of(model), &latent, &embedding, &conditions); !p.empty())
    return kPrefix + p;
  if (auto r = check_graphs(model, latent, embedding, conditions); !r.problem.empty())
    return kPrefix + r.problem;
  return "";
}

GrainsModel::LoadResult GrainsModel::load(const std::uint8_t* bytes, std::size_t size) {
  return detail::validated<GrainsModel>(nn::load_model(bytes, size), "");
}

GrainsModel::LoadResult GrainsModel::load_file(const std::string& path) {
  return detail::validated<GrainsModel>(nn::load_model_file(path), path + ": ");
}

GrainsModel::LoadResult GrainsModel::adopt(nn::ImageBlock image) {
  return detail::validated<GrainsModel>(nn::adopt_model_image(std::move(image)), "");
}

GrainsModel::GrainsModel(std::unique_ptr<nn::Model> model)
    : model_((detail::checked<GrainsModel>(model, "grains"), std::move(model))),
      encoder_plan_(std::make_unique<Plan>()) {
  const Json& meta = metadata_of(*model_);
  grains_ = meta["grains"].get<int>();
  latent_ = meta["latent"].get<int>();
  embedding_ = meta["embedding"].get<int>();
  for (const auto& n : meta["classes"]) class_names_.push_back(n.get<std::string>());
  if (meta.contains("pitch_conditioning")) {
    floats_into(meta["pitch_conditioning"]["centres"], &pitch_centres_);
    pitch_width_ = meta["pitch_conditioning"]["width"].get<float>();
    for (const auto& row : meta["class_pitches"]) floats_into(row, &class_pitches_);
  }
  noise_seed_ = meta["noise"]["seed"].get<std::uint32_t>();
  floats_into(meta["post_filter"], &post_filter_);
  // The exporter folds the gain into the first convolution; an unfolded file says so.
  if (meta.contains("encoder_gain_folded") && !meta["encoder_gain_folded"].get<bool>()) {
    input_gain_ = meta["encoder_input_gain"].get<float>();
    scaled_.assign(kGrain, 0.0f);
  }
  const Json& map = meta["grain_map"];
  floats_into(map["mean"], &map_.mean);
  for (const auto& axis : map["axes"]) floats_into(axis, &map_.axes);
  for (std::size_t i = 0; i < 4; ++i) map_.extent[i] = map["extent"][i].get<float>();
  for (const auto& p : map["class_points"]) floats_into(p, &map_.class_points);
  for (const auto& row : meta["onset_centroids"]) floats_into(row, &onset_centroids_);
  for (const auto& row : meta["class_embeddings"]) floats_into(row, &class_embeddings_);

  const GraphCheck check = check_graphs(*model_, latent_, embedding_, conditions());
  hop_work_ = check.hop_work;
  encode_work_ = check.encode_work;
  nn::Graph& encoder = model_->graph("grain_encoder");
  make_plan(encoder, "grain_encoder", kGrain, encoder_plan_.get());  // validate() checked it
  encoder_plan_->graph = &encoder;
  for (Plan::Step& step : encoder_plan_->steps)
    if (step.conv && step.in == 1) {
      const auto& shape = step.conv->shape();
      const float* w = step.conv->weight().data();  // [kernel, out, 1]
      step.mono.resize(std::size_t(shape.kernel) * std::size_t(shape.out));
      for (int j = 0; j < shape.kernel; ++j)
        for (int o = 0; o < shape.out; ++o)
          step.mono[std::size_t(o) * std::size_t(shape.kernel) + std::size_t(j)] =
              w[std::size_t(j) * std::size_t(shape.out) + std::size_t(o)];
    }
  buffer_a_.assign(encoder_plan_->largest, 0.0f);
  buffer_b_.assign(encoder_plan_->largest, 0.0f);
  posterior_.assign(std::size_t(2 * latent_), 0.0f);
  grain_decoder_ = &model_->graph("grain_decoder");
  nn::Graph& seq = model_->graph("sequence_decoder");
  sequence_gru_ = &seq.layer(0);
  sequence_linear_ = &seq.layer(1);
  sequence_hidden_ = sequence_gru_->output_size();
  gh_.assign(std::size_t(3 * sequence_hidden_), 0.0f);
}

GrainsModel::~GrainsModel() = default;

int GrainsModel::class_index(const std::string& name) const {
  const auto it = std::find(class_names_.begin(), class_names_.end(), name);
  return it == class_names_.end() ? -1 : int(it - class_names_.begin());
}

std::array<float, 3> GrainsModel::class_pitches(int k) const {
  if (!pitched() || k < 0 || k >= classes()) return {60.0f, 60.0f, 60.0f};
  const float* row = class_pitches_.data() + 3 * std::size_t(k);
  return {row[0], row[1], row[2]};
}

std::string GrainsModel::info_json() const {
  auto floats = [](const float* v, std::size_t n) {
    Json a = Json::array();
    for (std::size_t i = 0; i < n; ++i) a.push_back(double(v[i]));
    return a;
  };
  auto rows = [&floats](const std::vector<float>& v, std::size_t columns) {
    Json a = Json::array();
    for (std::size_t i = 0; i + columns <= v.size(); i += columns)
      a.push_back(floats(v.data() + i, columns));
    return a;
  };
  const std::size_t dz = std::size_t(latent_);
  Json info = {{"name", model_->name()},
               {"sampleRate", kSampleRate},
               {"grain", kGrain},
               {"hop", kHop},
               {"grains", grains_},
               {"samples", samples()},
               {"latent", latent_},
               {"embedding", embedding_},
               {"classes", class_names_},
               {"conditions", conditions()},
               {"pitched", pitched()},
               {"pitchCentres", floats(pitch_centres_.data(), pitch_centres_.size())},
               {"pitchWidth", double(pitch_width_)},
               {"classPitches", rows(class_pitches_, 3)},
               {"postFilterTaps", post_filter_.size()},
               {"noiseSeed", noise_seed_},
               {"grainMap",
                {{"mean", floats(map_.mean.data(), dz)},
                 {"axes", rows(map_.axes, dz)},
                 {"extent", floats(map_.extent.data(), 4)},
                 {"classPoints", rows(map_.class_points, 2)}}},
               {"onsetCentroids", rows(onset_centroids_, dz)},
               {"classEmbeddings", rows(class_embeddings_, std::size_t(embedding_))},
               {"hopWork", hop_work_},
               {"encodeWork", encode_work_}};
  return info.dump();
}

// --- inference ---------------------------------------------------------------------

void GrainsModel::condition(int class_a, int class_b, float mix, float pitch,
                            float* c) const noexcept {
  const int n = classes();
  const int a = std::clamp(class_a, 0, n - 1), b = std::clamp(class_b, 0, n - 1);
  const float m = std::isfinite(mix) ? std::clamp(mix, 0.0f, 1.0f) : 0.0f;
  std::fill(c, c + n, 0.0f);
  c[a] += 1.0f - m;
  c[b] += m;
  if (!pitched()) return;
  float p = pitch;
  if (!std::isfinite(p) || p < 0.0f)
    p = (1.0f - m) * class_pitches_[3 * std::size_t(a) + 1] +
        m * class_pitches_[3 * std::size_t(b) + 1];
  p = std::min(p, 127.0f);
  for (std::size_t k = 0; k < pitch_centres_.size(); ++k) {
    const float u = (p - pitch_centres_[k]) / pitch_width_;
    c[std::size_t(n) + k] = std::exp(-0.5f * u * u);
  }
}

void GrainsModel::grain_window(bool flat_start, bool flat_end, float* window) noexcept {
  constexpr double kTwoPi = 6.283185307179586;
  for (int m = 0; m < kGrain; ++m) {
    const bool flat = m < kGrain / 2 ? flat_start : flat_end;
    window[m] = flat ? 1.0f : float(0.5 - 0.5 * std::cos(kTwoPi * m / kGrain));
  }
}

void GrainsModel::decode_filter(const float* zc, float* magnitudes) noexcept {
  grain_decoder_->step(zc, magnitudes);
  for (int k = 0; k < kBins; ++k)
    magnitudes[k] = std::isfinite(magnitudes[k]) ? std::max(0.0f, magnitudes[k]) : 0.0f;
}

void GrainsModel::sequence_input(const float* ec, float* projected) const noexcept {
  const auto& gru = static_cast<const nn::Gru&>(*sequence_gru_);
  std::copy(gru.bias_ih().begin(), gru.bias_ih().end(), projected);
  simd::matvec_accumulate(gru.weight_ih().data(), ec, projected, 3 * sequence_hidden_,
                          gru.input_size());
}

void GrainsModel::sequence_step(const float* projected, float* h, float* z) noexcept {
  // nn::Gru's update (PyTorch gate order r, z, n) with the caller's state.
  const auto& gru = static_cast<const nn::Gru&>(*sequence_gru_);
  const int n = sequence_hidden_;
  float* gh = gh_.data();
  std::copy(gru.bias_hh().begin(), gru.bias_hh().end(), gh);
  simd::matvec_accumulate(gru.weight_hh().data(), h, gh, 3 * n, n);
  const float* gi = projected;
  for (int k = 0; k < n; ++k) {
    const float r = sigmoid(gi[k] + gh[k]);
    const float u = sigmoid(gi[n + k] + gh[n + k]);
    const float candidate = std::tanh(gi[2 * n + k] + r * gh[2 * n + k]);
    h[k] = (1.0f - u) * candidate + u * h[k];
  }
  sequence_linear_->step(h, z);
}

namespace {
// PyTorch's Conv1d over the whole input, zero padded (as nn::Conv1d::forward),
// without allocating.
void convolve(const GrainsModel::Plan::Step& s, const float* x, float* y) noexcept {
  const auto& shape = s.conv->shape();
  const float* bias = s.conv->bias().data();
  const float* w = s.conv->weight().data();
  const std::size_t matrix = std::size_t(shape.out) * std::size_t(shape.in);
  for (int t = 0; t < s.frames_out; ++t) {
    float* out = y + std::size_t(t) * std::size_t(s.out);
    std::copy(bias, bias + shape.out, out);
    const std::int64_t first = std::int64_t(t) * shape.stride - shape.padding_left;
    const bool inside = first >= 0 && first + std::int64_t(shape.kernel - 1) * shape.dilation <
                                          std::int64_t(s.frames_in);
    if (!s.mono.empty() && shape.dilation == 1 && inside) {
      for (int o = 0; o < shape.out; ++o)
        out[o] += simd::dot(s.mono.data() + std::size_t(o) * std::size_t(shape.kernel), x + first,
                            shape.kernel);
      continue;
    }
    for (int j = 0; j < shape.kernel; ++j) {
      const std::int64_t index = first + std::int64_t(j) * shape.dilation;
      if (index < 0 || index >= s.frames_in) continue;
      simd::matvec_accumulate(w + std::size_t(j) * matrix,
                              x + std::size_t(index) * std::size_t(shape.in), out, shape.out,
                              shape.in);
    }
  }
}
}  // namespace

void GrainsModel::encode_grain(const float* windowed, float* mu, float* logvar) noexcept {
  using Op = Plan::Op;
  Plan& plan = *encoder_plan_;
  const float* x = windowed;
  if (!scaled_.empty()) {
    for (int m = 0; m < kGrain; ++m) scaled_[std::size_t(m)] = input_gain_ * windowed[m];
    x = scaled_.data();
  }
  float* out = posterior_.data();
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Plan::Step& s = plan.steps[i];
    const bool last = i + 1 == plan.steps.size();
    if (s.op == Op::kReshape) {  // the same values in the same order
      if (last) std::copy(x, x + std::size_t(s.frames_out) * std::size_t(s.out), out);
      continue;
    }
    float* y = last ? out : (x == buffer_a_.data() ? buffer_b_.data() : buffer_a_.data());
    nn::Layer& layer = plan.graph->layer(i);
    if (s.op == Op::kConv) {
      convolve(s, x, y);
    } else {
      for (int t = 0; t < s.frames_in; ++t)
        layer.step(x + std::size_t(t) * std::size_t(s.in), y + std::size_t(t) * std::size_t(s.out));
    }
    x = y;
  }
  for (int d = 0; d < latent_; ++d) {
    const float m = posterior_[std::size_t(d)];
    const float v = posterior_[std::size_t(latent_ + d)];
    if (mu) mu[d] = std::isfinite(m) ? m : 0.0f;
    if (logvar) logvar[d] = std::isfinite(v) ? std::clamp(v, -12.0f, 6.0f) : 0.0f;
  }
}

int GrainsModel::nearest_onset_class(const float* mu) const noexcept {
  int best = 0;
  double best_d2 = std::numeric_limits<double>::infinity();
  for (int k = 0; k < classes(); ++k) {
    const float* c = onset_centroid(k);
    double d2 = 0.0;
    for (int d = 0; d < latent_; ++d) {
      const double e = double(mu[d]) - c[d];
      d2 += e * e;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = k;
    }
  }
  return best;
}

void GrainsModel::map_point(float x, float y, float* z) const noexcept {
  if (!std::isfinite(x)) x = 0.0f;
  if (!std::isfinite(y)) y = 0.0f;
  const std::size_t dz = std::size_t(latent_);
  for (std::size_t d = 0; d < dz; ++d)
    z[d] = map_.mean[d] + x * map_.axes[d] + y * map_.axes[dz + d];
}

void GrainsModel::map_coordinates(const float* z, float* x, float* y) const noexcept {
  const std::size_t dz = std::size_t(latent_);
  double a = 0.0, b = 0.0, aa = 0.0, bb = 0.0;
  for (std::size_t d = 0; d < dz; ++d) {
    const double c = double(z[d]) - map_.mean[d];
    a += c * map_.axes[d];
    b += c * map_.axes[dz + d];
    aa += double(map_.axes[d]) * map_.axes[d];
    bb += double(map_.axes[dz + d]) * map_.axes[dz + d];
  }
  *x = float(a / aa);
  *y = float(b / bb);
}

// --- offline -----------------------------------------------------------------------

GrainsModel::EncodedClip GrainsModel::encode_clip(const float* audio, std::size_t n,
                                                  const float* conditioning) {
  EncodedClip clip;
  const int g = grains_;
  const std::size_t dz = std::size_t(latent_);
  clip.grains = g;
  clip.mu.assign(std::size_t(g) * dz, 0.0f);
  std::vector<float> window(kGrain), grain(kGrain);
  for (int i = 0; i < g; ++i) {
    grain_window(i == 0, i == g - 1, window.data());
    for (int m = 0; m < kGrain; ++m) {
      const std::size_t at = std::size_t(i) * kHop + std::size_t(m);
      const float v = at < n && std::isfinite(audio[at]) ? audio[at] : 0.0f;
      grain[std::size_t(m)] = window[std::size_t(m)] * v;
    }
    encode_grain(grain.data(), clip.mu.data() + std::size_t(i) * dz, nullptr);
  }
  clip.onset_class = nearest_onset_class(clip.mu.data());
  const int c = conditions();
  std::vector<float> cond(std::size_t(c), 0.0f);
  if (conditioning)
    for (int k = 0; k < c; ++k)
      cond[std::size_t(k)] = std::isfinite(conditioning[k]) ? conditioning[k] : 0.0f;
  else
    condition(clip.onset_class, clip.onset_class, 0.0f, -1.0f, cond.data());
  nn::Sequence zc(g, latent_ + c);
  for (int i = 0; i < g; ++i) {
    std::copy(clip.mu.begin() + long(std::size_t(i) * dz),
              clip.mu.begin() + long(std::size_t(i + 1) * dz), zc.frame(i));
    std::copy(cond.begin(), cond.end(), zc.frame(i) + dz);
  }
  const nn::Sequence h = model_->graph("sequence_encoder").forward(zc);
  nn::Sequence last(1, h.channels);
  std::copy(h.frame(g - 1), h.frame(g - 1) + h.channels, last.frame(0));
  const nn::Sequence posterior = model_->graph("embedding").forward(last);
  const std::size_t de = std::size_t(embedding_);
  clip.mu_e.assign(posterior.frame(0), posterior.frame(0) + de);
  clip.logvar_e.assign(posterior.frame(0) + de, posterior.frame(0) + 2 * de);
  for (float& v : clip.mu_e) v = std::isfinite(v) ? v : 0.0f;
  for (float& v : clip.logvar_e) v = std::isfinite(v) ? std::clamp(v, -12.0f, 6.0f) : 0.0f;
  return clip;
}

}  // namespace timbrel::models
