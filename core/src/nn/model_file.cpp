#include "timbrel/nn/model_file.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "model_access.h"
#include "timbrel/nn/layers.h"
#include "timbrel/nn/model_limits.h"

namespace timbrel::nn {

using Json = nlohmann::json;

namespace {
// A JSON number as float: beyond float's range is +-Inf (a plain cast of such
// a double is undefined behaviour), which every check then rejects.
float to_float(double v) {
  if (v > 3.4028234663852886e38) return HUGE_VALF;
  if (v < -3.4028234663852886e38) return -HUGE_VALF;
  return static_cast<float>(v);
}
}  // namespace

Model::Model() : metadata_(std::make_unique<Metadata>()) {}
Model::~Model() = default;

const Weights* Model::prepared(const std::string& name) const {
  const auto it = prepared_.find(name);
  return it == prepared_.end() ? nullptr : &it->second;
}

std::vector<std::string> Model::graph_names() const {
  std::vector<std::string> names;
  for (const auto& [name, graph] : graphs_) names.push_back(name);
  return names;
}

double Model::number(const std::string& key, double fallback) const {
  const auto it = metadata_->json.find(key);
  return it != metadata_->json.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string Model::text(const std::string& key, const std::string& fallback) const {
  const auto it = metadata_->json.find(key);
  return it != metadata_->json.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::vector<std::string> Model::texts(const std::string& key) const {
  std::vector<std::string> out;
  const auto it = metadata_->json.find(key);
  if (it == metadata_->json.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::vector<float> Model::numbers(const std::string& key) const {
  std::vector<float> out;
  const auto it = metadata_->json.find(key);
  if (it == metadata_->json.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_number()) out.push_back(to_float(v.get<double>()));
  return out;
}

std::string Model::metadata_json() const { return metadata_->json.dump(); }

// Slicing-by-8 (eight 256-entry tables, 8 bytes per step): about 5x the
// byte-at-a-time loop, which matters in the page, where a model is loaded on
// the audio thread and the checksum was most of a 5 MB model's load time.
std::uint32_t crc32(const std::uint8_t* bytes, std::size_t size, std::uint32_t previous) {
  static const auto tables = [] {
    std::vector<std::uint32_t> t(8 * 256);
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    for (std::size_t k = 1; k < 8; ++k)
      for (std::size_t i = 0; i < 256; ++i)
        t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[t[(k - 1) * 256 + i] & 0xFFu];
    return t;
  }();
  const std::uint32_t* t = tables.data();
  std::uint32_t crc = previous ^ 0xFFFFFFFFu;
  for (; size >= 8; size -= 8, bytes += 8) {
    const std::uint32_t one = crc ^ (std::uint32_t(bytes[0]) | std::uint32_t(bytes[1]) << 8 |
                                     std::uint32_t(bytes[2]) << 16 | std::uint32_t(bytes[3]) << 24);
    const std::uint32_t two = std::uint32_t(bytes[4]) | std::uint32_t(bytes[5]) << 8 |
                              std::uint32_t(bytes[6]) << 16 | std::uint32_t(bytes[7]) << 24;
    crc = t[7 * 256 + (one & 0xFFu)] ^ t[6 * 256 + ((one >> 8) & 0xFFu)] ^
          t[5 * 256 + ((one >> 16) & 0xFFu)] ^ t[4 * 256 + (one >> 24)] ^
          t[3 * 256 + (two & 0xFFu)] ^ t[2 * 256 + ((two >> 8) & 0xFFu)] ^
          t[1 * 256 + ((two >> 16) & 0xFFu)] ^ t[two >> 24];
  }
  for (; size > 0; --size, ++bytes) crc = t[(crc ^ *bytes) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

namespace {

std::uint32_t read_u32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}

// IEEE 754 binary16 -> float, exactly (subnormals, infinities and NaN included:
// the loader then refuses the last two like float32 ones).
float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(float(mantissa), -24);  // zero or subnormal
  else if (exponent == 31)
    magnitude =
        mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else
    magnitude = std::ldexp(float(mantissa | 0x400u), int(exponent) - 25);
  std::uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  bits |= sign;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

struct Tensor {
  std::vector<int> shape;
  std::vector<float> data;
  int uses = 0;  // ops naming it, counted before any is built: the last one takes the data
};

std::string shape_text(const std::vector<int>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The body list of a residual op, or null for any other op (or a malformed one).
const Json* residual_body(const Json& op) {
  if (!op.is_object()) return nullptr;
  const auto kind = op.find("op");
  if (kind == op.end() || *kind != "residual") return nullptr;
  const auto body = op.find("ops");
  return body != op.end() && body->is_array() ? &*body : nullptr;
}

}  // namespace

// Builds a Model from a parsed file, one check at a time; the first problem
// found becomes the error.
struct ModelLoader {
  std::map<std::string, Tensor> tensors;
  std::set<std::string> used;
  std::string error;
  std::uint64_t parameters = 0;  // floats the ops' weights hold so far (limits::kMaxParameters)

  bool fail(const std::string& message) {
    if (error.empty()) error = message;
    return false;
  }

  // Takes a tensor an op names, checking its shape.
  bool take(const Json& op, const char* field, const std::string& where,
            const std::vector<int>& expected, std::vector<float>* out, bool optional = false) {
    const auto it = op.find(field);
    if (it == op.end() || it->is_null()) {
      if (optional) return true;
      return fail(where + ": no '" + field + "' tensor named");
    }
    if (!it->is_string()) return fail(where + ": '" + field + "' must be a tensor name");
    const std::string name = it->get<std::string>();
    const auto t = tensors.find(name);
    if (t == tensors.end()) return fail(where + ": missing tensor '" + name + "'");
    if (t->second.shape != expected)
      return fail(where + ": tensor '" + name + "' has wrong shape " + shape_text(t->second.shape) +
                  ", expected " + shape_text(expected));
    if (!limits::checked_add(parameters, t->second.data.size(), &parameters) ||
        parameters > limits::kMaxParameters)
      return fail(where + ": the ops' weights hold more than " +
                  std::to_string(limits::kMaxParameters) +
                  " values in all (limit; a tensor named twice counts twice)");
    if (t->second.data.empty())  // every tensor holds >= 1 value: taken by an op already
      return fail(where + ": tensor '" + name + "' is named by more ops than were counted");
    used.insert(name);
    // The last op to name it takes the data (no copy); earlier ones copy it.
    if (--t->second.uses <= 0)
      *out = std::move(t->second.data);
    else
      *out = t->second.data;
    return true;
  }

  // Shape of a named tensor, for ops whose sizes come from their weights.
  const std::vector<int>* shape_of(const Json& op, const char* field) {
    const auto it = op.find(field);
    if (it == op.end() || !it->is_string()) return nullptr;
    const auto t = tensors.find(it->get<std::string>());
    return t == tensors.end() ? nullptr : &t->second.shape;
  }

  // An op's whole-number field: `fallback` when absent or null; false (and the
  // error set) when present but not a whole number in low..high.
  bool integer(const Json& op, const char* field, const std::string& where, std::int64_t fallback,
               std::int64_t low, std::int64_t high, std::int64_t* out) {
    const auto it = op.find(field);
    if (it == op.end() || it->is_null()) {
      *out = fallback;
      return true;
    }
    bool whole = false;
    std::int64_t value = 0;
    if (it->is_number_unsigned()) {
      const auto u = it->get<std::uint64_t>();
      whole = u <= std::uint64_t(high);
      value = whole ? std::int64_t(u) : high;
    } else if (it->is_number_integer()) {
      value = it->get<std::int64_t>();
      whole = value <= high;
    }
    if (!whole || value < low)
      return fail(where + ": '" + field + "' must be a whole number in " + std::to_string(low) +
                  "-" + std::to_string(high));
    *out = value;
    return true;
  }
  static float real(const Json& op, const char* field, float fallback) {
    const auto it = op.find(field);
    return it != op.end() && it->is_number() ? to_float(it->get<double>()) : fallback;
  }

  // previous: output size of the previous op (0 at the start of a graph);
  // next_input: input size of the next op if known (for flatten).
  std::unique_ptr<Layer> build(const Json& op, const std::string& where, int previous,
                               int next_input) {
    if (!op.is_object() || !op.contains("op") || !op["op"].is_string()) {
      fail(where + ": an op must be an object with an 'op' name");
      return nullptr;
    }
    const std::string kind = op["op"].get<std::string>();
    auto need_previous = [&]() {
      if (previous <= 0) fail(where + ": " + kind + " cannot start a graph (its size is unknown)");
      return previous > 0;
    };
    auto ranked = [&](const char* field, size_t rank) -> const std::vector<int>* {
      const auto* s = shape_of(op, field);
      if (!s) {
        fail(where + ": missing tensor for '" + field + "'");
        return nullptr;
      }
      if (s->size() != rank) {
        fail(where + ": tensor for '" + field + "' has wrong shape " + shape_text(*s));
        return nullptr;
      }
      return s;
    };
    if (kind == "linear") {
      const auto* s = ranked("weight", 2);
      if (!s) return nullptr;
      const int out = (*s)[0], in = (*s)[1];
      if (previous > 0 && previous != in)
        return fail(where + ": linear weight has wrong shape " + shape_text(*s) + " for " +
                    std::to_string(previous) + " inputs"),
               nullptr;
      std::vector<float> w, b;
      if (!take(op, "weight", where, {out, in}, &w) || !take(op, "bias", where, {out}, &b, true))
        return nullptr;
      return std::make_unique<Linear>(in, out, std::move(w), std::move(b));
    }
    if (kind == "conv1d") {
      const auto* s = ranked("weight", 3);
      if (!s) return nullptr;
      limits::ConvSizes sizes;
      sizes.kernel = (*s)[0];
      sizes.out = (*s)[1];
      sizes.in = (*s)[2];
      const auto top = std::int64_t(limits::kMaxDimension);
      if (!integer(op, "stride", where, 1, 1, top, &sizes.stride) ||
          !integer(op, "dilation", where, 1, 1, top, &sizes.dilation) ||
          !integer(op, "padding_left", where, 0, 0, top, &sizes.padding_left) ||
          !integer(op, "padding_right", where, 0, 0, top, &sizes.padding_right))
        return nullptr;
      if (auto problem = limits::conv1d_problem(sizes); !problem.empty())
        return fail(where + ": " + problem), nullptr;
      Conv1d::Shape shape;
      shape.kernel = int(sizes.kernel);
      shape.out = int(sizes.out);
      shape.in = int(sizes.in);
      shape.stride = int(sizes.stride);
      shape.dilation = int(sizes.dilation);
      shape.padding_left = int(sizes.padding_left);
      shape.padding_right = int(sizes.padding_right);
      if (previous > 0 && previous != shape.in)
        return fail(where + ": conv1d weight has wrong shape " + shape_text(*s) + " for " +
                    std::to_string(previous) + " input channels"),
               nullptr;
      std::vector<float> w, b;
      if (!take(op, "weight", where, {shape.kernel, shape.out, shape.in}, &w) ||
          !take(op, "bias", where, {shape.out}, &b, true))
        return nullptr;
      return std::make_unique<Conv1d>(shape, std::move(w), std::move(b));
    }
    if (kind == "gru") {
      const auto* s = ranked("weight_ih", 2);
      if (!s) return nullptr;
      if ((*s)[0] % 3 != 0) return fail(where + ": gru weight_ih rows must be 3 x hidden"), nullptr;
      const int hidden = (*s)[0] / 3, in = (*s)[1];
      if (previous > 0 && previous != in)
        return fail(where + ": gru weight_ih has wrong shape " + shape_text(*s) + " for " +
                    std::to_string(previous) + " inputs"),
               nullptr;
      std::vector<float> wih, whh, bih, bhh;
      if (!take(op, "weight_ih", where, {3 * hidden, in}, &wih) ||
          !take(op, "weight_hh", where, {3 * hidden, hidden}, &whh) ||
          !take(op, "bias_ih", where, {3 * hidden}, &bih, true) ||
          !take(op, "bias_hh", where, {3 * hidden}, &bhh, true))
        return nullptr;
      return std::make_unique<Gru>(in, hidden, std::move(wih), std::move(whh), std::move(bih),
                                   std::move(bhh));
    }
    if (kind == "layer_norm") {
      const auto* s = ranked("weight", 1);
      if (!s) return nullptr;
      const int channels = (*s)[0];
      if (previous > 0 && previous != channels)
        return fail(where + ": layer_norm weight has wrong shape " + shape_text(*s)), nullptr;
      std::vector<float> w, b;
      if (!take(op, "weight", where, {channels}, &w) || !take(op, "bias", where, {channels}, &b))
        return nullptr;
      const float eps = real(op, "eps", 1e-5f);
      if (!(eps > 0.0f)) return fail(where + ": layer_norm eps must be > 0"), nullptr;
      return std::make_unique<LayerNorm>(channels, eps, std::move(w), std::move(b));
    }
    if (kind == "vq") {
      const auto* s = ranked("codebook", 2);
      if (!s) return nullptr;
      const int codes = (*s)[0], dim = (*s)[1];
      if (previous > 0 && previous != dim)
        return fail(where + ": vq codebook has wrong shape " + shape_text(*s)), nullptr;
      std::vector<float> c;
      if (!take(op, "codebook", where, {codes, dim}, &c)) return nullptr;
      return std::make_unique<VectorQuantizer>(codes, dim, std::move(c));
    }
    if (kind == "flatten") {
      if (!need_previous()) return nullptr;
      std::int64_t frames = 0;
      if (!integer(op, "frames", where, 0, 1, std::int64_t(limits::kMaxDimension), &frames))
        return nullptr;
      if (frames <= 0 && next_input > 0 && next_input % previous == 0)
        frames = next_input / previous;
      if (frames <= 0)
        return fail(where + ": flatten needs 'frames' (or a following op whose input is frames x " +
                    std::to_string(previous) + ")"),
               nullptr;
      if (auto problem = limits::flatten_problem(frames, previous); !problem.empty())
        return fail(where + ": " + problem), nullptr;
      return std::make_unique<Flatten>(int(frames), previous);
    }
    if (kind == "unflatten") {
      if (!need_previous()) return nullptr;
      std::int64_t frames = 0;
      if (!integer(op, "frames", where, 0, 1, std::int64_t(limits::kMaxDimension), &frames))
        return nullptr;
      // Unlike flatten's, the frame count cannot be inferred: the next op's input is C alone.
      if (frames <= 0)
        return fail(where + ": unflatten needs 'frames' (F of its [F, C] output)"), nullptr;
      if (auto problem = limits::unflatten_problem(frames, previous); !problem.empty())
        return fail(where + ": " + problem), nullptr;
      return std::make_unique<Unflatten>(int(frames), previous / int(frames));
    }
    if (kind == "residual") return build_residual(op, where, previous);
    static const std::map<std::string, ActivationKind> activations = {
        {"relu", ActivationKind::kRelu},       {"leaky_relu", ActivationKind::kLeakyRelu},
        {"elu", ActivationKind::kElu},         {"tanh", ActivationKind::kTanh},
        {"sigmoid", ActivationKind::kSigmoid}, {"softplus", ActivationKind::kSoftplus},
        {"log1p", ActivationKind::kLog1p}};
    if (const auto a = activations.find(kind); a != activations.end()) {
      if (!need_previous()) return nullptr;
      float p = 0.0f, q = 0.0f;
      if (kind == "leaky_relu") p = real(op, "slope", 0.01f);
      if (kind == "elu") p = real(op, "alpha", 1.0f);
      if (kind == "softplus") {
        p = real(op, "beta", 1.0f);
        q = real(op, "threshold", 20.0f);
        if (!(p > 0.0f)) return fail(where + ": softplus beta must be > 0"), nullptr;
      }
      return std::make_unique<Activation>(a->second, previous, p, q);
    }
    fail(where + ": unknown op '" + kind + "'");
    return nullptr;
  }

  // y = x + body(x): builds the body's ops (frame-wise only, no nested
  // residual) from `previous` values, or from the first body op's weights at the
  // start of a graph, and checks that the body ends at the width it started from.
  std::unique_ptr<Layer> build_residual(const Json& op, const std::string& where, int previous) {
    const auto it = op.find("ops");
    if (it == op.end() || !it->is_array())
      return fail(where + ": residual needs 'ops', the list of its body's ops"), nullptr;
    if (auto problem = limits::residual_body_problem(std::int64_t(it->size())); !problem.empty())
      return fail(where + ": " + problem), nullptr;
    static const std::set<std::string> elsewhere = {"conv1d", "gru", "vq", "flatten", "unflatten"};
    std::vector<std::unique_ptr<Layer>> body;
    int width = previous, current = previous;
    for (size_t j = 0; j < it->size(); ++j) {
      const Json& inner = (*it)[j];
      const std::string inner_where = where + " body op " + std::to_string(j);
      if (inner.is_object() && inner.contains("op") && inner["op"].is_string()) {
        const std::string inner_kind = inner["op"].get<std::string>();
        if (inner_kind == "residual")
          return fail(inner_where + ": a residual cannot be nested in a residual body"), nullptr;
        if (elsewhere.count(inner_kind))
          return fail(inner_where + ": '" + inner_kind +
                      "' is not allowed in a residual body (frame-wise ops only: linear, "
                      "layer_norm, activations)"),
                 nullptr;
      }
      auto layer = build(inner, inner_where, current, 0);
      if (!layer) return nullptr;
      if (current > 0 && layer->input_size() != current)
        return fail(inner_where + ": wrong shape, expects " + std::to_string(layer->input_size()) +
                    " inputs but receives " + std::to_string(current)),
               nullptr;
      if (auto p = limits::dimension_problem(inner_where + ": output size", layer->output_size());
          !p.empty())
        return fail(p), nullptr;
      if (width <= 0) width = layer->input_size();
      current = layer->output_size();
      body.push_back(std::move(layer));
    }
    if (current != width)
      return fail(where + ": residual body gives " + std::to_string(current) +
                  " values for an input of " + std::to_string(width) +
                  ": y = x + body(x) needs the same width"),
             nullptr;
    if (auto problem = Residual::body_problem(body); !problem.empty())
      return fail(where + ": " + problem), nullptr;
    return std::make_unique<Residual>(std::move(body));
  }

  // Input size an op will take, from its weights, without building it.
  int input_size_of(const Json& op) {
    if (!op.is_object() || !op.contains("op") || !op["op"].is_string()) return 0;
    const std::string kind = op["op"].get<std::string>();
    if (kind == "residual") {  // its first body op's, one level deep
      const auto it = op.find("ops");
      if (it == op.end() || !it->is_array() || it->empty()) return 0;
      const Json& first = it->front();
      const bool nested = first.is_object() && first.contains("op") && first["op"] == "residual";
      return nested ? 0 : input_size_of(first);
    }
    const char* field = kind == "gru" ? "weight_ih" : kind == "vq" ? "codebook" : "weight";
    const auto* s = shape_of(op, field);
    if (!s || s->empty()) return 0;
    if (kind == "linear" || kind == "gru") return s->size() == 2 ? (*s)[1] : 0;
    if (kind == "conv1d") return s->size() == 3 ? (*s)[2] : 0;
    if (kind == "vq") return s->size() == 2 ? (*s)[1] : 0;
    return 0;
  }
};

namespace detail {

namespace {
// The graphs every file of a family has; the family's validate() (models/)
// checks the rest of its contract (models/README.md).
const std::map<std::string, std::vector<std::string>>& required_graphs() {
  static const std::map<std::string, std::vector<std::string>> graphs = {
      {"vq_timbre", {"encoder", "decoder", "gain"}},
      {"crossmodal_vae", {"signal_encoder", "signal_decoder", "symbol_encoder", "symbol_decoder"}},
      {"gmvae", {"pitch_encoder", "timbre_encoder", "decoder"}},
      {"grains",
       {"grain_encoder", "grain_decoder", "sequence_encoder", "embedding", "sequence_decoder"}},
      {"test", {}}};
  return graphs;
}
}  // namespace

bool known_family(const std::string& family) { return required_graphs().count(family) != 0; }

bool check_metadata(const Json& meta, const std::string& family, std::string* problem) {
  auto number = [&](const char* key, double* value) {
    const auto it = meta.find(key);
    if (it == meta.end()) return false;
    if (!it->is_number()) {
      *problem = std::string("metadata '") + key + "' must be a number";
      return false;
    }
    *value = it->get<double>();
    return true;
  };
  double rate = 0, window = 0, hop = 0;
  if (number("sample_rate", &rate) && !(rate >= 8000 && rate <= 96000))
    return *problem = "metadata out of range: sample_rate " + std::to_string(rate) +
                      " Hz is outside 8000-96000 Hz",
           false;
  // A grains file's 'window' names its grain window (models/grains.h checks it).
  const bool has_window = family != "grains" && number("window", &window);
  const bool has_hop = number("hop", &hop);
  if (!problem->empty()) return false;
  if (has_window && !(window >= 2 && window <= 65536 && std::floor(window) == window))
    return *problem = "metadata out of range: window must be a whole number in 2-65536", false;
  if (has_hop && !(hop >= 1 && std::floor(hop) == hop && (!has_window || hop <= window)))
    return *problem = "metadata out of range: hop must be a whole number in 1..window", false;
  if (family == "vq_timbre" && (!has_window || !has_hop || rate == 0))
    return *problem = "vq_timbre metadata needs sample_rate, window and hop", false;
  return true;
}

}  // namespace detail

LoadResult load_model(const std::uint8_t* bytes, std::size_t size, const LoadOptions& options) {
  LoadResult result;
  auto fail = [&](const std::string& message) {
    result.error = "model file: " + message;
    return std::move(result);
  };
  if (!bytes || size < 16) return fail("truncated (" + std::to_string(size) + " bytes)");
  if (std::uint64_t(size) > limits::kMaxFileBytes)
    return fail("the file has " + std::to_string(size) + " bytes, more than the limit of " +
                std::to_string(limits::kMaxFileBytes));
  if (std::memcmp(bytes, "TMBL", 4) != 0)
    return fail("bad magic: not a Timbrel model (.tmbl) file");
  const std::uint32_t version = read_u32(bytes + 4);
  if (version != kModelFileVersion)
    return fail("unknown version " + std::to_string(version) + " (this build reads version " +
                std::to_string(kModelFileVersion) + ")");
  // size <= kMaxFileBytes and header_length < 2^32: no sum below wraps.
  const std::uint64_t header_length = read_u32(bytes + 8);
  if (12 + header_length + 4 > size)
    return fail("truncated: header of " + std::to_string(header_length) +
                " bytes does not fit in " + std::to_string(size) + " bytes");
  if (header_length > limits::kMaxHeaderBytes)
    return fail("header of " + std::to_string(header_length) + " bytes exceeds the limit of " +
                std::to_string(limits::kMaxHeaderBytes));
  const std::uint32_t stored_crc = read_u32(bytes + size - 4);
  if (crc32(bytes, size - 4) != stored_crc)
    return fail("checksum mismatch: the file is truncated or corrupted");

  // The parser recurses once per level: bound the nesting before it runs.
  if (auto problem = limits::json_depth_problem(bytes + 12, header_length); !problem.empty())
    return fail(problem);
  const Json header = Json::parse(bytes + 12, bytes + 12 + header_length, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return fail("header is not valid JSON");
  for (const char* key : {"family", "graphs", "tensors"})
    if (!header.contains(key)) return fail(std::string("header has no '") + key + "'");
  if (!header["family"].is_string()) return fail("'family' must be a string");
  if (!header["graphs"].is_object() || header["graphs"].empty())
    return fail("'graphs' must be a non-empty object");
  if (!header["tensors"].is_array()) return fail("'tensors' must be an array");
  const std::string family = header["family"].get<std::string>();
  const auto family_graphs = detail::required_graphs().find(family);
  if (family_graphs == detail::required_graphs().end())
    return fail("unknown model family '" + family + "'");

  const Json metadata = header.contains("metadata") ? header["metadata"] : Json::object();
  if (!metadata.is_object()) return fail("'metadata' must be an object");
  std::string problem;
  if (!detail::check_metadata(metadata, family, &problem)) return fail(problem);

  // Counts first: every loop below is then bounded.
  const Json& entries = header["tensors"];
  if (entries.size() > limits::kMaxTensors)
    return fail("the file lists " + std::to_string(entries.size()) +
                " tensors, more than the limit of " + std::to_string(limits::kMaxTensors));
  const Json& graphs = header["graphs"];
  if (graphs.size() > limits::kMaxGraphs)
    return fail("the file has " + std::to_string(graphs.size()) +
                " graphs, more than the limit of " + std::to_string(limits::kMaxGraphs));
  std::uint64_t layer_count = 0;
  for (const auto& [graph_name, ops] : graphs.items()) {
    if (!ops.is_array() || ops.empty())
      return fail("graph '" + graph_name + "' must be a non-empty list of ops");
    layer_count += ops.size();  // each below 2^32 (header size), at most 64 of them
    // A residual's body ops count as ops too (all within the header: no wrap).
    for (const auto& op : ops)
      if (const Json* body = residual_body(op)) layer_count += body->size();
  }
  if (layer_count > limits::kMaxLayers)
    return fail("the graphs hold " + std::to_string(layer_count) +
                " ops in all, more than the limit of " + std::to_string(limits::kMaxLayers));

  const std::uint64_t data_start = (12 + header_length + 15) / 16 * 16;
  const std::uint64_t data_end = size - 4;
  if (data_start > data_end) return fail("truncated: no room for tensor data");
  const std::uint64_t data_size = data_end - data_start;

  // Every entry is checked (shape, limits, bounds within the file) before any
  // tensor is copied, so the copies below hold at most kMaxParameters floats.
  struct Entry {
    std::string name;
    std::vector<int> shape;
    std::uint64_t offset = 0, count = 0;
    bool half = false;  // dtype "f16": widened to float32 here
  };
  std::vector<Entry> checked;
  checked.reserve(entries.size());
  std::uint64_t total = 0;
  for (const auto& entry : entries) {
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
        !entry.contains("shape") || !entry["shape"].is_array() || !entry.contains("offset") ||
        !entry["offset"].is_number_unsigned())
      return fail("a tensor entry lacks name, shape or offset");
    Entry e;
    e.name = entry["name"].get<std::string>();
    const Json& shape = entry["shape"];
    if (shape.empty() || shape.size() > limits::kMaxRank)
      return fail("tensor '" + e.name + "' has " + std::to_string(shape.size()) +
                  " dimensions, expected 1-" + std::to_string(limits::kMaxRank));
    e.count = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() == 0 ||
          d.get<std::uint64_t>() > limits::kMaxDimension)
        return fail("tensor '" + e.name + "' has an invalid shape: each dimension must be 1-" +
                    std::to_string(limits::kMaxDimension));
      e.shape.push_back(int(d.get<std::uint64_t>()));
      e.count *= d.get<std::uint64_t>();  // <= 2^24 x 2^16 (checked below): no wrap
      if (e.count > limits::kMaxParameters)
        return fail("tensor '" + e.name + "' has shape " + shape_text(e.shape) +
                    "...: more values than the limit of " + std::to_string(limits::kMaxParameters));
    }
    e.offset = entry["offset"].get<std::uint64_t>();
    if (e.offset % 16 != 0) return fail("tensor '" + e.name + "' is not 16-byte aligned");
    if (entry.contains("dtype")) {
      const Json& dtype = entry["dtype"];
      if (!dtype.is_string() || (dtype != "f32" && dtype != "f16"))
        return fail("tensor '" + e.name + "' has dtype " + dtype.dump() +
                    "; this engine reads \"f32\" and \"f16\"");
      e.half = dtype == "f16";
    }
    const std::uint64_t bytes_each = e.half ? 2 : 4;
    // Checked without wrapping: offset and bytes each within the data.
    if (e.offset > data_size || e.count * bytes_each > data_size - e.offset)
      return fail("truncated: tensor '" + e.name + "' (" + std::to_string(e.count * bytes_each) +
                  " bytes) lies outside the file's " + std::to_string(data_size) +
                  " bytes of tensor data");
    total += e.count;  // at most 4096 entries of at most 2^24
    if (total > limits::kMaxParameters)
      return fail("the tensors hold more than " + std::to_string(limits::kMaxParameters) +
                  " values in all (limit)");
    checked.push_back(std::move(e));
  }

  ModelLoader loader;
  for (Entry& e : checked) {
    if (loader.tensors.count(e.name)) return fail("tensor '" + e.name + "' appears twice");
    Tensor t;
    t.shape = std::move(e.shape);
    t.data.resize(size_t(e.count));
    if (e.half)
      for (std::size_t i = 0; i < size_t(e.count); ++i) {
        const std::uint8_t* h = bytes + data_start + e.offset + 2 * i;
        t.data[i] = half_to_float(std::uint16_t(h[0] | (h[1] << 8)));
      }
    else
      std::memcpy(t.data.data(), bytes + data_start + e.offset,
                  size_t(e.count) * 4);  // little-endian hosts
    for (float v : t.data)
      if (!std::isfinite(v)) return fail("tensor '" + e.name + "' contains NaN or Inf");
    loader.tensors.emplace(e.name, std::move(t));
  }

  auto model = detail::ModelAccess::make();
  detail::ModelAccess::set(*model, family,
                           header.contains("name") && header["name"].is_string()
                               ? header["name"].get<std::string>()
                               : "",
                           metadata);
  for (const auto& required : family_graphs->second)
    if (!graphs.contains(required)) return fail(family + " model has no '" + required + "' graph");
  // How many ops name each tensor (at most kMaxLayers x 7 look-ups), a
  // residual's body ops included.
  auto count_uses = [&](const Json& op) {
    if (op.is_object())
      for (const char* field :
           {"weight", "bias", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "codebook"})
        if (const auto it = op.find(field); it != op.end() && it->is_string())
          if (const auto t = loader.tensors.find(it->get<std::string>()); t != loader.tensors.end())
            ++t->second.uses;
  };
  for (const auto& [graph_name, ops] : graphs.items())
    for (const auto& op : ops) {
      count_uses(op);
      if (const Json* body = residual_body(op))
        for (const auto& inner : *body) count_uses(inner);
    }
  std::uint64_t fusion_budget = limits::kMaxFusionWork;
  for (const auto& [graph_name, ops] : graphs.items()) {
    Graph graph;
    int previous = 0;
    for (size_t i = 0; i < ops.size(); ++i) {
      const std::string where = "graph '" + graph_name + "' op " + std::to_string(i);
      const int next_input = i + 1 < ops.size() ? loader.input_size_of(ops[i + 1]) : 0;
      auto layer = loader.build(ops[i], where, previous, next_input);
      if (!layer) return fail(loader.error);
      // After a flatten too: its output is the next op's whole input.
      if (previous > 0 && layer->input_size() != previous)
        return fail(where + ": wrong shape, expects " + std::to_string(layer->input_size()) +
                    " inputs but receives " + std::to_string(previous));
      if (auto p = limits::dimension_problem(where + ": output size", layer->output_size());
          !p.empty())
        return fail(p);
      previous = layer->output_size();
      graph.add(std::move(layer));
    }
    if (options.fuse) graph.fuse_linear_into_gru(&fusion_budget);
    detail::ModelAccess::add_graph(*model, graph_name, std::move(graph));
  }
  for (const auto& [name, tensor] : loader.tensors)
    if (!loader.used.count(name)) return fail("extra tensor '" + name + "' is not used by any op");
  result.model = std::move(model);
  return result;
}

LoadResult load_model_file(const std::string& path, const LoadOptions& options) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return {nullptr, path + ": cannot open file"};
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                                  std::istreambuf_iterator<char>());
  auto result = load_model(bytes.data(), bytes.size(), options);
  if (!result.error.empty()) result.error = path + ": " + result.error;
  return result;
}

}  // namespace timbrel::nn
