#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "commands.h"
#include "timbrel/engine/note_synth.h"
#include "timbrel/io/wav.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/crossmodal_vae.h"

namespace timbrel::cli {

namespace {

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

}  // namespace

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
  const std::string model_path = resolve_model(model_arg, "crossmodal_vae");
  auto loaded = timbrel::models::CrossmodalVae::load_file(model_path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  auto& model = *loaded.model;

  ProgressLine progress;
  const auto start = std::chrono::steady_clock::now();
  const auto result = engine::render_song(
      model, song, options,
      [&progress](const char* stage, int done, int total) { return progress(stage, done, total); });
  const double compute = seconds_since(start);
  progress.finish();
  const auto& r = result.report;
  if (r.muted)
    throw std::runtime_error(std::string("the model produced invalid output (") + r.mute_reason +
                             " for more than 100 ms); muted: nothing written to " + out_path);
  if (r.limited > 0)
    std::fprintf(stderr, "timbrel: note: %ld samples limited to -1 dBTP\n", r.limited);
  timbrel::io::write_wav(out_path, {result.samples, kModelRate});

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
  print_compute("render", compute, r.duration_s, " (" + std::to_string(r.frames) + " frames)");
  std::printf("wrote %s: %zu samples at %d Hz\n", out_path.c_str(), result.samples.size(),
              kModelRate);
  return 0;
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

}  // namespace timbrel::cli
