// timbrel: the native command-line tool.
//   timbrel analyse IN.wav [-o OUT.csv] [--window N] [--hop H]
//   timbrel resample IN.wav --rate HZ -o OUT.wav
#include <cstdio>
#include <cstdlib>
#include <exception>
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

namespace {

constexpr int kModelRate = 22050;

const char* kUsage =
    "usage:\n"
    "  timbrel analyse IN.wav [-o OUT.csv] [--window 1024] [--hop 256]\n"
    "      per-frame descriptors at 22050 Hz (frame m = samples [m hop, m hop + window))\n"
    "  timbrel resample IN.wav --rate HZ -o OUT.wav\n";

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
