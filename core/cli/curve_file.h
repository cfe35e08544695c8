// Curve files of `timbrel draw`: either `time_s,value` rows (times
// increasing, linearly interpolated to hops) or one value per line (one value
// per hop). Blank lines and lines starting with '#' are skipped. Errors name
// the file and the line.
//
// A header is allowed only as the first line, and only when every field is a
// word: it starts with a letter and is not a number (`time_s,value`,
// `time (s),brightness`); `nan`, `inf` and `1e3` are numbers, never a header.
// Values and times must be finite (nan and inf are refused, not skipped);
// times lie in 0..kMaxCurveSeconds, a per-hop curve has at most
// kMaxCurveSeconds of hops, and a file at most kMaxCurveRows rows (README,
// "Reliability").
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace timbrel::cli {

constexpr double kMaxCurveSeconds = 600.0;  // 10 minutes: also draw's --duration limit
constexpr std::size_t kMaxCurveRows = 100000;
// A per-hop curve's hop: 256 samples at 22050 Hz.
constexpr double kCurveHopSeconds = 256.0 / 22050.0;

struct Curve {
  bool timed = false;          // time_s,value rows
  std::vector<double> time_s;  // timed only
  std::vector<double> value;

  // Duration in seconds (timed: the last time), or 0 for a per-hop curve.
  double duration_s() const { return timed && !time_s.empty() ? time_s.back() : 0.0; }
  // One value per hop, hop t at t * hop_s seconds: timed curves are
  // interpolated linearly (held before the first and after the last row);
  // per-hop curves are taken as they are, the last value held.
  std::vector<float> at_hops(std::size_t hops, double hop_s) const {
    std::vector<float> out(hops, 0.0f);
    for (std::size_t t = 0; t < hops; ++t) {
      if (!timed) {
        out[t] = float(value[std::min(t, value.size() - 1)]);
        continue;
      }
      const double when = double(t) * hop_s;
      const auto after = std::upper_bound(time_s.begin(), time_s.end(), when);
      if (after == time_s.begin()) {
        out[t] = float(value.front());
      } else if (after == time_s.end()) {
        out[t] = float(value.back());
      } else {
        const std::size_t i = std::size_t(after - time_s.begin());
        const double share = (when - time_s[i - 1]) / (time_s[i] - time_s[i - 1]);
        out[t] = float(value[i - 1] + (value[i] - value[i - 1]) * share);
      }
    }
    return out;
  }
};

namespace detail {
inline std::string trimmed(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r") - begin + 1);
}

enum class Field { kNumber, kNonFinite, kWord, kOther };

// A number (finite), a non-finite number (nan, inf), a word (starts with a
// letter) or anything else.
inline Field parse_field(const std::string& text, double* out) {
  const std::string t = trimmed(text);
  if (t.empty()) return Field::kOther;
  std::size_t used = 0;
  try {
    *out = std::stod(t, &used);
  } catch (const std::out_of_range&) {
    return Field::kNonFinite;  // 1e999: as good as infinite
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == t.size()) return std::isfinite(*out) ? Field::kNumber : Field::kNonFinite;
  return std::isalpha(static_cast<unsigned char>(t[0])) ? Field::kWord : Field::kOther;
}
}  // namespace detail

inline Curve read_curve_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("curve file " + path + ": cannot open it");
  Curve curve;
  int columns = 0;  // of the first data line
  bool first = true;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    const std::string text = detail::trimmed(line);
    if (text.empty() || text[0] == '#') continue;
    const bool header_allowed = first;
    first = false;
    const std::string where = "curve file " + path + " line " + std::to_string(number) + ": ";
    const auto comma = text.find(',');
    if (comma != std::string::npos && text.find(',', comma + 1) != std::string::npos)
      throw std::runtime_error(where + "expected `time_s,value` or one value per line, got '" +
                               text + "'");
    const int here = comma == std::string::npos ? 1 : 2;
    double a = 0.0, b = 0.0;
    const detail::Field fa = detail::parse_field(here == 1 ? text : text.substr(0, comma), &a);
    const detail::Field fb =
        here == 1 ? detail::Field::kNumber : detail::parse_field(text.substr(comma + 1), &b);
    if (header_allowed && fa == detail::Field::kWord && (here == 1 || fb == detail::Field::kWord))
      continue;  // a header such as time_s,value
    if (fa == detail::Field::kNonFinite || fb == detail::Field::kNonFinite)
      throw std::runtime_error(where + "'" + text +
                               "' is not finite: times and values must be finite numbers");
    if (fa != detail::Field::kNumber || fb != detail::Field::kNumber)
      throw std::runtime_error(where + "expected `time_s,value` or one value per line, got '" +
                               text + "'");
    if (columns == 0) columns = here;
    if (here != columns)
      throw std::runtime_error(where + "has " + std::to_string(here) + " column(s), the lines " +
                               "before have " + std::to_string(columns));
    if (curve.value.size() >= kMaxCurveRows)
      throw std::runtime_error(where + "more than " + std::to_string(kMaxCurveRows) +
                               " rows: a curve has at most " + std::to_string(kMaxCurveRows));
    if (here == 2) {
      if (a < 0.0)
        throw std::runtime_error(where + "negative time " + detail::trimmed(text.substr(0, comma)));
      if (a > kMaxCurveSeconds)
        throw std::runtime_error(where + "time " + detail::trimmed(text.substr(0, comma)) +
                                 " s is past the longest curve, " +
                                 std::to_string(int(kMaxCurveSeconds)) + " s (10 minutes)");
      if (!curve.time_s.empty() && a <= curve.time_s.back())
        throw std::runtime_error(where + "times must increase (" + std::to_string(a) + " s after " +
                                 std::to_string(curve.time_s.back()) + " s)");
      curve.time_s.push_back(a);
      curve.value.push_back(b);
    } else {
      if (double(curve.value.size() + 1) * kCurveHopSeconds > kMaxCurveSeconds)
        throw std::runtime_error(where + "a per-hop curve longer than " +
                                 std::to_string(int(kMaxCurveSeconds)) + " s (" +
                                 std::to_string(curve.value.size()) + " hops)");
      curve.value.push_back(a);
    }
  }
  if (curve.value.empty())
    throw std::runtime_error("curve file " + path +
                             ": no values (expected `time_s,value` rows "
                             "or one value per line)");
  curve.timed = columns == 2;
  return curve;
}

}  // namespace timbrel::cli
