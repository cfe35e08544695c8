#include "timbrel/models/code_analysis.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "model_loading.h"
#include "timbrel/dsp/frame_analysis.h"

namespace timbrel::models {

using Json = nlohmann::json;

namespace {

constexpr int kTableVersion = 1;
constexpr const char* kVoicedShareKey = "voiced_share";

struct DescriptorInfo {
  const char* name;
  const char* key;
  const char* unit;
  double rounding;  // stored to this step: keeps the header small, far below what is audible
};
constexpr DescriptorInfo kInfo[kDescriptorCount] = {
    {"centroid", "centroid_hz", "Hz", 0.01},  {"bandwidth", "bandwidth_hz", "Hz", 0.01},
    {"rolloff", "rolloff_hz", "Hz", 0.01},    {"flatness", "flatness", "", 1e-6},
    {"loudness", "loudness_db", "dB", 0.001}, {"f0", "f0_hz", "Hz", 0.01}};

double rounded(double v, double step) { return std::round(v / step) * step; }

Json column(const std::vector<float>& values, double step) {
  Json out = Json::array();
  for (float v : values) out.push_back(rounded(v, step));
  return out;
}

Json mode_json(const CodeDescriptors& d) {
  Json out = Json::object();
  for (Descriptor descriptor : kAllDescriptors)
    out[descriptor_key(descriptor)] = column(d[descriptor], kInfo[index_of(descriptor)].rounding);
  out[kVoicedShareKey] = column(d.voiced_share, 1e-4);
  return out;
}

std::string read_column(const Json& mode, const std::string& where, const char* key, int codes,
                        std::vector<float>* out) {
  const auto it = mode.find(key);
  if (it == mode.end()) return where + " has no '" + key + "'";
  if (!it->is_array()) return where + "." + key + " is not an array";
  if (int(it->size()) != codes)
    return where + "." + key + " has " + std::to_string(it->size()) + " entries, the model has " +
           std::to_string(codes) + " codes";
  out->assign(size_t(codes), 0.0f);
  for (int k = 0; k < codes; ++k) {
    const Json& v = (*it)[size_t(k)];
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      return where + "." + key + "[" + std::to_string(k) + "] is not a finite number";
    (*out)[size_t(k)] = v.get<float>();
  }
  return "";
}

// From a model image's columns (CodeDescriptors::columns()).
std::string read_columns(const nn::Weights& stored, const std::string& where, int codes,
                         CodeDescriptors* out) {
  constexpr int kColumns = kDescriptorCount + 1;
  if (stored.size() != size_t(kColumns) * size_t(codes))
    return where + " holds " + std::to_string(stored.size()) + " values, expected " +
           std::to_string(kColumns) + " columns of " + std::to_string(codes) + " codes";
  for (int c = 0; c < kColumns; ++c) {
    auto& column = c < kDescriptorCount ? out->values[size_t(c)] : out->voiced_share;
    column.assign(stored.begin() + size_t(c) * size_t(codes),
                  stored.begin() + size_t(c + 1) * size_t(codes));
    for (float v : column)
      if (!std::isfinite(v)) return where + " holds a value that is not a finite number";
  }
  return "";
}

std::string read_mode(const Json& table, const char* name, int codes, const nn::Weights* stored,
                      CodeDescriptors* out) {
  const std::string where = std::string("descriptor_table.") + name;
  if (stored) return read_columns(*stored, where, codes, out);
  const auto it = table.find(name);
  if (it == table.end() || !it->is_object())
    return "descriptor_table has no '" + std::string(name) + "' object";
  for (Descriptor d : kAllDescriptors)
    if (auto problem = read_column(*it, where, descriptor_key(d), codes, &(*out)[d]);
        !problem.empty())
      return problem;
  return read_column(*it, where, kVoicedShareKey, codes, &out->voiced_share);
}

double number_or(const Json& object, const char* key, double fallback) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

}  // namespace

const char* descriptor_name(Descriptor d) { return kInfo[index_of(d)].name; }
const char* descriptor_key(Descriptor d) { return kInfo[index_of(d)].key; }
const char* descriptor_unit(Descriptor d) { return kInfo[index_of(d)].unit; }

bool parse_descriptor(const std::string& text, Descriptor* d) {
  for (Descriptor candidate : kAllDescriptors)
    if (text == descriptor_name(candidate) || text == descriptor_key(candidate))
      return *d = candidate, true;
  return false;
}

std::string CodeAnalysis::to_json() const {
  Json table = Json::object();
  table["version"] = kTableVersion;
  table["reference"] = {{"f0_hz", rounded(reference.f0_hz, 0.01)},
                        {"loudness", reference.loudness},
                        {"hops", reference.hops},
                        {"measured_hops", reference.measured_hops},
                        {"measured_frames", measured_frames(reference)},
                        {"window", VqTimbre::kWindow},
                        {"seed", reference.seed}};
  table["pitch"] = mode_json(pitch);
  table["noise"] = mode_json(noise);
  return table.dump();
}

namespace {

// The table's JSON object, with the columns from `pitch` and `noise` when
// given (a model image) instead of from the JSON.
std::string read_table(const Json& table, int codes, const nn::Weights* pitch,
                       const nn::Weights* noise, CodeAnalysis* out) {
  if (!table.is_object()) return "descriptor_table is not a JSON object";
  const auto version = table.find("version");
  if (version == table.end() || !version->is_number() || version->get<double>() != kTableVersion)
    return "descriptor_table has no 'version' " + std::to_string(kTableVersion) +
           " (this engine reads version " + std::to_string(kTableVersion) + ")";
  CodeAnalysis result;
  const auto reference = table.find("reference");
  if (reference == table.end() || !reference->is_object())
    return "descriptor_table has no 'reference' object";
  result.reference.f0_hz = number_or(*reference, "f0_hz", 0.0);
  result.reference.loudness = number_or(*reference, "loudness", kReferenceLoudness);
  result.reference.hops = int(number_or(*reference, "hops", 0));
  result.reference.measured_hops = int(number_or(*reference, "measured_hops", 0));
  result.reference.seed = std::uint32_t(number_or(*reference, "seed", VqTimbre::kDefaultSeed));
  if (!(result.reference.f0_hz > 0.0))
    return "descriptor_table.reference.f0_hz is missing or not positive";
  if (!(result.reference.loudness >= -1.0 && result.reference.loudness <= 1.0))
    return "descriptor_table.reference.loudness is not in [-1, 1]";
  if (auto p = read_mode(table, "pitch", codes, pitch, &result.pitch); !p.empty()) return p;
  if (auto p = read_mode(table, "noise", codes, noise, &result.noise); !p.empty()) return p;
  *out = std::move(result);
  return "";
}

}  // namespace

std::vector<float> CodeDescriptors::columns() const {
  std::vector<float> out;
  for (const auto& column : values) out.insert(out.end(), column.begin(), column.end());
  out.insert(out.end(), voiced_share.begin(), voiced_share.end());
  return out;
}

std::string CodeAnalysis::from_json(const std::string& text, int codes, CodeAnalysis* out) {
  return read_table(Json::parse(text, nullptr, false), codes, nullptr, nullptr, out);
}

std::string CodeAnalysis::from_model(const VqTimbre& model, CodeAnalysis* out, bool* present) {
  *present = false;
  const Json& meta = detail::metadata_of(model.model());
  const auto it = meta.is_object() ? meta.find("descriptor_table") : meta.end();
  if (!meta.is_object() || it == meta.end()) return "the model has no descriptor_table";
  *present = true;
  if (!model.quantized()) return "the model has a descriptor_table but no codebook";
  const nn::Model& m = model.model();
  const auto* pitch = m.prepared(kPreparedPitch);
  const auto* noise = m.prepared(kPreparedNoise);
  if (auto problem = read_table(*it, model.codes(), pitch, noise, out); !problem.empty())
    return "model '" + model.name() + "': " + problem;
  return "";
}

int measured_frames(const CodeAnalysisSettings& s) {
  constexpr int hops_per_window = VqTimbre::kWindow / VqTimbre::kHop;  // 4
  return s.measured_hops - hops_per_window + 1;
}

double reference_f0_hz(const VqTimbre& model) {
  const auto range = model.model().numbers("f0_range_hz");
  if (range.size() == 2 && range[0] > 0.0f && range[1] >= range[0])
    return std::sqrt(double(range[0]) * double(range[1]));
  return 440.0;
}

CodeAnalysis analyse_codes(VqTimbre& model, const CodeAnalysisSettings& settings) {
  if (!model.quantized() || model.codes() <= 0)
    throw std::invalid_argument("model '" + model.name() +
                                "' is not quantized: it has no codebook to analyse");
  if (settings.hops < 1 || settings.measured_hops < VqTimbre::kWindow / VqTimbre::kHop ||
      settings.measured_hops > settings.hops)
    throw std::invalid_argument("code analysis: need 4 <= measured_hops <= hops");
  if (!(settings.loudness >= -1.0 && settings.loudness <= 1.0))
    throw std::invalid_argument("code analysis: the loudness conditioning must lie in [-1, 1]");

  CodeAnalysis result;
  result.reference = settings;
  if (!(result.reference.f0_hz > 0.0)) result.reference.f0_hz = reference_f0_hz(model);
  const int codes = model.codes();
  const int hop = VqTimbre::kHop, window = VqTimbre::kWindow;

  const TransferMode mode = model.mode();
  const int octaves = model.octaves();
  const std::uint32_t seed = model.seed();
  model.set_octaves(0);
  model.set_seed(settings.seed);

  std::vector<float> out(static_cast<size_t>(settings.hops) * hop, 0.0f);
  const size_t measured_start = size_t(settings.hops - settings.measured_hops) * size_t(hop);

  for (TransferMode m : {TransferMode::kPitch, TransferMode::kNoise}) {
    CodeDescriptors& table = m == TransferMode::kPitch ? result.pitch : result.noise;
    for (auto& v : table.values) v.assign(size_t(codes), 0.0f);
    table.voiced_share.assign(size_t(codes), 0.0f);
    model.set_mode(m);
    const dsp::PitchEstimate pitch{float(result.reference.f0_hz), 1.0f, true};
    for (int k = 0; k < codes; ++k) {
      model.reset();
      for (int t = 0; t < settings.hops; ++t)
        model.decode_hop(k, pitch, float(settings.loudness), out.data() + size_t(t) * size_t(hop));
      // Hop t emitted out[t hop, (t + 1) hop) here; measure the frames lying
      // wholly inside the last measured_hops hops.
      const auto frames =
          dsp::analyse_frames(out.data() + measured_start, out.size() - measured_start,
                              VqTimbre::kSampleRate, window, hop);
      double sums[kDescriptorCount] = {};
      double f0_sum = 0.0;
      int voiced = 0;
      for (const auto& f : frames) {
        const auto& d = f.descriptors;
        sums[index_of(Descriptor::kCentroid)] += d.centroid_hz;
        sums[index_of(Descriptor::kBandwidth)] += d.bandwidth_hz;
        sums[index_of(Descriptor::kRolloff)] += d.rolloff_hz;
        sums[index_of(Descriptor::kFlatness)] += d.flatness;
        sums[index_of(Descriptor::kLoudness)] += d.loudness_db;
        if (f.pitch.voiced) {
          f0_sum += f.pitch.f0_hz;
          ++voiced;
        }
      }
      const double count = double(frames.size());
      for (Descriptor d : kAllDescriptors)
        if (d != Descriptor::kF0) table[d][size_t(k)] = float(sums[index_of(d)] / count);
      table[Descriptor::kF0][size_t(k)] = voiced ? float(f0_sum / voiced) : 0.0f;
      table.voiced_share[size_t(k)] = float(double(voiced) / count);
    }
  }
  model.set_mode(mode);
  model.set_octaves(octaves);
  model.set_seed(seed);
  model.reset();
  // The stored table is rounded (to_json): keep the in-memory one identical,
  // so a fresh analysis and a loaded table choose the same codes.
  CodeAnalysis stored;
  if (auto problem = CodeAnalysis::from_json(result.to_json(), codes, &stored); !problem.empty())
    throw std::logic_error("code analysis: " + problem);
  return stored;
}

std::vector<float> codebook_projection(const VqTimbre& model) {
  const int codes = model.codes(), dim = model.latent();
  std::vector<float> xy(size_t(2) * size_t(std::max(codes, 0)), 0.0f);
  if (!model.quantized() || codes <= 0) return xy;
  if (const auto* stored = model.model().prepared(kPreparedCodebookMap);
      stored && stored->size() == xy.size())
    return std::vector<float>(stored->begin(), stored->end());
  // Centred codebook and its covariance (dim x dim), in double.
  std::vector<double> mean(static_cast<size_t>(dim), 0.0);
  std::vector<double> centred(static_cast<size_t>(codes) * static_cast<size_t>(dim), 0.0);
  for (int k = 0; k < codes; ++k)
    for (int j = 0; j < dim; ++j) mean[size_t(j)] += model.code_vector(k)[j] / double(codes);
  for (int k = 0; k < codes; ++k)
    for (int j = 0; j < dim; ++j)
      centred[size_t(k) * size_t(dim) + size_t(j)] = model.code_vector(k)[j] - mean[size_t(j)];
  std::vector<double> cov(size_t(dim) * size_t(dim), 0.0);
  for (int k = 0; k < codes; ++k) {
    const double* v = centred.data() + size_t(k) * size_t(dim);
    for (int i = 0; i < dim; ++i)
      for (int j = 0; j < dim; ++j) cov[size_t(i) * size_t(dim) + size_t(j)] += v[i] * v[j];
  }
  // Top two eigenvectors by power iteration with deflation.
  std::vector<std::vector<double>> axes;
  for (int axis = 0; axis < 2; ++axis) {
    std::vector<double> v(static_cast<size_t>(dim), 0.0), w(static_cast<size_t>(dim), 0.0);
    for (int j = 0; j < dim; ++j) v[size_t(j)] = 1.0 + 0.01 * j + axis;  // fixed, generic start
    for (int iteration = 0; iteration < 500; ++iteration) {
      for (int i = 0; i < dim; ++i) {
        double s = 0.0;
        for (int j = 0; j < dim; ++j) s += cov[size_t(i) * size_t(dim) + size_t(j)] * v[size_t(j)];
        w[size_t(i)] = s;
      }
      for (const auto& previous : axes) {  // deflate: stay orthogonal to the axes found
        double dot = 0.0;
        for (int j = 0; j < dim; ++j) dot += w[size_t(j)] * previous[size_t(j)];
        for (int j = 0; j < dim; ++j) w[size_t(j)] -= dot * previous[size_t(j)];
      }
      double norm = 0.0;
      for (double x : w) norm += x * x;
      norm = std::sqrt(norm);
      if (norm < 1e-30) break;  // no variance left along this axis
      for (int j = 0; j < dim; ++j) v[size_t(j)] = w[size_t(j)] / norm;
    }
    size_t largest = 0;
    for (size_t j = 1; j < v.size(); ++j)
      if (std::fabs(v[j]) > std::fabs(v[largest])) largest = j;
    if (v[largest] < 0.0)
      for (double& x : v) x = -x;
    axes.push_back(v);
  }
  for (int axis = 0; axis < 2; ++axis) {
    double peak = 0.0;
    std::vector<double> p(size_t(codes), 0.0);
    for (int k = 0; k < codes; ++k) {
      for (int j = 0; j < dim; ++j)
        p[size_t(k)] +=
            centred[size_t(k) * size_t(dim) + size_t(j)] * axes[size_t(axis)][size_t(j)];
      peak = std::max(peak, std::fabs(p[size_t(k)]));
    }
    for (int k = 0; k < codes; ++k)
      xy[size_t(2 * k + axis)] = peak > 0.0 ? float(p[size_t(k)] / peak) : 0.0f;
  }
  return xy;
}

}  // namespace timbrel::models
