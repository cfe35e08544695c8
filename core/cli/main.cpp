// timbrel: the native command-line tool.
//   timbrel analyse IN.wav [-o OUT.csv] [--window N] [--hop H]
//   timbrel resample IN.wav --rate HZ -o OUT.wav
//   timbrel transfer IN.wav --model NAME_OR_PATH -o OUT.wav [--mode pitch|noise]
//                   [--octaves N] [--seed S]
//   timbrel analyse-codes NAME_OR_PATH [-o TABLE.json]
//   timbrel draw --model NAME_OR_PATH --target DESCRIPTOR=CURVE.csv ... -o OUT.wav
//   timbrel transcribe IN.wav --model NAME_OR_PATH -o OUT.mid [--frames FRAMES.csv] [--gate DB]
//   timbrel render-midi SONG.mid --model NAME_OR_PATH -o OUT.wav [--temperature T]
//                   [--interpolation none|linear|cubic] [--phase griffin-lim|rtpghi]
//                   [--iterations N] [--seed S]
//   timbrel phase-eval IN.wav [--iterations 30] [--csv OUT.csv]
//   timbrel midi-info SONG.mid [--notes N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "curve_file.h"
#include "timbrel/dsp/cqt.h"
#include "timbrel/dsp/descriptors.h"
#include "timbrel/dsp/phase_reconstruction.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/dsp/stft.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/engine/note_synth.h"
#include "timbrel/engine/transcriber.h"
#include "timbrel/io/wav.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/code_analysis.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/models/descriptor_synth.h"
#include "timbrel/models/vq_timbre.h"

namespace {

constexpr int kModelRate = 22050;

const char* kUsage =
    "usage:\n"
    "  timbrel analyse IN.wav [-o OUT.csv] [--window 1024] [--hop 256]\n"
    "      per-frame descriptors at 22050 Hz (frame m = samples [m hop, m hop + window))\n"
    "  timbrel resample IN.wav --rate HZ -o OUT.wav\n"
    "  timbrel transfer IN.wav --model NAME_OR_PATH -o OUT.wav [--mode pitch|noise]\n"
    "                  [--octaves N] [--seed S]\n"
    "      voice -> instrument with a vq_timbre model; NAME is models/NAME/NAME.tmbl under\n"
    "      the current directory, else under the source tree; the output keeps IN's rate\n"
    "  timbrel analyse-codes NAME_OR_PATH [-o TABLE.json]\n"
    "      decode every code of a vq_timbre model on its own and measure it (pitch and noise\n"
    "      mode): the descriptor table as JSON (store it in the model with\n"
    "      `PYTHONPATH=scripts python3 -m timbrel.export.code_table MODEL.tmbl`)\n"
    "  timbrel draw --model NAME_OR_PATH --target DESCRIPTOR=CURVE.csv [--target ...] -o OUT.wav\n"
    "               [--weight DESCRIPTOR=W] [--gain GAIN.csv] [--duration S] [--smooth HOPS]\n"
    "               [--hysteresis X] [--mode pitch|noise] [--loudness codes|conditioning]\n"
    "               [--steady-loudness W] [--seed S] [--analyse] [--codes CODES.csv]\n"
    "      descriptor-based synthesis at 22050 Hz: the code nearest to the targets per hop\n"
    "      (256 samples). DESCRIPTOR: centroid, bandwidth, rolloff (Hz), flatness (0-1),\n"
    "      loudness (dB, A-weighted), f0 (Hz; pitch mode: drives the excitation). CURVE:\n"
    "      `time_s,value` rows (interpolated; the length defaults to the last time) or one\n"
    "      value per hop. GAIN: a linear factor per row/hop. --smooth: one-pole time\n"
    "      constant of the targets. --hysteresis X: keep the code unless another is nearer\n"
    "      by X (in units of the model's 5-95 % range). --steady-loudness W: without a\n"
    "      loudness target, also aim at the model's median level with weight W (default\n"
    "      0.25; 0: off) so the level does not jump. --analyse: a model without a\n"
    "      descriptor table is analysed for this run. --codes: the code of every hop\n"
    "  timbrel transcribe IN.wav --model NAME_OR_PATH -o OUT.mid [--frames FRAMES.csv]\n"
    "                    [--gate DB]\n"
    "      audio -> notes with a crossmodal_vae model (one note list per instrument of the\n"
    "      model): prints the notes and writes a format 0 MIDI file (instrument i on channel\n"
    "      i); --frames: time, level, gate, flux and the label of every 11.6 ms frame; --gate:\n"
    "      the level (dBFS, default -50) above which frames count as playing\n"
    "  timbrel render-midi SONG.mid --model NAME_OR_PATH -o OUT.wav [--temperature T]\n"
    "                    [--interpolation none|linear|cubic] [--phase griffin-lim|rtpghi]\n"
    "                    [--iterations N] [--seed S]\n"
    "      a MIDI file played by a crossmodal_vae model at 22050 Hz (up to 8 voices, drums\n"
    "      skipped, notes out of range moved by octaves): --temperature: spread of each\n"
    "      note's latent draw (default 0: the mean); --interpolation: latent path between\n"
    "      successive notes of a voice (default cubic); --phase: Griffin-Lim (default, 30\n"
    "      --iterations) or RTPGHI (the live synth's); --seed: of the latent draws\n"
    "  timbrel phase-eval IN.wav [--iterations 30] [--csv OUT.csv]\n"
    "      phase reconstruction at 22050 Hz (window 2048, hop 256) of the file's STFT\n"
    "      magnitudes and of their constant-Q back-projection: spectral convergence and\n"
    "      time of RTPGHI (with and without look-ahead) and Griffin-Lim from zero phase or\n"
    "      from RTPGHI, classic or fast (momentum 0.99)\n"
    "  timbrel midi-info SONG.mid [--notes N]\n"
    "      a Standard MIDI File's format, tracks, timing, tempo map, duration, notes, pitch\n"
    "      range and its first N notes (default 10; channels counted 1-16)\n";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;                    // the last value of each
  std::vector<std::pair<std::string, std::string>> all_options;  // every one, in order
  std::vector<std::string> flags;                                // options without a value
};

// Options that take no value.
bool is_flag(const std::string& a) { return a == "--analyse" || a == "--analyze"; }

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

int analyse(const Args& args) {
  if (args.positional.size() != 1) throw std::runtime_error("analyse needs one input file");
  const int window = std::stoi(option(args, "--window", "-w", "1024"));
  const int hop = std::stoi(option(args, "--hop", "-h", "256"));
  const std::string out_path = option(args, "-o", "--output", "");
  auto audio = timbrel::io::read_wav(args.positional[0]);
  const auto x = timbrel::dsp::resample(audio.samples, audio.sample_rate, kModelRate);

  if (window % hop != 0) throw std::runtime_error("--window must be a multiple of --hop");
  timbrel::dsp::StftAnalyzer stft({window, hop});
  timbrel::dsp::DescriptorAnalyzer descriptors(window, kModelRate);
  timbrel::dsp::Yin yin({double(kModelRate), window, 50.0, 2000.0, 0.15});

  std::ofstream file;
  if (!out_path.empty()) {
    file.open(out_path);
    if (!file) throw std::runtime_error(out_path + ": cannot create file");
  }
  std::ostream& out = out_path.empty() ? std::cout : file;
  out << "time_s,rms_db,loudness_db,centroid_hz,bandwidth_hz,rolloff_hz,flatness,f0_hz,"
         "f0_confidence,voiced\n";
  // The analyzer's frame after hop h covers [(h + 1) hop - window, (h + 1) hop):
  // report only full frames, frame m = [m hop, m hop + window).
  const size_t hops = x.size() / size_t(hop);
  for (size_t h = 0; h < hops; ++h) {
    const auto* spectrum = stft.push_hop(x.data() + h * size_t(hop));
    if ((h + 1) * size_t(hop) < size_t(window)) continue;
    const size_t start = (h + 1) * size_t(hop) - size_t(window);
    const auto d = descriptors.compute(stft.frame(), spectrum);
    const auto p = yin.estimate(stft.frame());
    char line[256];
    std::snprintf(line, sizeof line, "%.6f,%.4f,%.4f,%.3f,%.3f,%.3f,%.6f,%.3f,%.4f,%d\n",
                  (double(start) + window / 2.0) / kModelRate, d.rms_db, d.loudness_db,
                  d.centroid_hz, d.bandwidth_hz, d.rolloff_hz, d.flatness, p.f0_hz, p.confidence,
                  p.voiced ? 1 : 0);
    out << line;
  }
  return 0;
}

int resample_command(const Args& args) {
  if (args.positional.size() != 1) throw std::runtime_error("resample needs one input file");
  const std::string out_path = option(args, "-o", "--output", "");
  if (out_path.empty()) throw std::runtime_error("resample needs -o OUT.wav");
  const int rate = std::stoi(option(args, "--rate", "-r", "22050"));
  auto audio = timbrel::io::read_wav(args.positional[0]);
  timbrel::io::Audio out{timbrel::dsp::resample(audio.samples, audio.sample_rate, rate), rate};
  timbrel::io::write_wav(out_path, out);
  return 0;
}

// A model argument: an existing file, else models/NAME/NAME.tmbl under the
// current directory, else under the source tree.
std::string resolve_model(const std::string& name_or_path) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(name_or_path)) return name_or_path;
  std::vector<std::string> tried = {name_or_path};
  const bool plain_name =
      name_or_path.find('/') == std::string::npos && fs::path(name_or_path).extension() != ".tmbl";
  if (plain_name) {
    const fs::path relative = fs::path("models") / name_or_path / (name_or_path + ".tmbl");
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

int transfer_command(const Args& args) {
  using timbrel::models::VqTimbre;
  if (args.positional.size() != 1) throw std::runtime_error("transfer needs one input file");
  const std::string out_path = option(args, "-o", "--output", "");
  if (out_path.empty()) throw std::runtime_error("transfer needs -o OUT.wav");
  const std::string model_arg = option(args, "--model", "-m", "");
  if (model_arg.empty()) throw std::runtime_error("transfer needs --model NAME_OR_PATH");

  VqTimbre::RenderOptions options;
  const std::string mode = option(args, "--mode", "--mode", "pitch");
  if (!timbrel::models::parse_transfer_mode(mode, &options.mode))
    throw std::runtime_error("--mode must be pitch or noise, got '" + mode + "'");
  const long octaves = parse_long(option(args, "--octaves", "--octaves", "0"), "--octaves");
  if (octaves < -VqTimbre::kMaxOctaves || octaves > VqTimbre::kMaxOctaves)
    throw std::runtime_error("--octaves must be between -3 and 3");
  options.octaves = int(octaves);
  const long seed = parse_long(
      option(args, "--seed", "--seed", std::to_string(VqTimbre::kDefaultSeed)), "--seed");
  if (seed < 0 || seed > 0xFFFFFFFFL) throw std::runtime_error("--seed must be in 0..4294967295");
  options.seed = std::uint32_t(seed);

  const std::string model_path = resolve_model(model_arg);
  auto loaded = VqTimbre::load_file(model_path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  VqTimbre& model = *loaded.model;

  auto audio = timbrel::io::read_wav(args.positional[0]);
  const double seconds = double(audio.samples.size()) / audio.sample_rate;
  const auto x = timbrel::dsp::resample(audio.samples, audio.sample_rate, kModelRate);
  const auto start = std::chrono::steady_clock::now();
  const auto y = model.render(x.data(), x.size(), options);
  const double compute =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  timbrel::io::Audio out{timbrel::dsp::resample(y, kModelRate, audio.sample_rate),
                         audio.sample_rate};
  out.samples.resize(audio.samples.size(), 0.0f);
  timbrel::io::write_wav(out_path, out);

  std::printf("model: %s (instrument %s, %s, %d codes, latent %d, hidden %d) from %s\n",
              model.name().c_str(), model.instrument().c_str(),
              model.quantized() ? "VQ" : "not quantized", model.codes(), model.latent(),
              model.hidden(), model_path.c_str());
  std::printf("mode: %s, octaves %+d, seed 0x%08X\n",
              timbrel::models::transfer_mode_name(options.mode), options.octaves,
              unsigned(options.seed));
  std::printf("input: %s, %zu samples at %d Hz (%.2f s), rendered at %d Hz\n",
              args.positional[0].c_str(), audio.samples.size(), audio.sample_rate, seconds,
              kModelRate);
  std::printf("render: %.3f s of compute for %.2f s of audio, real-time factor %.4f\n", compute,
              seconds, seconds > 0 ? compute / seconds : 0.0);
  std::printf("wrote %s: %zu samples at %d Hz\n", out_path.c_str(), out.samples.size(),
              out.sample_rate);
  return 0;
}

int analyse_codes_command(const Args& args) {
  using timbrel::models::VqTimbre;
  if (args.positional.size() != 1)
    throw std::runtime_error("analyse-codes needs one model (NAME or PATH.tmbl)");
  const std::string out_path = option(args, "-o", "--output", "");
  const std::string model_path = resolve_model(args.positional[0]);
  auto loaded = VqTimbre::load_file(model_path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  const auto start = std::chrono::steady_clock::now();
  const auto table = timbrel::models::analyse_codes(*loaded.model);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string json = table.to_json();
  char timing[256];
  std::snprintf(timing, sizeof timing,
                "analysed %d codes of %s (pitch mode at %.2f Hz, noise mode; loud %.2f; %d hops "
                "each, %d frames measured) in %.2f s\n",
                table.codes(), model_path.c_str(), table.reference.f0_hz, table.reference.loudness,
                table.reference.hops, timbrel::models::measured_frames(table.reference), seconds);
  if (out_path.empty()) {
    std::cout << json << "\n";
    std::cerr << timing;  // stdout stays one JSON document
    return 0;
  }
  std::ofstream file(out_path);
  if (!file) throw std::runtime_error(out_path + ": cannot create file");
  file << json << "\n";
  if (!file.flush()) throw std::runtime_error(out_path + ": write failed");
  std::cout << timing << "wrote " << out_path << "\n";
  return 0;
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

// "DESCRIPTOR=TEXT" of --target / --weight.
std::pair<timbrel::models::Descriptor, std::string> descriptor_assignment(const std::string& text,
                                                                          const std::string& option,
                                                                          const char* what) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw std::runtime_error(option + " needs DESCRIPTOR=" + what + ", got '" + text + "'");
  timbrel::models::Descriptor d;
  const std::string name = text.substr(0, eq);
  if (!timbrel::models::parse_descriptor(name, &d)) {
    std::string known;
    for (auto k : timbrel::models::kAllDescriptors)
      known += std::string(known.empty() ? "" : ", ") + timbrel::models::descriptor_name(k);
    throw std::runtime_error("unknown descriptor '" + name + "' in " + option +
                             " (known: " + known + ")");
  }
  return {d, text.substr(eq + 1)};
}

std::string unit_suffix(timbrel::models::Descriptor d) {
  const std::string unit = timbrel::models::descriptor_unit(d);
  return unit.empty() ? "" : " " + unit;
}

int draw_command(const Args& args) {
  using namespace timbrel::models;
  constexpr int hop = DescriptorSynth::kHop;
  constexpr double hop_s = double(hop) / kModelRate;
  if (!args.positional.empty())
    throw std::runtime_error("draw takes no input file (got '" + args.positional[0] +
                             "'): give curves with --target DESCRIPTOR=CURVE.csv");
  const std::string out_path = option(args, "-o", "--output", "");
  if (out_path.empty()) throw std::runtime_error("draw needs -o OUT.wav");
  const std::string model_arg = option(args, "--model", "-m", "");
  if (model_arg.empty()) throw std::runtime_error("draw needs --model NAME_OR_PATH");

  DrawSettings settings;
  const std::string mode = option(args, "--mode", "--mode", "pitch");
  if (!parse_transfer_mode(mode, &settings.mode))
    throw std::runtime_error("--mode must be pitch or noise, got '" + mode + "'");
  const std::string loudness =
      option(args, "--loudness", "--loudness", loudness_control_name(settings.loudness));
  if (!parse_loudness_control(loudness, &settings.loudness))
    throw std::runtime_error("--loudness must be codes or conditioning, got '" + loudness + "'");
  settings.smoothing_hops =
      float(parse_double(option(args, "--smooth", "--smooth", "0"), "--smooth"));
  settings.hysteresis =
      float(parse_double(option(args, "--hysteresis", "--hysteresis", "0"), "--hysteresis"));
  settings.steady_loudness =
      float(parse_double(option(args, "--steady-loudness", "--steady-loudness",
                                std::to_string(settings.steady_loudness)),
                         "--steady-loudness"));
  if (settings.smoothing_hops < 0 || settings.hysteresis < 0 || settings.steady_loudness < 0)
    throw std::runtime_error("--smooth, --hysteresis and --steady-loudness must not be negative");
  const long seed = parse_long(
      option(args, "--seed", "--seed", std::to_string(VqTimbre::kDefaultSeed)), "--seed");
  if (seed < 0 || seed > 0xFFFFFFFFL) throw std::runtime_error("--seed must be in 0..4294967295");
  settings.seed = seed == 0 ? VqTimbre::kDefaultSeed : std::uint32_t(seed);

  // Curves.
  std::map<Descriptor, timbrel::cli::Curve> targets;
  for (const auto& text : options_named(args, "--target")) {
    const auto [d, path] = descriptor_assignment(text, "--target", "CURVE.csv");
    if (targets.count(d))
      throw std::runtime_error(std::string("--target ") + descriptor_name(d) + " given twice");
    targets[d] = timbrel::cli::read_curve_file(path);
  }
  std::map<Descriptor, double> weights;
  for (const auto& text : options_named(args, "--weight")) {
    const auto [d, value] = descriptor_assignment(text, "--weight", "NUMBER");
    const double w = parse_double(value, std::string("--weight ") + descriptor_name(d));
    if (w < 0) throw std::runtime_error("--weight must not be negative");
    if (!targets.count(d))
      throw std::runtime_error(std::string("--weight ") + descriptor_name(d) +
                               " given, but no --target " + descriptor_name(d));
    weights[d] = w;
  }
  if (targets.count(Descriptor::kF0) && settings.mode == TransferMode::kNoise)
    throw std::runtime_error("an f0 target needs --mode pitch: noise mode has no pitch to drive");
  std::optional<timbrel::cli::Curve> gain;
  if (auto path = option(args, "--gain", "--gain", ""); !path.empty())
    gain = timbrel::cli::read_curve_file(path);

  // Length: --duration, else the longest timed curve, else the longest per-hop curve.
  size_t samples = 0;
  if (auto text = option(args, "--duration", "--duration", ""); !text.empty()) {
    const double seconds = parse_double(text, "--duration");
    if (!(seconds > 0.0) || seconds > 3600.0)
      throw std::runtime_error("--duration must lie in (0, 3600] seconds");
    samples = size_t(std::lround(seconds * kModelRate));
  } else {
    double seconds = 0.0;
    size_t per_hop = 0;
    auto consider = [&](const timbrel::cli::Curve& c) {
      if (c.timed)
        seconds = std::max(seconds, c.duration_s());
      else
        per_hop = std::max(per_hop, c.value.size());
    };
    for (const auto& [d, c] : targets) consider(c);
    if (gain) consider(*gain);
    samples = seconds > 0.0 ? size_t(std::lround(seconds * kModelRate)) : per_hop * size_t(hop);
    if (samples == 0)
      throw std::runtime_error(
          "draw needs a length: --duration S, or a --target / --gain curve that has one");
  }
  const size_t hops = (samples + hop - 1) / hop;

  const std::string model_path = resolve_model(model_arg);
  auto loaded = DescriptorSynth::load_file(model_path, has_flag(args, "--analyse", "--analyze"));
  if (!loaded.synth) {
    std::string message = loaded.error;
    if (message.find("has no descriptor table") != std::string::npos)
      message += ", or pass --analyse to compute the table for this run only";
    throw std::runtime_error(message);
  }
  DescriptorSynth& synth = *loaded.synth;
  synth.set_settings(settings);

  DrawCurves curves;
  curves.hops = hops;
  for (const auto& [d, c] : targets) {
    curves.curve(d) = c.at_hops(hops, hop_s);
    curves.weight[size_t(index_of(d))] = float(weights.count(d) ? weights[d] : 1.0);
    const DescriptorRange r = synth.range(d);
    const auto& v = curves.curve(d);
    const auto outside =
        std::count_if(v.begin(), v.end(), [&](float x) { return x < r.min || x > r.max; });
    if (outside > 0) {
      const auto [low, high] = std::minmax_element(v.begin(), v.end());
      std::fprintf(stderr,
                   "timbrel: note: %s target spans %.6g to %.6g%s; %ld of %zu hops lie outside "
                   "what the model reaches (%.6g to %.6g%s) and are clamped to it\n",
                   descriptor_name(d), double(*low), double(*high), unit_suffix(d).c_str(),
                   long(outside), hops, double(r.min), double(r.max), unit_suffix(d).c_str());
    }
  }
  if (gain) {
    curves.gain = gain->at_hops(hops, hop_s);
    if (std::any_of(curves.gain.begin(), curves.gain.end(), [](float g) { return g < 0.0f; }))
      throw std::runtime_error(
          "--gain: the gain curve holds negative values (it is a linear "
          "factor: 0 silent, 1 unchanged)");
  }

  std::vector<int> codes;
  const auto start = std::chrono::steady_clock::now();
  auto y = synth.render(curves, &codes);
  const double compute =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  y.resize(samples);
  timbrel::io::write_wav(out_path, timbrel::io::Audio{y, kModelRate});
  if (auto codes_path = option(args, "--codes", "--codes", ""); !codes_path.empty()) {
    std::ofstream file(codes_path);
    if (!file) throw std::runtime_error(codes_path + ": cannot create file");
    file << "hop,time_s,code\n";
    for (size_t t = 0; t < codes.size(); ++t)
      file << t << "," << double(t) * hop_s << "," << codes[t] << "\n";
  }

  const double seconds = double(samples) / kModelRate;
  std::vector<int> distinct = codes;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  size_t switches = 0;
  for (size_t t = 1; t < codes.size(); ++t) switches += codes[t] != codes[t - 1];
  const VqTimbre& model = synth.model();
  std::printf("model: %s (instrument %s, %d codes) from %s\n", model.name().c_str(),
              model.instrument().c_str(), model.codes(), model_path.c_str());
  std::printf(
      "mode: %s, reference f0 %.2f Hz, loud %.2f, loudness control %s, smoothing %.3g "
      "hops, hysteresis %.3g\n",
      transfer_mode_name(settings.mode), synth.table().reference.f0_hz,
      synth.table().reference.loudness, loudness_control_name(settings.loudness),
      double(settings.smoothing_hops), double(settings.hysteresis));
  for (const auto& [d, c] : targets) {
    const DescriptorRange r = synth.range(d);
    std::printf("target %s (weight %g, %s): model reaches %.6g to %.6g%s\n", descriptor_name(d),
                double(curves.weight[size_t(index_of(d))]),
                c.timed ? "time_s,value" : "one value per hop", double(r.min), double(r.max),
                unit_suffix(d).c_str());
  }
  std::printf("hops: %zu (%d samples each), %zu distinct codes, %zu code changes\n", hops, hop,
              distinct.size(), switches);
  std::printf("render: %.3f s of compute for %.2f s of audio, real-time factor %.4f\n", compute,
              seconds, seconds > 0 ? compute / seconds : 0.0);
  std::printf("wrote %s: %zu samples at %d Hz\n", out_path.c_str(), y.size(), kModelRate);
  return 0;
}

const char* kPitchNames[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};

std::string pitch_name(int midi) {
  return std::string(kPitchNames[midi % 12]) + std::to_string(midi / 12 - 1);
}

int transcribe_command(const Args& args) {
  using timbrel::engine::Transcriber;
  if (args.positional.size() != 1) throw std::runtime_error("transcribe needs one input file");
  const std::string out_path = option(args, "-o", "--output", "");
  if (out_path.empty()) throw std::runtime_error("transcribe needs -o OUT.mid");
  const std::string model_arg = option(args, "--model", "-m", "");
  if (model_arg.empty()) throw std::runtime_error("transcribe needs --model NAME_OR_PATH");
  timbrel::engine::TranscriberSettings settings;
  if (auto text = option(args, "--gate", "--gate", ""); !text.empty()) {
    settings.gate_open_db = float(parse_double(text, "--gate"));
    settings.gate_close_db = settings.gate_open_db - 6.0f;
    if (settings.gate_open_db > 0.0f || settings.gate_open_db < -110.0f)
      throw std::runtime_error("--gate must lie in [-110, 0] dBFS");
  }

  const std::string model_path = resolve_model(model_arg);
  auto loaded = timbrel::models::CrossmodalVae::load_file(model_path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  auto& model = *loaded.model;
  Transcriber transcriber(model, settings);

  auto audio = timbrel::io::read_wav(args.positional[0]);
  if (audio.samples.empty())
    throw std::runtime_error(args.positional[0] + ": the file holds no samples");
  const double seconds = double(audio.samples.size()) / audio.sample_rate;
  const auto x = audio.sample_rate == kModelRate
                     ? audio.samples
                     : timbrel::dsp::resample(audio.samples, audio.sample_rate, kModelRate);
  const auto start = std::chrono::steady_clock::now();
  const auto result = transcriber.transcribe(x.data(), x.size());
  const double compute =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto bytes = timbrel::midi::write_smf(result.notes, 120.0, 480);
  std::ofstream file(out_path, std::ios::binary);
  if (!file) throw std::runtime_error(out_path + ": cannot create file");
  file.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!file.flush()) throw std::runtime_error(out_path + ": write failed");

  const int slots = result.instruments;
  if (auto frames_path = option(args, "--frames", "--frames", ""); !frames_path.empty()) {
    std::ofstream csv(frames_path);
    if (!csv) throw std::runtime_error(frames_path + ": cannot create file");
    csv << "time_s,level_db,active,flux";
    for (int s = 0; s < slots; ++s)
      csv << ",pitch_" << s << ",dynamics_" << s << ",confidence_" << s;
    csv << "\n";
    char cell[96];
    for (const auto& f : result.frames) {
      std::snprintf(cell, sizeof cell, "%.6f,%.2f,%d,%.3f", f.time_s, double(f.level_db),
                    f.active ? 1 : 0, double(f.flux));
      csv << cell;
      for (int s = 0; s < slots; ++s) {
        const auto& slot = f.slots[size_t(s)];
        std::snprintf(cell, sizeof cell, ",%d,%d,%.4f", slot.pitch, slot.dynamics,
                      double(slot.confidence));
        csv << cell;
      }
      csv << "\n";
    }
    if (!csv.flush()) throw std::runtime_error(frames_path + ": write failed");
  }

  std::string instruments;
  for (const auto& name : model.instrument_names())
    instruments += (instruments.empty() ? "" : ", ") + name;
  std::printf("model: %s (crossmodal_vae, instruments: %s) from %s\n", model.name().c_str(),
              instruments.c_str(), model_path.c_str());
  std::printf("input: %s, %zu samples at %d Hz (%.2f s), transcribed at %d Hz\n",
              args.positional[0].c_str(), audio.samples.size(), audio.sample_rate, seconds,
              kModelRate);
  std::printf(
      "settings: gate %.1f/%.1f dBFS, pitch median %d frames, pitch change held %d frames, "
      "shortest note %d frames (%.0f ms), onset rise %.1f dB in %d frames\n",
      double(settings.gate_open_db), double(settings.gate_close_db), settings.median_frames,
      settings.pitch_change_frames, settings.min_note_frames,
      1000.0 * settings.min_note_frames / settings.frame_rate_hz, double(settings.onset_rise_db),
      settings.onset_window_frames);
  const char* dynamics[3] = {"pp", "mf", "ff"};
  for (const auto& n : result.notes) {
    int d = 0;
    while (d < 2 && model.dynamics_velocity()[size_t(d)] != n.velocity) ++d;
    std::printf("  %8.3f - %8.3f s  %-4s (%3d)  %s  %s\n", n.start_s, n.end_s,
                pitch_name(n.pitch).c_str(), n.pitch, dynamics[d],
                model.instrument_names()[size_t(n.track)].c_str());
  }
  std::printf("%s\n", result.summary.c_str());
  std::printf("transcribe: %.3f s of compute for %.2f s of audio, real-time factor %.4f\n", compute,
              seconds, seconds > 0 ? compute / seconds : 0.0);
  std::printf("wrote %s: %zu notes, format 0, 120 BPM, 480 ticks per quarter%s\n", out_path.c_str(),
              result.notes.size(), slots > 1 ? " (instrument i on channel i)" : "");
  return 0;
}

// One progress line on stderr, rewritten in place: the spectral frames, then
// the Griffin-Lim iterations.
class ProgressLine {
 public:
  bool operator()(const char* stage, int done, int total) {
    const int percent = total > 0 ? int(100.0 * done / total) : 100;
    if (stage == last_stage_ && percent == last_percent_) return true;
    if (!last_stage_.empty() && stage != last_stage_) std::fputc('\n', stderr);
    last_stage_ = stage;
    last_percent_ = percent;
    const bool phase = last_stage_ == "phase";
    const int width = 30, filled = width * percent / 100;
    std::fprintf(stderr, "\r%-16s [%s%s] %3d%% (%d/%d %s)",
                 phase ? "phase (GL)" : "spectral frames", std::string(size_t(filled), '#').c_str(),
                 std::string(size_t(width - filled), '.').c_str(), percent, done, total,
                 phase ? "iterations" : "frames");
    std::fflush(stderr);
    return true;
  }
  void finish() {
    if (!last_stage_.empty()) std::fputc('\n', stderr);
  }

 private:
  std::string last_stage_;
  int last_percent_ = -1;
};

int render_midi_command(const Args& args) {
  namespace engine = timbrel::engine;
  if (args.positional.size() != 1) throw std::runtime_error("render-midi needs one MIDI file");
  const std::string out_path = option(args, "-o", "--output", "");
  if (out_path.empty()) throw std::runtime_error("render-midi needs -o OUT.wav");
  const std::string model_arg = option(args, "--model", "-m", "");
  if (model_arg.empty()) throw std::runtime_error("render-midi needs --model NAME_OR_PATH");

  engine::RenderOptions options;
  options.synth.temperature =
      float(parse_double(option(args, "--temperature", "--temperature", "0"), "--temperature"));
  const std::string interpolation = option(args, "--interpolation", "--interpolation", "cubic");
  if (!engine::parse_interpolation(interpolation, &options.synth.interpolation))
    throw std::runtime_error("--interpolation must be none, linear or cubic, got '" +
                             interpolation + "'");
  const std::string phase = option(args, "--phase", "--phase", "griffin-lim");
  if (!engine::parse_phase_method(phase, &options.phase))
    throw std::runtime_error("--phase must be griffin-lim or rtpghi, got '" + phase + "'");
  const long iterations =
      parse_long(option(args, "--iterations", "--iterations", "30"), "--iterations");
  if (iterations < 0 || iterations > 1000)
    throw std::runtime_error("--iterations must be in 0..1000");
  options.iterations = int(iterations);
  const long seed =
      parse_long(option(args, "--seed", "--seed", std::to_string(options.synth.seed)), "--seed");
  if (seed < 0 || seed > 0xFFFFFFFFL) throw std::runtime_error("--seed must be in 0..4294967295");
  options.synth.seed = std::uint32_t(seed);
  if (auto problem = engine::validate(options.synth); !problem.empty())
    throw std::runtime_error("--" + problem);

  // The song first: a bad MIDI file is reported before the model is loaded.
  const auto parsed = timbrel::midi::read_smf_file(args.positional[0]);
  if (!parsed.ok()) throw std::runtime_error(parsed.error);
  const timbrel::midi::Song& song = parsed.song;
  const std::string model_path = resolve_model(model_arg);
  auto loaded = timbrel::models::CrossmodalVae::load_file(model_path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  auto& model = *loaded.model;

  ProgressLine progress;
  const auto start = std::chrono::steady_clock::now();
  const auto result = engine::render_song(
      model, song, options,
      [&progress](const char* stage, int done, int total) { return progress(stage, done, total); });
  const double compute =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.finish();
  timbrel::io::write_wav(out_path, {result.samples, kModelRate});

  const auto& r = result.report;
  std::string instruments;
  for (const auto& name : model.instrument_names())
    instruments += (instruments.empty() ? "" : ", ") + name;
  std::printf("model: %s (crossmodal_vae, instruments: %s) from %s\n", model.name().c_str(),
              instruments.c_str(), model_path.c_str());
  std::printf("song: %s, format %d, %d tracks, %.2f s, %d notes (%d drum notes skipped)\n",
              args.positional[0].c_str(), song.format, song.tracks, song.duration_s, r.notes,
              r.drum_notes_skipped);
  std::printf("settings: temperature %.2f, interpolation %s, phase %s",
              double(options.synth.temperature),
              engine::interpolation_name(options.synth.interpolation),
              engine::phase_method_name(options.phase));
  if (options.phase == engine::PhaseMethod::kGriffinLim)
    std::printf(" (%d iterations)", options.iterations);
  std::printf(", seed %u\n", unsigned(options.synth.seed));
  std::printf(
      "notes: %d rendered, %ld moved by octaves into the model's range; voices: at most %d "
      "sounding (of %d), %ld stolen\n",
      r.notes_rendered, r.notes_transposed, r.peak_voices, engine::kMaxVoices, r.voices_stolen);
  if (r.normalised)
    std::printf("level: peak %.3f would clip: scaled by %.3f to -1 dBFS\n", double(r.peak),
                double(r.gain));
  else
    std::printf("level: peak %.3f (not normalised)\n", double(r.peak));
  std::printf("render: %.3f s of compute for %.2f s of audio (%ld frames), real-time factor %.4f\n",
              compute, r.duration_s, r.frames, r.duration_s > 0 ? compute / r.duration_s : 0.0);
  std::printf("wrote %s: %zu samples at %d Hz\n", out_path.c_str(), result.samples.size(),
              kModelRate);
  return 0;
}

// `timbrel phase-eval`: how closely each phase reconstruction inverts the
// file's own STFT magnitudes (oracle) and its constant-Q back-projection (what
// a cross-modal model's decoder gives), with the time each takes.
int phase_eval_command(const Args& args) {
  namespace dsp = timbrel::dsp;
  if (args.positional.size() != 1) throw std::runtime_error("phase-eval needs one input file");
  const long iterations = parse_long(option(args, "--iterations", "-n", "30"), "--iterations");
  if (iterations < 0 || iterations > 10000)
    throw std::runtime_error("--iterations must be between 0 and 10000");
  const std::string csv_path = option(args, "--csv", "--csv", "");
  const auto audio = timbrel::io::read_wav(args.positional[0]);
  const auto x = dsp::resample(audio.samples, audio.sample_rate, kModelRate);
  if (x.empty()) throw std::runtime_error(args.positional[0] + ": no samples");

  const dsp::ConstantQ cqt;
  const auto config = cqt.stft_config();
  const auto spectra = dsp::stft(x, config);
  const size_t bins = size_t(cqt.fft_bins());
  dsp::MagnitudeFrames oracle(spectra.size(), std::vector<float>(bins));
  dsp::MagnitudeFrames projected(spectra.size(), std::vector<float>(bins));
  std::vector<float> constant_q(size_t(cqt.bins()));
  for (size_t m = 0; m < spectra.size(); ++m) {
    for (size_t k = 0; k < bins; ++k)
      oracle[m][k] = std::abs(spectra[m][k]) * cqt.magnitude_scale();
    cqt.magnitudes_from_spectrum(spectra[m].data(), constant_q.data());
    cqt.stft_magnitude_from_cqt(constant_q.data(), projected[m].data());
  }

  auto griffin_lim = [&](dsp::PhaseInit init, double momentum) {
    dsp::GriffinLimOptions options;
    options.iterations = int(iterations);
    options.init = init;
    options.momentum = momentum;
    return [=](const dsp::MagnitudeFrames& m) { return dsp::griffin_lim(m, config, options); };
  };
  dsp::RtpghiOptions no_lookahead;
  no_lookahead.lookahead = false;
  using Run = std::function<std::vector<float>(const dsp::MagnitudeFrames&)>;
  const std::vector<std::pair<std::string, Run>> methods = {
      {"rtpghi", [&](const dsp::MagnitudeFrames& m) { return dsp::rtpghi(m, config); }},
      {"rtpghi-no-lookahead",
       [&](const dsp::MagnitudeFrames& m) { return dsp::rtpghi(m, config, no_lookahead); }},
      {"gl-zero", griffin_lim(dsp::PhaseInit::zero, 0.0)},
      {"gl-zero-fast", griffin_lim(dsp::PhaseInit::zero, 0.99)},
      {"gl-rtpghi", griffin_lim(dsp::PhaseInit::rtpghi, 0.0)},
      {"gl-rtpghi-fast", griffin_lim(dsp::PhaseInit::rtpghi, 0.99)},
  };

  std::ofstream csv;
  if (!csv_path.empty()) {
    csv.open(csv_path);
    if (!csv) throw std::runtime_error(csv_path + ": cannot create file");
    csv << "magnitudes,method,spectral_convergence,seconds,audio_seconds\n";
  }
  const double seconds = double(x.size()) / kModelRate;
  std::printf(
      "input: %s, %.2f s at %d Hz, %zu frames (window %d, hop %d); Griffin-Lim: %ld "
      "iterations (-fast: momentum 0.99)\n",
      args.positional[0].c_str(), seconds, kModelRate, spectra.size(), config.window, config.hop,
      iterations);
  std::printf("%-10s  %-20s  %8s  %7s  %8s  %9s\n", "magnitudes", "method", "SC", "SC dB", "time s",
              "RT factor");
  for (const auto& [magnitude_name, magnitude] :
       {std::pair<const char*, const dsp::MagnitudeFrames*>{"stft", &oracle},
        std::pair<const char*, const dsp::MagnitudeFrames*>{"cqt", &projected}}) {
    for (const auto& [name, run] : methods) {
      const auto start = std::chrono::steady_clock::now();
      const auto y = run(*magnitude);
      const double compute =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double sc = dsp::spectral_convergence(*magnitude, y, config);
      std::printf("%-10s  %-20s  %8.4f  %7.2f  %8.3f  %9.4f\n", magnitude_name, name.c_str(), sc,
                  20.0 * std::log10(std::max(sc, 1e-12)), compute, compute / seconds);
      if (csv)
        csv << magnitude_name << ',' << name << ',' << sc << ',' << compute << ',' << seconds
            << '\n';
    }
  }
  return 0;
}

// "C4" for 60 (middle C; octave = key / 12 - 1).
std::string note_name(int pitch) {
  static const char* kNames[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  return kNames[pitch % 12] + std::to_string(pitch / 12 - 1);
}

int midi_info_command(const Args& args) {
  namespace midi = timbrel::midi;
  if (args.positional.size() != 1) throw std::runtime_error("midi-info needs one MIDI file");
  const long shown = parse_long(option(args, "--notes", "-n", "10"), "--notes");
  if (shown < 0) throw std::runtime_error("--notes must not be negative");
  const auto parsed = midi::read_smf_file(args.positional[0]);
  if (!parsed.ok()) throw std::runtime_error(parsed.error);
  const midi::Song& song = parsed.song;

  std::printf("%s: format %d, %d track%s, ", args.positional[0].c_str(), song.format, song.tracks,
              song.tracks == 1 ? "" : "s");
  if (song.division > 0)
    std::printf("%d ticks per quarter note\n", song.division);
  else
    std::printf("SMPTE time, %.2f frames per second x %d ticks per frame\n", song.smpte_fps,
                song.ticks_per_frame);
  if (song.division == 0) {
    std::printf("tempo: none (SMPTE time is absolute)\n");
  } else if (song.tempo_changes.empty()) {
    std::printf("tempo: 120 BPM (the file sets none)\n");
  } else {
    std::printf("tempo:");
    constexpr size_t kShownTempos = 8;
    for (size_t i = 0; i < song.tempo_changes.size() && i < kShownTempos; ++i)
      std::printf("%s %.2f BPM at %.3f s", i ? "," : "", song.tempo_changes[i].bpm(),
                  song.tempo_changes[i].time_s);
    if (song.tempo_changes.size() > kShownTempos)
      std::printf(", ... %zu changes in all", song.tempo_changes.size());
    std::printf("\n");
  }
  std::printf("duration: %.3f s\n", song.duration_s);
  for (int t = 0; t < song.tracks; ++t) {
    const auto count = std::count_if(song.notes.begin(), song.notes.end(),
                                     [t](const midi::Note& n) { return n.track == t; });
    std::printf("track %d: '%s', %ld notes\n", t, song.track_names[size_t(t)].c_str(), long(count));
  }
  if (song.notes.empty()) {
    std::printf("notes: none (the file holds no notes)\n");
    return 0;
  }
  const auto [low, high] = std::minmax_element(
      song.notes.begin(), song.notes.end(),
      [](const midi::Note& a, const midi::Note& b) { return a.pitch < b.pitch; });
  std::printf("notes: %zu (%d on drum channel 10), pitch range %s (%d) to %s (%d)\n",
              song.notes.size(), song.drum_notes(), note_name(low->pitch).c_str(), low->pitch,
              note_name(high->pitch).c_str(), high->pitch);
  if (song.notes_closed_at_end > 0)
    std::printf("%d notes never released: ended with their track\n", song.notes_closed_at_end);
  if (song.unmatched_note_offs > 0)
    std::printf("%d note-offs without a sounding note: ignored\n", song.unmatched_note_offs);
  const size_t count = std::min(song.notes.size(), size_t(shown));
  if (count == 0) return 0;
  std::printf("first %zu notes:\n  start_s    end_s  track  channel  pitch      velocity\n", count);
  for (size_t i = 0; i < count; ++i) {
    const midi::Note& n = song.notes[i];
    std::printf("%9.3f %8.3f %6d %8d  %3d %-5s %9d%s\n", n.start_s, n.end_s, n.track, n.channel + 1,
                n.pitch, note_name(n.pitch).c_str(), n.velocity, n.drum() ? "  drum" : "");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  try {
    const Args args = parse(argc, argv);
    if (command == "analyse" || command == "analyze") return analyse(args);
    if (command == "resample") return resample_command(args);
    if (command == "transfer") return transfer_command(args);
    if (command == "analyse-codes" || command == "analyze-codes")
      return analyse_codes_command(args);
    if (command == "draw") return draw_command(args);
    if (command == "transcribe") return transcribe_command(args);
    if (command == "render-midi") return render_midi_command(args);
    if (command == "phase-eval") return phase_eval_command(args);
    if (command == "midi-info") return midi_info_command(args);
    if (command == "--help" || command == "help") {
      std::cout << kUsage;
      return 0;
    }
    std::cerr << "timbrel: unknown command '" << command << "'\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "timbrel: " << e.what() << "\n";
    return 1;
  }
}
