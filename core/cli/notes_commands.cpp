// `timbrel notes sample | transfer | info`: the GMVAE note model (docs/gmvae.md)
// from the command line, through models::Gmvae and engine::render_note (the
// same code as the page's Notes panel).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/engine/gmvae_synth.h"
#include "timbrel/io/wav.h"
#include "timbrel/models/gmvae.h"

namespace timbrel::cli {

namespace {

using models::Gmvae;

std::unique_ptr<Gmvae> load_gmvae(const Args& args, const char* command) {
  const std::string arg = option(args, "--model", "-m", "");
  if (arg.empty())
    throw std::runtime_error(std::string("notes ") + command + " needs --model NAME_OR_PATH");
  const std::string path = resolve_model(arg, "gmvae");
  auto loaded = Gmvae::load_file(path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  return std::move(loaded.model);
}

std::string out_path(const Args& args, const char* command) {
  const std::string path = option(args, "--out", "-o", "");
  if (path.empty())
    throw std::runtime_error(std::string("notes ") + command + " needs --out OUT.wav");
  return path;
}

std::string names(const std::vector<std::string>& list) {
  std::string text;
  for (const auto& n : list) text += (text.empty() ? "" : ", ") + n;
  return text;
}

int instrument_of(const Gmvae& model, const std::string& name, const char* option_name) {
  const int k = model.instrument_index(name);
  if (k < 0)
    throw std::runtime_error(std::string(option_name) + ": the model has no instrument '" + name +
                             "' (it has: " + names(model.instrument_names()) + ")");
  return k;
}

engine::GmvaeRenderOptions render_options(const Args& args) {
  engine::GmvaeRenderOptions options;
  const std::string phase = option(args, "--phase", "--phase", "griffin-lim");
  if (phase != "griffin-lim" && phase != "rtpghi")
    throw std::runtime_error("--phase must be griffin-lim or rtpghi, got '" + phase + "'");
  options.griffin_lim = phase == "griffin-lim";
  const long iterations =
      parse_long(option(args, "--iterations", "--iterations", "30"), "--iterations");
  if (iterations < 0 || iterations > 1000)
    throw std::runtime_error("--iterations must be within 0-1000, got " +
                             std::to_string(iterations));
  options.iterations = int(iterations);
  const long velocity = parse_long(option(args, "--velocity", "--velocity", "100"), "--velocity");
  if (velocity < 1 || velocity > 127)
    throw std::runtime_error("--velocity must be within 1-127, got " + std::to_string(velocity));
  options.velocity = int(velocity);
  return options;
}

double seconds_option(const Args& args, double fallback) {
  const double s =
      parse_double(option(args, "--seconds", "--seconds", std::to_string(fallback)), "--seconds");
  if (s < 0.0 || s > engine::kMaxHeldSeconds)
    throw std::runtime_error("--seconds (how long the key is held) must be within 0-" +
                             std::to_string(int(engine::kMaxHeldSeconds)) + " s, got " +
                             std::to_string(s));
  return s;
}

double level_db(double x) { return 20.0 * std::log10(std::max(x, 1e-12)); }

// Peak and RMS of the held part, and YIN's median f0 over it (after the attack).
void report_audio(const std::vector<float>& y, double held_s, int expected_midi) {
  double peak = 0.0, energy = 0.0;
  const size_t end = std::min(y.size(), size_t(std::max(0.1, held_s) * kModelRate));
  for (size_t i = 0; i < end; ++i) {
    peak = std::max(peak, double(std::fabs(y[i])));
    energy += double(y[i]) * y[i];
  }
  std::printf("level: peak %.1f dBFS, RMS %.1f dBFS (over the %.2f s held)\n", level_db(peak),
              level_db(std::sqrt(energy / double(std::max<size_t>(end, 1)))), held_s);
  dsp::Yin yin({double(kModelRate), 1024, 50.0, 2000.0, 0.15});
  std::vector<double> f0;
  for (size_t s = size_t(0.1 * kModelRate); s + 1024 <= end; s += 256) {
    const auto p = yin.estimate(y.data() + s);
    if (p.voiced) f0.push_back(p.f0_hz);
  }
  if (f0.empty()) {
    std::printf("f0: unvoiced (YIN found no pitch in the held part after 0.1 s)\n");
    return;
  }
  std::nth_element(f0.begin(), f0.begin() + long(f0.size() / 2), f0.end());
  const double median = f0[f0.size() / 2];
  std::printf("f0: %.1f Hz (YIN median of %zu voiced frames)", median, f0.size());
  if (expected_midi >= 0) {
    const double target = 440.0 * std::pow(2.0, (expected_midi - 69) / 12.0);
    std::printf(", %+.1f cents from %s (%.1f Hz)", 1200.0 * std::log2(median / target),
                note_name(expected_midi).c_str(), target);
  }
  std::printf("\n");
}

void write_render(const std::string& path, const engine::GmvaeRender& r) {
  if (r.guard.muted)
    throw std::runtime_error(std::string("the model produced invalid output (") +
                             r.guard.mute_reason +
                             " for more than 100 ms); muted: nothing written");
  if (r.normalised)
    std::printf("normalised: peak %.2f scaled to -1 dBFS (gain %.3f)\n", double(r.peak),
                double(r.gain));
  write_guarded(path, io::Audio{r.samples, kModelRate});
  std::printf("wrote %s: %zu samples (%.2f s) at %d Hz, %ld spectral frames\n", path.c_str(),
              r.samples.size(), double(r.samples.size()) / kModelRate, kModelRate, r.frames);
}

int notes_sample(const Args& args) {
  auto model = load_gmvae(args, "sample");
  const std::string path = out_path(args, "sample");
  const std::string instrument = option(args, "--instrument", "-i", "");
  if (instrument.empty())
    throw std::runtime_error("notes sample needs --instrument NAME (the model has: " +
                             names(model->instrument_names()) + ")");
  const int k = instrument_of(*model, instrument, "--instrument");
  const std::string pitch_text = option(args, "--pitch", "-p", "");
  if (pitch_text.empty())
    throw std::runtime_error("notes sample needs --pitch NOTE (e.g. A4 or 69)");
  const int midi = parse_pitch(pitch_text);
  if (midi < 0)
    throw std::runtime_error(
        "--pitch must be a note name (A4, C#3, Bb2) or a MIDI number 0-127, got '" + pitch_text +
        "'");
  const int m = model->pitch_index(midi);
  if (m < 0)
    throw std::runtime_error("--pitch " + note_name(midi) + " (" + std::to_string(midi) +
                             ") is not one of the model's pitch components (" +
                             note_name(model->pitch_midi().front()) + " to " +
                             note_name(model->pitch_midi().back()) + ", " +
                             std::to_string(model->pitches()) + " pitches)");
  const auto [lo, hi] = model->instrument_range(k);
  const double spread = parse_double(option(args, "--spread", "-w", "0"), "--spread");
  if (spread < 0.0 || spread > 10.0)
    throw std::runtime_error("--spread must be within 0-10, got " + std::to_string(spread));
  const long seed = parse_long(option(args, "--seed", "--seed", "1"), "--seed");
  if (seed < 0 || seed > 4294967295L)
    throw std::runtime_error("--seed must be within 0-4294967295, got " + std::to_string(seed));
  const double held_s = seconds_option(args, 1.0);
  const auto options = render_options(args);

  std::printf("model: %s (gmvae, %d instruments, %d pitches %s-%s)\n", model->name().c_str(),
              model->instruments(), model->pitches(),
              note_name(model->pitch_midi().front()).c_str(),
              note_name(model->pitch_midi().back()).c_str());
  std::printf("note: %s %s (MIDI %d), spread %.2f, seed %ld, held %.2f s, velocity %d%s\n",
              instrument.c_str(), note_name(midi).c_str(), midi, spread, seed, held_s,
              options.velocity,
              midi < lo || midi > hi ? " (outside the instrument's trained range)" : "");
  std::vector<float> z(Gmvae::kZ);
  model->sample(k, m, float(spread), std::uint32_t(seed), z.data());
  const auto start = std::chrono::steady_clock::now();
  const auto r = engine::render_note(*model, z.data(), held_s, options);
  print_compute(options.griffin_lim ? "render (RTPGHI + fast Griffin-Lim)" : "render (RTPGHI)",
                seconds_since(start), double(r.samples.size()) / kModelRate);
  report_audio(r.samples, held_s, midi);
  write_render(path, r);
  return 0;
}

int notes_transfer(const Args& args) {
  auto model = load_gmvae(args, "transfer");
  const std::string path = out_path(args, "transfer");
  const std::string in = option(args, "--in", "--input", "");
  if (in.empty()) throw std::runtime_error("notes transfer needs --in NOTE.wav");
  const std::string target_name = option(args, "--to", "--to", "");
  if (target_name.empty())
    throw std::runtime_error("notes transfer needs --to INSTRUMENT (the model has: " +
                             names(model->instrument_names()) + ")");
  const int target = instrument_of(*model, target_name, "--to");
  const double amount = parse_double(option(args, "--amount", "-a", "1"), "--amount");
  if (amount < 0.0 || amount > 1.0)
    throw std::runtime_error("--amount must be within 0-1, got " + std::to_string(amount));
  const auto audio = read_clip(in);
  const auto x = dsp::resample(audio.samples, audio.sample_rate, kModelRate);
  const double length_s = double(x.size()) / kModelRate;
  const double held_s =
      seconds_option(args, std::clamp(length_s - 0.15, 0.1, engine::kMaxHeldSeconds));
  const auto options = render_options(args);

  std::vector<float> z(Gmvae::kZ), moved(Gmvae::kZ);
  model->encode_audio(x.data(), x.size(), z.data());
  const int source = model->nearest_instrument(z.data() + Gmvae::kLatent);
  model->transfer(z.data(), target, float(amount), moved.data());
  std::printf("model: %s (gmvae)\n", model->name().c_str());
  std::printf("input: %s, %.2f s at %d Hz; nearest timbre component: %s\n", in.c_str(), length_s,
              audio.sample_rate, model->instrument_names()[size_t(source)].c_str());
  std::printf(
      "transfer: %s -> %s, amount %.2f (z_t moved by the difference of their means; "
      "z_p kept); held %.2f s\n",
      model->instrument_names()[size_t(source)].c_str(), target_name.c_str(), amount, held_s);
  const auto start = std::chrono::steady_clock::now();
  const auto r = engine::render_note(*model, moved.data(), held_s, options);
  print_compute("render", seconds_since(start), double(r.samples.size()) / kModelRate);
  report_audio(r.samples, held_s, -1);
  write_render(path, r);
  return 0;
}

int notes_info(const Args& args) {
  auto model = load_gmvae(args, "info");
  const auto info = nlohmann::json::parse(model->info_json());
  nlohmann::json graphs = nlohmann::json::object();
  for (const char* name : {"pitch_encoder", "timbre_encoder", "decoder"}) {
    const auto& g = model->model().graph(name);
    graphs[name] = {{"ops", g.size()},
                    {"weights", g.parameters()},
                    {"inputSize", g.input_size()},
                    {"outputSize", g.output_size()}};
  }
  nlohmann::json out = {{"name", info["name"]},
                        {"family", "gmvae"},
                        {"instruments", info["instruments"]},
                        {"instrumentRanges", info["instrumentRanges"]},
                        {"pitches", info["pitches"]},
                        {"sizes",
                         {{"sampleRate", Gmvae::kSampleRate},
                          {"window", Gmvae::kWindow},
                          {"hop", Gmvae::kHop},
                          {"frames", Gmvae::kFrames},
                          {"melBins", Gmvae::kMelBins},
                          {"latent", Gmvae::kLatent},
                          {"pitchComponents", model->pitches()},
                          {"timbreComponents", model->instruments()},
                          {"mapPoints", model->map().points.size()},
                          {"graphs", graphs}}},
                        {"dbMin", info["dbMin"]},
                        {"dbMax", info["dbMax"]},
                        {"pitchSigma", info["pitchSigma"]},
                        {"timbreSigma", info["timbreSigma"]},
                        {"brightness", info["brightness"]}};
  std::printf("%s\n", out.dump(1).c_str());
  return 0;
}

}  // namespace

int notes_command(const Args& args) {
  const std::string sub = args.positional.empty() ? "" : args.positional[0];
  if (args.positional.size() > 1)
    throw std::runtime_error("notes " + sub + ": unexpected argument '" + args.positional[1] + "'");
  if (sub == "sample") return notes_sample(args);
  if (sub == "transfer") return notes_transfer(args);
  if (sub == "info") return notes_info(args);
  throw std::runtime_error((sub.empty() ? std::string("notes needs a subcommand")
                                        : "notes: unknown subcommand '" + sub + "'") +
                           " (sample, transfer or info)");
}

}  // namespace timbrel::cli
