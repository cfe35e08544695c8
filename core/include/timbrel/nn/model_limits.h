// What a .tmbl model file (nn/model_file.h) and a model image
// (nn/model_image.h) may ask for: one table, documented in models/README.md
// ("Limits") and repeated by the page's reader (web/src/audio/model-file.js)
// and the Python reader (scripts/timbrel/tmbl.py). Every size, offset and
// product a file states is computed in checked 64-bit arithmetic and held
// against these numbers and the file's length before anything is allocated,
// copied or fused, so a hostile file costs at most a bounded amount of memory
// and time (linear in the file's size) and gives a message naming the limit.
#pragma once

#include <cstdint>
#include <string>

namespace timbrel::nn::limits {

// The whole file (the page refuses larger files before reading them).
constexpr std::uint64_t kMaxFileBytes = std::uint64_t(64) << 20;
// The JSON header (shipped models: 3-69 KB).
constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t(4) << 20;
// Nesting of arrays and objects in the header (shipped: 6), checked by a
// scan of the bytes before the JSON parser runs (it recurses per level).
constexpr int kMaxJsonDepth = 32;
// Entries in "tensors", graphs, ops over all graphs.
constexpr std::uint64_t kMaxTensors = 4096;
constexpr std::uint64_t kMaxGraphs = 64;
constexpr std::uint64_t kMaxLayers = 1024;
// Dimensions of a tensor shape.
constexpr std::uint64_t kMaxRank = 4;
// A tensor dimension, a layer's input or output size (a flatten's frames x
// channels too), a convolution's kernel, stride, dilation and paddings, the
// frames of a flatten or an unflatten.
constexpr std::uint64_t kMaxDimension = 65536;
// Float values over all tensors entries, and over all ops' weights (a tensor
// two ops name counts twice): 64 MiB of weights.
constexpr std::uint64_t kMaxParameters = std::uint64_t(1) << 24;
// A streaming conv1d keeps (kernel - 1) dilation + 1 input frames (its span)
// of `in` channels each.
constexpr std::uint64_t kMaxConvSpan = 65536;
constexpr std::uint64_t kMaxConvHistory = std::uint64_t(1) << 22;  // floats (16 MiB)
// Linear->GRU fusion: multiply-adds over all pairs of a file; a pair that
// would exceed what is left of it stays unfused (same outputs up to rounding).
constexpr std::uint64_t kMaxFusionWork = std::uint64_t(1) << 27;
// Ops in the body of one residual (y = x + body(x)); they count towards
// kMaxLayers like any other op, and a body holds no residual (no nesting).
constexpr std::uint64_t kMaxResidualBody = 16;

// Checked arithmetic: false (and *out untouched) when the result overflows.
inline bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  if (a > UINT64_MAX - b) return false;
  *out = a + b;
  return true;
}
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  *out = a * b;
  return true;
}

struct ConvSizes {
  std::int64_t in = 0, out = 0, kernel = 0, stride = 0, dilation = 0, padding_left = 0,
               padding_right = 0;
};
// Empty when a conv1d's sizes are within the limits, else the problem
// ("conv1d dilation 100000 is outside 1-65536", "conv1d history of ... ").
std::string conv1d_problem(const ConvSizes& s);
// Empty when a flatten of `frames` frames of `channels` is within the limits.
std::string flatten_problem(std::int64_t frames, std::int64_t channels);
// Empty when an unflatten of `input` values into `frames` frames is within the
// limits and `frames` divides `input` (each frame gets input / frames channels).
std::string unflatten_problem(std::int64_t frames, std::int64_t input);
// Empty when a residual body of `ops` ops is within the limits (1-kMaxResidualBody).
std::string residual_body_problem(std::int64_t ops);
// Empty when `value` is a size in 1..kMaxDimension, else "<what> <value> is outside 1-65536".
std::string dimension_problem(const std::string& what, std::int64_t value);

// Empty when the JSON text nests arrays and objects at most kMaxJsonDepth
// deep (strings skipped), else the problem. Linear, no recursion, no allocation.
std::string json_depth_problem(const std::uint8_t* text, std::uint64_t size);

}  // namespace timbrel::nn::limits
