#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "commands.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/io/wav.h"
#include "timbrel/models/vq_timbre.h"

namespace timbrel::cli {

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
  // auto (the default): the page's suggestion, from the input's median pitch.
  const std::string octaves_arg = option(args, "--octaves", "--octaves", "auto");
  const bool auto_octaves = octaves_arg == "auto";
  if (!auto_octaves) {
    const long octaves = parse_long(octaves_arg, "--octaves");
    if (octaves < -VqTimbre::kMaxOctaves || octaves > VqTimbre::kMaxOctaves)
      throw std::runtime_error("--octaves must be auto or between -3 and 3");
    options.octaves = int(octaves);
  }
  const long seed = parse_long(
      option(args, "--seed", "--seed", std::to_string(VqTimbre::kDefaultSeed)), "--seed");
  if (seed < 0 || seed > 0xFFFFFFFFL) throw std::runtime_error("--seed must be in 0..4294967295");
  options.seed = std::uint32_t(seed);

  const std::string model_path = resolve_model(model_arg, "vq_timbre");
  auto loaded = VqTimbre::load_file(model_path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  VqTimbre& model = *loaded.model;

  auto audio = read_clip(args.positional[0]);
  const double seconds = double(audio.samples.size()) / audio.sample_rate;
  const auto x = timbrel::dsp::resample(audio.samples, audio.sample_rate, kModelRate);
  const auto start = std::chrono::steady_clock::now();
  if (auto_octaves)
    options.octaves = model.suggest_octaves(
        model.pitch_track(x.data(), x.size(), VqTimbre::render_hops(x.size())));
  const auto y = model.render(x.data(), x.size(), options);
  const double compute = seconds_since(start);
  timbrel::io::Audio out{timbrel::dsp::resample(y, kModelRate, audio.sample_rate),
                         audio.sample_rate};
  out.samples.resize(audio.samples.size(), 0.0f);
  write_guarded(out_path, out);

  std::printf("model: %s (instrument %s, %s, %d codes, latent %d, hidden %d) from %s\n",
              model.name().c_str(), model.instrument().c_str(),
              model.quantized() ? "VQ" : "not quantized", model.codes(), model.latent(),
              model.hidden(), model_path.c_str());
  std::printf("mode: %s, octaves %+d%s, seed 0x%08X\n",
              timbrel::models::transfer_mode_name(options.mode), options.octaves,
              auto_octaves ? " (auto: the input's median pitch to the model's range)" : "",
              unsigned(options.seed));
  std::printf("input: %s, %zu samples at %d Hz (%.2f s), rendered at %d Hz\n",
              args.positional[0].c_str(), audio.samples.size(), audio.sample_rate, seconds,
              kModelRate);
  print_compute("render", compute, seconds);
  std::printf("wrote %s: %zu samples at %d Hz\n", out_path.c_str(), out.samples.size(),
              out.sample_rate);
  return 0;
}

}  // namespace timbrel::cli
