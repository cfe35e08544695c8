#include "args.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <stdexcept>

#include "timbrel/dsp/output_guard.h"

namespace timbrel::cli {

namespace {
// Options that take no value.
bool is_flag(const std::string& a) { return a == "--analyse" || a == "--analyze"; }

}  // namespace

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (is_flag(a)) {
      args.flags.push_back(a);
    } else if (a.size() > 1 && a[0] == '-') {
      if (i + 1 >= argc) throw std::runtime_error("option " + a + " needs a value");
      args.options[a] = argv[++i];
      args.all_options.emplace_back(a, args.options[a]);
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

bool has_flag(const Args& args, const std::string& a, const std::string& b) {
  return std::find(args.flags.begin(), args.flags.end(), a) != args.flags.end() ||
         std::find(args.flags.begin(), args.flags.end(), b) != args.flags.end();
}

std::vector<std::string> options_named(const Args& args, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : args.all_options)
    if (key == name) values.push_back(value);
  return values;
}

std::string option(const Args& args, const std::string& a, const std::string& b,
                   const std::string& fallback) {
  if (auto it = args.options.find(a); it != args.options.end()) return it->second;
  if (auto it = args.options.find(b); it != args.options.end()) return it->second;
  return fallback;
}

long parse_long(const std::string& text, const char* what) {
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used, 0);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty())
    throw std::runtime_error(std::string(what) + " must be a whole number, got '" + text + "'");
  return value;
}

double parse_double(const std::string& text, const std::string& what) {
  size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !std::isfinite(value))
    throw std::runtime_error(what + " must be a number, got '" + text + "'");
  return value;
}

std::string resolve_model(const std::string& name_or_path, const std::string& family) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(name_or_path)) return name_or_path;
  // Where each family's shipped models live (models/README.md).
  static const std::map<std::string, fs::path> folders = {
      {"vq_timbre", fs::path("models")},
      {"crossmodal_vae", fs::path("models") / "crossmodal"},
      {"gmvae", fs::path("models")}};
  std::vector<std::string> tried = {name_or_path};
  const bool plain_name =
      name_or_path.find('/') == std::string::npos && fs::path(name_or_path).extension() != ".tmbl";
  const auto folder = folders.find(family);
  if (plain_name && folder != folders.end()) {
    const fs::path relative = folder->second / name_or_path / (name_or_path + ".tmbl");
    std::vector<fs::path> candidates = {relative};
#ifdef TIMBREL_SOURCE_DIR
    candidates.push_back(fs::path(TIMBREL_SOURCE_DIR) / relative);
#endif
    for (const auto& c : candidates) {
      if (fs::is_regular_file(c)) return c.string();
      tried.push_back(c.string());
    }
  }
  std::string message = "model '" + name_or_path + "' not found (tried ";
  for (size_t i = 0; i < tried.size(); ++i) message += (i ? ", " : "") + tried[i];
  throw std::runtime_error(message + ")");
}

// "A4", "C#3", "Bb2" (octave = MIDI / 12 - 1) or a MIDI number; -1 when neither.
int parse_pitch(const std::string& text) {
  if (!text.empty() &&
      std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c); }))
    return text.size() <= 3 ? std::stoi(text) : -1;
  static const int kSteps[7] = {9, 11, 0, 2, 4, 5, 7};  // A B C D E F G
  if (text.empty()) return -1;
  const char letter = char(std::toupper(static_cast<unsigned char>(text[0])));
  if (letter < 'A' || letter > 'G') return -1;
  int pitch_class = kSteps[letter - 'A'];
  size_t i = 1;
  if (i < text.size() && (text[i] == '#' || text[i] == 'b'))
    pitch_class += text[i++] == '#' ? 1 : -1;
  const std::string octave = text.substr(i);
  if (octave.empty() || octave.size() > 2) return -1;
  size_t used = 0;
  int o = 0;
  try {
    o = std::stoi(octave, &used);
  } catch (const std::exception&) {
    return -1;
  }
  if (used != octave.size()) return -1;
  const int midi = (o + 1) * 12 + pitch_class;
  return midi >= 0 && midi <= 127 ? midi : -1;
}

std::string note_name(int pitch) {
  static const char* kNames[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  return kNames[pitch % 12] + std::to_string(pitch / 12 - 1);
}

io::Audio read_clip(const std::string& path) {
  auto audio = io::read_wav(path);
  const double seconds = double(audio.samples.size()) / audio.sample_rate;
  if (seconds > kMaxClipSeconds)
    throw std::runtime_error(path + ": the clip lasts " + std::to_string(int(seconds)) +
                             " s; the commands take at most " +
                             std::to_string(int(kMaxClipSeconds)) + " s (10 minutes)");
  return audio;
}

void write_guarded(const std::string& path, io::Audio audio) {
  const auto report =
      dsp::guard_offline(audio.samples.data(), long(audio.samples.size()), audio.sample_rate);
  if (report.muted)
    throw std::runtime_error(std::string("the model produced invalid output (") +
                             report.mute_reason +
                             " for more than 100 ms); muted: nothing written to " + path);
  if (report.nonfinite > 0)
    std::fprintf(stderr, "timbrel: note: %ld non-finite samples replaced by silence\n",
                 report.nonfinite);
  if (report.limited > 0)
    std::fprintf(stderr,
                 "timbrel: note: peak %.3f (%+.1f dBFS) limited to -1 dBTP: %ld samples reduced "
                 "(%.1f %%; %.1f %% by more than 1 dB), by at most %.1f dB\n",
                 double(report.peak_in), 20.0 * std::log10(std::max(1e-9, double(report.peak_in))),
                 report.limited, 100.0 * double(report.limited) / double(audio.samples.size()),
                 100.0 * double(report.limited_1db) / double(audio.samples.size()),
                 -double(report.min_gain_db));
  io::write_wav(path, audio);
}

void print_compute(const char* what, double compute_s, double audio_s, const std::string& detail) {
  std::printf("%s: %.3f s of compute for %.2f s of audio%s, real-time factor %.4f\n", what,
              compute_s, audio_s, detail.c_str(), audio_s > 0 ? compute_s / audio_s : 0.0);
}

}  // namespace timbrel::cli
