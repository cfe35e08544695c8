// `timbrel grains info | hit | beatbox | path`: the neural granular drum model
// (docs/grains.md) from the command line, through models::GrainsModel and the
// offline renders of engine/grain_synth.h (the same code as the page's Grains
// panel). Files come from strangers: rates, lengths, silence and every option
// are checked with a message naming the problem.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/engine/grain_synth.h"
#include "timbrel/io/wav.h"
#include "timbrel/models/grains.h"

namespace timbrel::cli {

namespace {

using engine::GrainSynth;
using models::GrainsModel;

constexpr int kMinRate = 8000, kMaxRate = 192000;
// Below this peak an input counts as silent (-80 dBFS; non-finite samples are
// read as 0, so a file of NaNs is silent too).
constexpr double kSilentPeak = 1e-4;
constexpr double kMaxPathSeconds = 60.0;

std::unique_ptr<GrainsModel> load_grains(const Args& args, const char* command) {
  const std::string arg = option(args, "--model", "-m", "");
  if (arg.empty())
    throw std::runtime_error(std::string("grains ") + command + " needs --model M.tmbl");
  auto loaded = GrainsModel::load_file(resolve_model(arg, "grains"));
  if (!loaded.model) throw std::runtime_error(loaded.error);
  return std::move(loaded.model);
}

std::string out_path(const Args& args, const char* command) {
  const std::string path = option(args, "--out", "-o", "");
  if (path.empty())
    throw std::runtime_error(std::string("grains ") + command + " needs --out OUT.wav");
  return path;
}

std::string class_list(const GrainsModel& model) {
  std::string text;
  for (const auto& n : model.class_names()) text += (text.empty() ? "" : ", ") + n;
  return text;
}

// --pitch of a pitched model (MIDI number or note name; default: the class's
// typical pitch, -1); a drum model refuses it rather than ignore it.
float pitch_option(const Args& args, const GrainsModel& model, int k) {
  const std::string text = option(args, "--pitch", "-p", "");
  if (text.empty()) return -1.0f;
  if (!model.pitched())
    throw std::runtime_error(
        "--pitch: this model's classes are not pitched (a drum kit); leave "
        "--pitch out");
  const int midi = parse_pitch(text);
  if (midi < 0)
    throw std::runtime_error(
        "--pitch must be a note name (A4, C#3, Bb2) or a MIDI number 0-127, "
        "got '" +
        text + "'");
  const auto range = model.class_pitches(k);
  if (midi < range[0] - 12 || midi > range[2] + 12)
    std::fprintf(stderr,
                 "warning: --pitch %s is over an octave outside what %s was trained on (%s-%s)\n",
                 note_name(midi).c_str(), model.class_names()[std::size_t(k)].c_str(),
                 note_name(int(range[0])).c_str(), note_name(int(range[2])).c_str());
  return float(midi);
}

int class_of(const GrainsModel& model, const std::string& name, const char* option_name) {
  const int k = model.class_index(name);
  if (k < 0)
    throw std::runtime_error(std::string(option_name) + ": the model has no class '" + name +
                             "' (it has: " + class_list(model) + ")");
  return k;
}

int rate_option(const Args& args, int fallback) {
  const long rate = parse_long(option(args, "--rate", "-r", std::to_string(fallback)), "--rate");
  if (rate < kMinRate || rate > kMaxRate)
    throw std::runtime_error("--rate must be within " + std::to_string(kMinRate) + "-" +
                             std::to_string(kMaxRate) + " Hz, got " + std::to_string(rate));
  return int(rate);
}

std::uint32_t seed_option(const Args& args) {
  const long seed = parse_long(option(args, "--seed", "--seed", "1"), "--seed");
  if (seed < 0 || seed > 4294967295L)
    throw std::runtime_error("--seed must be within 0-4294967295, got " + std::to_string(seed));
  return std::uint32_t(seed);
}

double level_db(double x) { return 20.0 * std::log10(std::max(x, 1e-12)); }

// The render (22050 Hz) at `rate`, through the output guard, written; reports what it wrote.
void write_render(const std::string& path, const std::vector<float>& samples, int rate) {
  double peak = 0.0, energy = 0.0;
  for (float s : samples) {
    peak = std::max(peak, double(std::fabs(s)));
    energy += double(s) * s;
  }
  std::printf("level: peak %.1f dBFS, RMS %.1f dBFS\n", level_db(peak),
              level_db(std::sqrt(energy / double(std::max<size_t>(samples.size(), 1)))));
  auto out = rate == kModelRate ? samples : dsp::resample(samples, kModelRate, rate);
  const size_t n = out.size();
  write_guarded(path, io::Audio{std::move(out), rate});
  std::printf("wrote %s: %zu samples (%.2f s) at %d Hz\n", path.c_str(), n, double(n) / rate, rate);
}

// The live engine's latencies at a device rate with 128-frame blocks.
std::pair<int, int> live_latencies(GrainsModel& model, int rate) {
  GrainSynth synth(model);
  const std::string problem = synth.prepare(double(rate), 128);
  if (!problem.empty())
    throw std::runtime_error("the engine refused rate " + std::to_string(rate) + ": " + problem);
  return {synth.latency_samples(), synth.beatbox_latency_samples()};
}

// Per class {low, typical, high} MIDI pitch of a pitched model; null for drums.
nlohmann::json class_pitches_json(const GrainsModel& model) {
  if (!model.pitched()) return nullptr;
  nlohmann::json out = nlohmann::json::object();
  for (int k = 0; k < model.classes(); ++k) {
    const auto p = model.class_pitches(k);
    out[model.class_names()[std::size_t(k)]] = {{"low", note_name(int(p[0]))},
                                                {"typical", note_name(int(p[1]))},
                                                {"high", note_name(int(p[2]))}};
  }
  return out;
}

int grains_info(const Args& args) {
  auto model = load_grains(args, "info");
  const auto [hit22, beatbox22] = live_latencies(*model, kModelRate);
  const auto [hit48, beatbox48] = live_latencies(*model, 48000);
  nlohmann::json graphs = nlohmann::json::object();
  for (const char* name :
       {"grain_encoder", "grain_decoder", "sequence_encoder", "embedding", "sequence_decoder"}) {
    const auto& g = model->model().graph(name);
    graphs[name] = {{"ops", g.size()},
                    {"weights", g.parameters()},
                    {"inputSize", g.input_size()},
                    {"outputSize", g.output_size()}};
  }
  const auto ms = [](int frames, int rate) { return 1000.0 * frames / rate; };
  nlohmann::json out = {
      {"name", model->name()},
      {"family", "grains"},
      {"classes", model->class_names()},
      {"pitched", model->pitched()},
      {"classPitches", class_pitches_json(*model)},
      {"sizes",
       {{"sampleRate", GrainsModel::kSampleRate},
        {"grain", GrainsModel::kGrain},
        {"hop", GrainsModel::kHop},
        {"grains", model->grains()},
        {"samples", model->samples()},
        {"seconds", double(model->samples()) / GrainsModel::kSampleRate},
        {"latent", model->latent()},
        {"embedding", model->embedding()},
        {"sequenceHidden", model->sequence_hidden()},
        {"postFilterTaps", model->post_filter().size()},
        {"hopWork", model->hop_work()},
        {"encodeWork", model->encode_work()},
        {"graphs", graphs}}},
      {"noiseSeed", model->noise_seed()},
      {"latency",
       {{"blockFrames", 128},
        {"hit22050", {{"frames", hit22}, {"ms", ms(hit22, kModelRate)}}},
        {"beatbox22050", {{"frames", beatbox22}, {"ms", ms(beatbox22, kModelRate)}}},
        {"hit48000", {{"frames", hit48}, {"ms", ms(hit48, 48000)}}},
        {"beatbox48000", {{"frames", beatbox48}, {"ms", ms(beatbox48, 48000)}}}}}};
  std::printf("%s\n", out.dump(1).c_str());
  return 0;
}

int grains_hit(const Args& args) {
  auto model = load_grains(args, "hit");
  const std::string path = out_path(args, "hit");
  const std::string name = option(args, "--class", "-c", "");
  if (name.empty())
    throw std::runtime_error("grains hit needs --class NAME (the model has: " + class_list(*model) +
                             ")");
  engine::GrainHit hit;
  hit.class_a = class_of(*model, name, "--class");
  hit.class_b = hit.class_a;
  const std::string morph = option(args, "--morph-to", "--morph-to", "");
  if (!morph.empty()) hit.class_b = class_of(*model, morph, "--morph-to");
  const double mix =
      parse_double(option(args, "--mix", "--mix", morph.empty() ? "0" : "0.5"), "--mix");
  if (mix < 0.0 || mix > 1.0)
    throw std::runtime_error("--mix must be within 0-1, got " + std::to_string(mix));
  if (mix > 0.0 && morph.empty())
    throw std::runtime_error("--mix needs --morph-to CLASS (the class to mix towards)");
  hit.mix = float(mix);
  hit.pitch = pitch_option(args, *model, hit.class_a);
  const double temperature =
      parse_double(option(args, "--temperature", "-t", "1"), "--temperature");
  if (temperature < 0.0 || temperature > 10.0)
    throw std::runtime_error("--temperature must be within 0-10, got " +
                             std::to_string(temperature));
  hit.temperature = float(temperature);
  const std::string centre = option(args, "--centre", "--center", "prior");
  if (centre != "prior" && centre != "class")
    throw std::runtime_error("--centre must be prior or class, got '" + centre + "'");
  hit.around_class_mean = centre == "class";
  const double gain = parse_double(option(args, "--gain", "--gain", "1"), "--gain");
  if (gain < 0.0 || gain > 8.0)
    throw std::runtime_error("--gain must be within 0-8, got " + std::to_string(gain));
  hit.gain = float(gain);
  hit.seed = seed_option(args);
  const int rate = rate_option(args, kModelRate);

  std::printf("model: %s (grains, classes: %s)\n", model->name().c_str(),
              class_list(*model).c_str());
  std::printf("hit: %s", name.c_str());
  if (!morph.empty()) std::printf(" -> %s, mix %.2f", morph.c_str(), mix);
  if (model->pitched())
    std::printf(", pitch %s", hit.pitch >= 0.0f
                                  ? note_name(int(hit.pitch)).c_str()
                                  : (note_name(int(model->class_pitches(hit.class_a)[1])) +
                                     " (the class's typical)")
                                        .c_str());
  std::printf(", temperature %.2f around the %s, seed %u\n", temperature,
              hit.around_class_mean ? "class's mean embedding" : "prior (0)", hit.seed);
  const auto start = std::chrono::steady_clock::now();
  const auto samples = engine::render_hit(*model, hit);
  print_compute("render", seconds_since(start), double(samples.size()) / kModelRate);
  write_render(path, samples, rate);
  return 0;
}

int grains_beatbox(const Args& args) {
  if (args.positional.size() < 2)
    throw std::runtime_error(
        "grains beatbox needs an input: grains beatbox IN.wav --model M -o OUT.wav");
  const std::string in = args.positional[1];
  auto model = load_grains(args, "beatbox");
  const std::string path = out_path(args, "beatbox");
  const std::string events_path = option(args, "--events", "-e", "");
  engine::BeatboxSettings settings;
  settings.threshold =
      float(parse_double(option(args, "--threshold", "--threshold", "0.05"), "--threshold"));
  if (settings.threshold < 0.0f || settings.threshold > 100.0f)
    throw std::runtime_error("--threshold must be within 0-100, got " +
                             std::to_string(settings.threshold));
  settings.floor_db =
      float(parse_double(option(args, "--floor-db", "--floor-db", "-50"), "--floor-db"));
  if (settings.floor_db < -120.0f || settings.floor_db > 0.0f)
    throw std::runtime_error("--floor-db must be within -120-0 dBFS, got " +
                             std::to_string(settings.floor_db));
  const double gain = parse_double(option(args, "--gain", "--gain", "1"), "--gain");
  if (gain < 0.0 || gain > 8.0)
    throw std::runtime_error("--gain must be within 0-8, got " + std::to_string(gain));
  settings.gain = float(gain);
  // The kit: the class each vocal sound plays, "boom,tss,ka" order; "-" or "" keeps the default.
  const std::string kit = option(args, "--kit", "--kit", "");
  if (!kit.empty()) {
    std::vector<std::string> names;
    for (std::size_t from = 0;;) {
      const std::size_t comma = kit.find(',', from);
      names.push_back(
          kit.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
    if (names.size() != std::size_t(engine::kBeatboxSounds))
      throw std::runtime_error(
          "--kit takes three classes, for the boom, the tss and the ka (e.g. "
          "kick,closed_hat,snare; - keeps a sound's default), got '" +
          kit + "'");
    for (std::size_t s = 0; s < names.size(); ++s)
      if (!names[s].empty() && names[s] != "-")
        settings.kit[s] = class_of(*model, names[s], "--kit");
  }
  const std::string classifier = option(args, "--classifier", "--classifier", "sound");
  if (classifier != "sound" && classifier != "centroid")
    throw std::runtime_error("--classifier must be sound or centroid, got '" + classifier + "'");
  settings.classifier = classifier == "centroid" ? engine::BeatboxClassifier::kNearestCentroid
                                                 : engine::BeatboxClassifier::kSound;
  const double morph = parse_double(option(args, "--morph", "--morph", "1"), "--morph");
  if (!(morph >= 0.0 && morph <= 1.0))
    throw std::runtime_error(
        "--morph must be within 0-1 (1: the class's own hits, 0: their "
        "grains moved onto the voice's), got " +
        std::to_string(morph));
  settings.morph = float(morph);

  const auto audio = read_clip(in);
  if (audio.sample_rate < kMinRate || audio.sample_rate > kMaxRate)
    throw std::runtime_error(in + ": sample rate " + std::to_string(audio.sample_rate) +
                             " Hz; the beat-box takes " + std::to_string(kMinRate) + "-" +
                             std::to_string(kMaxRate) + " Hz");
  if (audio.samples.empty()) throw std::runtime_error(in + ": the file holds no samples");
  double peak = 0.0;
  for (float s : audio.samples) peak = std::max(peak, double(std::fabs(s)));
  if (peak < kSilentPeak)
    throw std::runtime_error(
        in + ": the input is silent (peak " +
        (peak > 0.0 ? std::to_string(level_db(peak)).substr(0, 6) + " dBFS" : std::string("0")) +
        ", below -80 dBFS; non-finite samples are read as silence)");
  const int rate = rate_option(args, audio.sample_rate);
  const auto x = audio.sample_rate == kModelRate
                     ? audio.samples
                     : dsp::resample(audio.samples, audio.sample_rate, kModelRate);
  const int beatbox_latency = live_latencies(*model, audio.sample_rate).second;

  std::printf("model: %s (grains, classes: %s)\n", model->name().c_str(),
              class_list(*model).c_str());
  std::printf("input: %s, %.2f s at %d Hz%s, peak %.1f dBFS\n", in.c_str(),
              double(audio.samples.size()) / audio.sample_rate, audio.sample_rate,
              audio.sample_rate == kModelRate ? "" : " (resampled to 22050 Hz for the model)",
              level_db(peak));
  const auto& names = model->class_names();
  const auto resolved = engine::resolve_beatbox_kit(*model, settings.kit);
  std::printf("kit: boom -> %s, tss -> %s, ka -> %s (%s)\n", names[size_t(resolved[0])].c_str(),
              names[size_t(resolved[1])].c_str(), names[size_t(resolved[2])].c_str(),
              classifier == "sound" ? "told apart by what each sound is made of"
                                    : "nearest of the kit classes' onset centroids");
  const auto start = std::chrono::steady_clock::now();
  const auto r = engine::render_beatbox(*model, x.data(), x.size(), settings);
  print_compute("beat-box", seconds_since(start), double(x.size()) / kModelRate);
  if (r.onsets.empty())
    throw std::runtime_error(
        in + ": no onsets found (the detector wants sharp attacks louder than --floor-db " +
        std::to_string(int(settings.floor_db)) + " dBFS above --threshold " +
        std::to_string(settings.threshold).substr(0, 5) + "); nothing written");
  std::printf(
      "latency: live, %d frames (%.1f ms) from an onset to its hit at %d Hz with 128-frame "
      "blocks; offline compensated: each hit starts on its onset's sample\n",
      beatbox_latency, 1000.0 * beatbox_latency / audio.sample_rate, audio.sample_rate);
  std::vector<int> counts(size_t(model->classes()), 0);
  static const char* kSoundNames[] = {"boom", "tss", "ka"};
  nlohmann::json events = nlohmann::json::array();
  for (size_t i = 0; i < r.onsets.size(); ++i) {
    const int k = r.classes[i];
    ++counts[size_t(k)];
    const auto& f = r.features[i];
    events.push_back({{"time_s", double(r.onsets[i]) / kModelRate},
                      {"sound", kSoundNames[r.slots[i]]},
                      {"slot", r.slots[i]},
                      {"class", names[size_t(k)]},
                      {"class_index", k},
                      {"features",
                       {{"low_share", f.low_share},
                        {"high_share", f.high_share},
                        {"flatness", f.flatness},
                        {"centroid_hz", f.centroid_hz},
                        {"level_db", f.level_db}}}});
  }
  std::printf("onsets: %zu (", r.onsets.size());
  for (int k = 0; k < model->classes(); ++k)
    std::printf("%s%s %d", k ? ", " : "", model->class_names()[size_t(k)].c_str(),
                counts[size_t(k)]);
  std::printf(")\n");
  if (!events_path.empty()) {
    const nlohmann::json doc = {{"input", in},
                                {"model", model->name()},
                                {"classes", model->class_names()},
                                {"kit",
                                 {{"boom", names[size_t(resolved[0])]},
                                  {"tss", names[size_t(resolved[1])]},
                                  {"ka", names[size_t(resolved[2])]}}},
                                {"classifier", classifier},
                                {"morph", settings.morph},
                                {"sample_rate", audio.sample_rate},
                                {"live_latency_frames", beatbox_latency},
                                {"latency_compensated", true},
                                {"events", events}};
    std::ofstream file(events_path);
    file << doc.dump(1) << "\n";
    if (!file) throw std::runtime_error(events_path + ": cannot write the events");
    std::printf("wrote %s: %zu events\n", events_path.c_str(), r.onsets.size());
  }
  write_render(path, r.samples, rate);
  return 0;
}

int grains_path(const Args& args) {
  auto model = load_grains(args, "path");
  const std::string path = out_path(args, "path");
  const std::string name = option(args, "--class", "-c", "");
  if (name.empty())
    throw std::runtime_error(
        "grains path needs --class NAME (the model has: " + class_list(*model) + ")");
  const int k = class_of(*model, name, "--class");
  const float pitch = pitch_option(args, *model, k);
  const std::string shape = option(args, "--shape", "--shape", "circle");
  if (shape != "circle" && shape != "line" && shape != "spiral")
    throw std::runtime_error("--shape must be circle, line or spiral, got '" + shape + "'");
  const double seconds = parse_double(option(args, "--seconds", "-s", "4"), "--seconds");
  if (seconds < 0.1 || seconds > kMaxPathSeconds)
    throw std::runtime_error("--seconds must be within 0.1-" +
                             std::to_string(int(kMaxPathSeconds)) + ", got " +
                             std::to_string(seconds));
  const int rate = rate_option(args, kModelRate);
  const int hops = int(std::ceil(seconds * kModelRate / GrainsModel::kHop));
  // Shapes inside the map's extent (the box of 99 % of the training grains):
  // a circle of 0.4 of its half-widths round the centre, a line corner to
  // corner from 10 % to 90 %, a spiral out from the centre over 3 turns.
  const auto& e = model->grain_map().extent;
  const double cx = 0.5 * (e[0] + e[1]), cy = 0.5 * (e[2] + e[3]);
  const double hx = 0.5 * (e[1] - e[0]), hy = 0.5 * (e[3] - e[2]);
  std::vector<float> xy(size_t(hops) * 2);
  for (int t = 0; t < hops; ++t) {
    const double u = hops > 1 ? double(t) / (hops - 1) : 0.0;
    double x = cx, y = cy;
    if (shape == "circle") {
      x = cx + 0.8 * hx * std::cos(2.0 * M_PI * u);
      y = cy + 0.8 * hy * std::sin(2.0 * M_PI * u);
    } else if (shape == "line") {
      x = e[0] + (0.1 + 0.8 * u) * (e[1] - e[0]);
      y = e[2] + (0.1 + 0.8 * u) * (e[3] - e[2]);
    } else {
      x = cx + 0.9 * u * hx * std::cos(6.0 * M_PI * u);
      y = cy + 0.9 * u * hy * std::sin(6.0 * M_PI * u);
    }
    xy[size_t(t) * 2] = float(x);
    xy[size_t(t) * 2 + 1] = float(y);
  }
  std::printf("model: %s (grains, classes: %s)\n", model->name().c_str(),
              class_list(*model).c_str());
  std::printf("path: %s on the grain map (extent x %.3g..%.3g, y %.3g..%.3g), %d hops, class %s\n",
              shape.c_str(), double(e[0]), double(e[1]), double(e[2]), double(e[3]), hops,
              name.c_str());
  const auto start = std::chrono::steady_clock::now();
  const auto samples = engine::render_path(*model, xy.data(), hops, k, model->noise_seed(), pitch);
  print_compute("render", seconds_since(start), double(samples.size()) / kModelRate);
  write_render(path, samples, rate);
  return 0;
}

}  // namespace

int grains_command(const Args& args) {
  const std::string sub = args.positional.empty() ? "" : args.positional[0];
  if (sub == "beatbox") {
    if (args.positional.size() > 2)
      throw std::runtime_error("grains beatbox: unexpected argument '" + args.positional[2] + "'");
    return grains_beatbox(args);
  }
  if (args.positional.size() > 1)
    throw std::runtime_error("grains " + sub + ": unexpected argument '" + args.positional[1] +
                             "'");
  if (sub == "info") return grains_info(args);
  if (sub == "hit") return grains_hit(args);
  if (sub == "path") return grains_path(args);
  throw std::runtime_error((sub.empty() ? std::string("grains needs a subcommand")
                                        : "grains: unknown subcommand '" + sub + "'") +
                           " (info, hit, beatbox or path)");
}

}  // namespace timbrel::cli
