#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "curve_file.h"
#include "timbrel/io/wav.h"
#include "timbrel/models/code_analysis.h"
#include "timbrel/models/descriptor_synth.h"
#include "timbrel/models/vq_timbre.h"

namespace timbrel::cli {

int analyse_codes_command(const Args& args) {
  using timbrel::models::VqTimbre;
  if (args.positional.size() != 1)
    throw std::runtime_error("analyse-codes needs one model (NAME or PATH.tmbl)");
  const std::string out_path = option(args, "-o", "--output", "");
  const std::string model_path = resolve_model(args.positional[0], "vq_timbre");
  auto loaded = VqTimbre::load_file(model_path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  const auto start = std::chrono::steady_clock::now();
  const auto table = timbrel::models::analyse_codes(*loaded.model);
  const double seconds = seconds_since(start);
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

namespace {

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

}  // namespace

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
    if (!(seconds > 0.0) || seconds > kMaxCurveSeconds)
      throw std::runtime_error("--duration must lie in (0, " +
                               std::to_string(int(kMaxCurveSeconds)) + "] seconds, got " + text);
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

  const std::string model_path = resolve_model(model_arg, "vq_timbre");
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
  const double compute = seconds_since(start);
  y.resize(samples);
  write_guarded(out_path, timbrel::io::Audio{y, kModelRate});
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
  print_compute("render", compute, seconds);
  std::printf("wrote %s: %zu samples at %d Hz\n", out_path.c_str(), y.size(), kModelRate);
  return 0;
}

}  // namespace timbrel::cli
