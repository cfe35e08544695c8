#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "timbrel/dsp/cqt.h"
#include "timbrel/dsp/descriptors.h"
#include "timbrel/dsp/phase_reconstruction.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/dsp/stft.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/io/wav.h"

namespace timbrel::cli {

int analyse_command(const Args& args) {
  if (args.positional.size() != 1) throw std::runtime_error("analyse needs one input file");
  const long window = parse_long(option(args, "--window", "-w", "1024"), "--window");
  const long hop = parse_long(option(args, "--hop", "-h", "256"), "--hop");
  // Checked before anything is read: a hop of 0 would divide by zero below.
  if (window < 16 || window > 65536)
    throw std::runtime_error("--window must be 16-65536 samples, got " + std::to_string(window));
  if (hop < 1 || hop > window / 2)
    throw std::runtime_error("--hop must be 1 to half the window (" + std::to_string(window / 2) +
                             ") samples, got " + std::to_string(hop));
  if (window % hop != 0) throw std::runtime_error("--window must be a multiple of --hop");
  const std::string out_path = option(args, "-o", "--output", "");
  auto audio = read_clip(args.positional[0]);
  const auto x = timbrel::dsp::resample(audio.samples, audio.sample_rate, kModelRate);

  timbrel::dsp::StftAnalyzer stft({int(window), int(hop)});
  timbrel::dsp::DescriptorAnalyzer descriptors(int(window), kModelRate);
  timbrel::dsp::Yin yin({double(kModelRate), int(window), 50.0, 2000.0, 0.15});

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
  auto audio = read_clip(args.positional[0]);
  timbrel::io::Audio out{timbrel::dsp::resample(audio.samples, audio.sample_rate, rate), rate};
  timbrel::io::write_wav(out_path, out);
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
  const auto audio = read_clip(args.positional[0]);
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
      const double compute = seconds_since(start);
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

}  // namespace timbrel::cli
