// The vq_timbre golden folder written by the PyTorch side (tests/golden/vq/):
// model.tmbl, input.npy float32 [L], pitch.npy float32 [T, 2] (f0 Hz, voiced
// 0/1), out_pitch.npy (octaves 0), out_pitch_up1.npy (octaves +1),
// out_noise.npy (noise mode), meta.json (seed, tolerance).
//
// TIMBREL_VQ_GOLDEN_DIR overrides the folder (to check another export).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "npy.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/models/vq_timbre.h"

namespace timbrel::test {

inline std::filesystem::path vq_golden_dir() {
  if (const char* env = std::getenv("TIMBREL_VQ_GOLDEN_DIR"); env && *env) return env;
  return std::filesystem::path(TIMBREL_GOLDEN_DIR) / "vq";
}

struct VqGoldenCase {
  const char* file;
  models::TransferMode mode;
  int octaves;
};

inline const std::vector<VqGoldenCase>& vq_golden_cases() {
  static const std::vector<VqGoldenCase> cases = {
      {"out_pitch.npy", models::TransferMode::kPitch, 0},
      {"out_pitch_up1.npy", models::TransferMode::kPitch, 1},
      {"out_noise.npy", models::TransferMode::kNoise, 0}};
  return cases;
}

struct VqGoldenMeta {
  std::uint32_t seed = models::VqTimbre::kDefaultSeed;  // noise seed
  double relative = 1e-4;                               // of max |golden output|
  double absolute = 0.0;
  nlohmann::json json;  // the whole file (per-render settings under "renders")
  std::string text;     // the file as read, for messages
};

namespace detail {
inline bool read_seed(const nlohmann::json& j, const char* key, std::uint32_t* seed) {
  const auto s = j.find(key);
  if (s == j.end()) return false;
  if (s->is_number_integer()) return *seed = std::uint32_t(s->get<std::int64_t>()), true;
  if (s->is_string())
    return *seed = std::uint32_t(std::stoul(s->get<std::string>(), nullptr, 0)), true;
  return false;
}
}  // namespace detail

// meta.json: the noise seed ("noise_seed", else "seed": a number or a "0x..."
// string) and "tolerance": a number (relative to max |out|) or an object with
// "rel_to_peak"/"relative" and "abs"/"absolute". Missing keys keep the
// defaults above.
inline VqGoldenMeta read_vq_golden_meta(const std::filesystem::path& path) {
  VqGoldenMeta meta;
  std::ifstream file(path);
  if (!file) return meta;
  meta.text.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  meta.json = nlohmann::json::parse(meta.text, nullptr, false);
  if (!meta.json.is_object()) return meta;
  const auto& json = meta.json;
  if (!detail::read_seed(json, "noise_seed", &meta.seed))
    detail::read_seed(json, "seed", &meta.seed);
  if (const auto t = json.find("tolerance"); t != json.end()) {
    if (t->is_number()) meta.relative = t->get<double>();
    if (t->is_object()) {
      for (const char* key : {"rel_to_peak", "relative", "rel"})
        if (t->contains(key) && (*t)[key].is_number()) meta.relative = (*t)[key].get<double>();
      for (const char* key : {"abs", "absolute"})
        if (t->contains(key) && (*t)[key].is_number()) meta.absolute = (*t)[key].get<double>();
    }
  }
  return meta;
}

// A render's settings from meta.json's "renders" entry when present, else the defaults.
inline void apply_vq_golden_render(const VqGoldenMeta& meta, const std::string& file,
                                   models::VqTimbre::RenderOptions* options) {
  options->seed = meta.seed;
  if (!meta.json.is_object() || !meta.json.contains("renders")) return;
  const auto& renders = meta.json["renders"];
  if (!renders.is_object() || !renders.contains(file)) return;
  const auto& r = renders[file];
  if (r.contains("octaves") && r["octaves"].is_number_integer())
    options->octaves = r["octaves"].get<int>();
  if (r.contains("noise_mode") && r["noise_mode"].is_boolean())
    options->mode =
        r["noise_mode"].get<bool>() ? models::TransferMode::kNoise : models::TransferMode::kPitch;
  detail::read_seed(r, "seed", &options->seed);
}

inline std::vector<dsp::PitchEstimate> read_vq_golden_pitch(const std::filesystem::path& path) {
  const auto a = read_npy(path.string());
  if (a.shape.size() != 2 || a.columns() < 2)
    throw std::runtime_error(path.string() + ": expected [T, 2] (f0 Hz, voiced)");
  std::vector<dsp::PitchEstimate> pitch(a.rows());
  for (size_t t = 0; t < a.rows(); ++t) {
    pitch[t].f0_hz = float(a.at(t, 0));
    pitch[t].voiced = a.at(t, 1) > 0.5;
    pitch[t].confidence = pitch[t].voiced ? 1.0f : 0.0f;
  }
  return pitch;
}

}  // namespace timbrel::test
