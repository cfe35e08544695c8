#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "commands.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/engine/transcriber.h"
#include "timbrel/io/wav.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/crossmodal_vae.h"

namespace timbrel::cli {

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

  const std::string model_path = resolve_model(model_arg, "crossmodal_vae");
  auto loaded = timbrel::models::CrossmodalVae::load_file(model_path);
  if (!loaded.model) throw std::runtime_error(loaded.error);
  auto& model = *loaded.model;
  Transcriber transcriber(model, settings);

  auto audio = read_clip(args.positional[0]);
  if (audio.samples.empty())
    throw std::runtime_error(args.positional[0] + ": the file holds no samples");
  const double seconds = double(audio.samples.size()) / audio.sample_rate;
  const auto x = audio.sample_rate == kModelRate
                     ? audio.samples
                     : timbrel::dsp::resample(audio.samples, audio.sample_rate, kModelRate);
  const auto start = std::chrono::steady_clock::now();
  const auto result = transcriber.transcribe(x.data(), x.size());
  const double compute = seconds_since(start);

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
                note_name(n.pitch).c_str(), n.pitch, dynamics[d],
                model.instrument_names()[size_t(n.track)].c_str());
  }
  std::printf("%s\n", result.summary.c_str());
  print_compute("transcribe", compute, seconds);
  std::printf("wrote %s: %zu notes, format 0, 120 BPM, 480 ticks per quarter%s\n", out_path.c_str(),
              result.notes.size(), slots > 1 ? " (instrument i on channel i)" : "");
  return 0;
}

}  // namespace timbrel::cli
