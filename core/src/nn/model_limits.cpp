#include "timbrel/nn/model_limits.h"

namespace timbrel::nn::limits {

namespace {
std::string range_text(std::uint64_t low, std::uint64_t high) {
  return std::to_string(low) + "-" + std::to_string(high);
}
}  // namespace

std::string dimension_problem(const std::string& what, std::int64_t value) {
  if (value >= 1 && std::uint64_t(value) <= kMaxDimension) return "";
  return what + " " + std::to_string(value) + " is outside " + range_text(1, kMaxDimension);
}

std::string conv1d_problem(const ConvSizes& s) {
  struct Field {
    const char* name;
    std::int64_t value;
    std::int64_t low;
  };
  for (const Field& f : {Field{"input channels", s.in, 1}, Field{"output channels", s.out, 1},
                         Field{"kernel", s.kernel, 1}, Field{"stride", s.stride, 1},
                         Field{"dilation", s.dilation, 1}, Field{"padding_left", s.padding_left, 0},
                         Field{"padding_right", s.padding_right, 0}})
    if (f.value < f.low || std::uint64_t(f.value) > kMaxDimension)
      return std::string("conv1d ") + f.name + " " + std::to_string(f.value) + " is outside " +
             range_text(std::uint64_t(f.low), kMaxDimension);
  // Both factors are at most kMaxDimension (2^16): no product below wraps.
  const std::uint64_t span = std::uint64_t(s.kernel - 1) * std::uint64_t(s.dilation) + 1;
  if (span > kMaxConvSpan)
    return "conv1d span (kernel - 1) x dilation + 1 = " + std::to_string(span) +
           " frames exceeds the limit of " + std::to_string(kMaxConvSpan);
  const std::uint64_t history = span * std::uint64_t(s.in);
  if (history > kMaxConvHistory)
    return "conv1d history of " + std::to_string(span) + " frames x " + std::to_string(s.in) +
           " channels = " + std::to_string(history) + " values exceeds the limit of " +
           std::to_string(kMaxConvHistory);
  return "";
}

std::string flatten_problem(std::int64_t frames, std::int64_t channels) {
  if (auto p = dimension_problem("flatten frames", frames); !p.empty()) return p;
  if (auto p = dimension_problem("flatten channels", channels); !p.empty()) return p;
  const std::uint64_t size = std::uint64_t(frames) * std::uint64_t(channels);  // < 2^33
  if (size > kMaxDimension)
    return "flatten output of " + std::to_string(frames) + " frames x " + std::to_string(channels) +
           " channels = " + std::to_string(size) + " values exceeds the limit of " +
           std::to_string(kMaxDimension);
  return "";
}

std::string unflatten_problem(std::int64_t frames, std::int64_t input) {
  if (auto p = dimension_problem("unflatten frames", frames); !p.empty()) return p;
  if (auto p = dimension_problem("unflatten input", input); !p.empty()) return p;
  if (input % frames != 0)
    return "unflatten input of " + std::to_string(input) + " values is not a whole number of " +
           std::to_string(frames) + " frames";
  return "";
}

std::string residual_body_problem(std::int64_t ops) {
  if (ops < 1) return "residual body is empty: y = x + body(x) needs at least one op";
  if (std::uint64_t(ops) > kMaxResidualBody)
    return "residual body of " + std::to_string(ops) + " ops exceeds the limit of " +
           std::to_string(kMaxResidualBody);
  return "";
}

std::string json_depth_problem(const std::uint8_t* text, std::uint64_t size) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::uint64_t i = 0; i < size; ++i) {
    const std::uint8_t c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        return "header JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
               " levels (at byte " + std::to_string(i) + ")";
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;  // unbalanced text: the parser reports it
    }
  }
  return "";
}

}  // namespace timbrel::nn::limits
