// timbrel: the native command-line tool.
//   timbrel analyse IN.wav [-o OUT.csv] [--window N] [--hop H]
//   timbrel resample IN.wav --rate HZ -o OUT.wav
//   timbrel transfer IN.wav --model NAME_OR_PATH -o OUT.wav [--mode pitch|noise]
//                   [--octaves N] [--seed S]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "timbrel/dsp/descriptors.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/dsp/stft.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/io/wav.h"
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
    "      the current directory, else under the source tree; the output keeps IN's rate\n";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
};

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 1 && a[0] == '-') {
      if (i + 1 >= argc) throw std::runtime_error("option " + a + " needs a value");
      args.options[a] = argv[++i];
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
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
                  d.centroid_hz, d.bandwidth_hz, d.rolloff_hz, d.flatness, p.f0_hz,
                  p.confidence, p.voiced ? 1 : 0);
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
