// Embind bindings of the MIDI panel (midi/smf.h, engine/note_synth.h,
// engine/midi_player.h): a Worker renders a Standard MIDI File through a
// cross-modal VAE, the AudioWorklet plays notes live.
//
//   core.parseMidi(uint8Array) -> {error: "" | message, format, tracks, durationS, tempoBpm,
//                                  notes: [{track, channel, pitch, velocity, start, end, drum}]}
//   const k = new core.MidiRenderKernel();          // a Worker
//   k.loadModel(uint8Array) -> "" or the error
//   k.describe() -> {name, instruments, pitchRanges, dynamicsVelocity, projection: {extent},
//                    points: [{pitch, dynamics, x, y, pitches}]}  (CrossmodalVae::info_json)
//   k.renderMidi(midiBytes, {temperature, interpolation, phase, iterations, seed, instrument},
//                progressFn(fraction, stage)) -> {error, samples: Float32Array at 22050 Hz, report}
//       instrument: -1 (by track) or 0..M-1; the core plays a mixture model's
//       instruments in unison (models/README.md), so it is checked, and the
//       report says so (mixturePlayedInUnison).
//   const live = new core.MidiKernel(sampleRate, 128);   // the AudioWorklet
//   live.error() -> "" or why the configuration (or the last beginImage) failed
//   live.loadModel(uint8Array) -> "" or the error
//   live.beginImage(n) / adoptImage() / cancelImage(): a model prepared off the
//       audio thread (prepareModel, model_image_bindings.cpp)
//   live.noteOn(pitch, velocity) / noteOff(pitch) / allNotesOff()
//   live.setPad(x, y, on) / setMorph(pitchA, velA, pitchB, velB, position, on)
//   per quantum: live.process(128); output from HEAPF32 at live.outputPtr()
//   live.latencySamples() (mean; min/maxLatencySamples(): the bounds)
//
// Errors come back as messages, never as aborts: this build catches C++
// exceptions only inside the MIDI parser (core/CMakeLists.txt), so every input
// a core function would reject is checked here first. A render runs to its
// end (cancel by terminating the Worker): a progress callback that stopped it
// would make the core throw. loadModel allocates and the output buffer lives
// in the heap: refresh HEAPF32 views if its buffer changes.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crossmodal_js.h"
#include "image_staging.h"
#include "timbrel/engine/midi_player.h"
#include "timbrel/engine/note_synth.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/crossmodal_vae.h"

namespace {

using emscripten::val;
using timbrel::engine::MidiPlayer;
using timbrel::engine::MidiPlayerConfig;
using timbrel::models::CrossmodalVae;
using timbrel::wasm::error_object;
using timbrel::wasm::file_bytes;
using timbrel::wasm::note_array;
using timbrel::wasm::typed_array_copy;

val parse_midi(const val& bytes) {
  const auto data = file_bytes(bytes);
  if (data.empty()) return error_object("no MIDI bytes (expected a non-empty Uint8Array)");
  const auto parsed = timbrel::midi::parse_smf(data.data(), data.size());
  if (!parsed.ok()) return error_object(parsed.error);
  const auto& song = parsed.song;
  val out = val::object();
  out.set("error", std::string());
  out.set("format", song.format);
  out.set("tracks", song.tracks);
  out.set("durationS", song.duration_s);
  // The first tempo is the song's nominal one (120 BPM when the file sets none).
  out.set("tempoBpm", song.tempo_changes.empty()
                          ? 60e6 / timbrel::midi::kDefaultTempoMicrosPerQuarter
                          : song.tempo_changes.front().bpm());
  out.set("notes", note_array(song.notes));
  return out;
}

// A number option: absent keeps `value`; anything but a finite number is an error.
std::string number_option(const val& options, const char* key, double* value) {
  const val v = options[key];
  if (v.isUndefined() || v.isNull()) return "";
  if (!v.isNumber() || !std::isfinite(v.as<double>()))
    return std::string("option '") + key + "' must be a number";
  *value = v.as<double>();
  return "";
}

std::string string_option(const val& options, const char* key, std::string* value) {
  const val v = options[key];
  if (v.isUndefined() || v.isNull()) return "";
  if (!v.isString()) return std::string("option '") + key + "' must be a string";
  *value = v.as<std::string>();
  return "";
}

// The JS options of renderMidi as the core's RenderOptions, or what is wrong.
std::string render_options(const val& options, int instruments,
                           timbrel::engine::RenderOptions* out) {
  if (options.isUndefined() || options.isNull()) return "";
  if (options.typeOf().as<std::string>() != "object") return "options must be an object";
  double temperature = out->synth.temperature, iterations = out->iterations, seed = 0.0,
         instrument = -1.0;
  std::string interpolation = timbrel::engine::interpolation_name(out->synth.interpolation);
  std::string phase = timbrel::engine::phase_method_name(out->phase);
  for (auto problem :
       {number_option(options, "temperature", &temperature),
        number_option(options, "iterations", &iterations), number_option(options, "seed", &seed),
        number_option(options, "instrument", &instrument),
        string_option(options, "interpolation", &interpolation),
        string_option(options, "phase", &phase)})
    if (!problem.empty()) return problem;
  out->synth.temperature = float(temperature);
  if (!timbrel::engine::parse_interpolation(interpolation, &out->synth.interpolation))
    return "unknown interpolation '" + interpolation + "' (known: none, linear, cubic)";
  if (!timbrel::engine::parse_phase_method(phase, &out->phase))
    return "unknown phase method '" + phase + "' (known: griffin-lim, rtpghi)";
  if (iterations < 0 || iterations > 1000 || iterations != std::floor(iterations))
    return "Griffin-Lim iterations must be a whole number within 0-1000 (got " +
           std::to_string(iterations) + ")";
  out->iterations = int(iterations);
  if (seed < 0 || seed > 4294967295.0 || seed != std::floor(seed))
    return "seed must be a whole number within 0-4294967295 (0: the default)";
  if (seed > 0) out->synth.seed = std::uint32_t(seed);
  if (instrument != std::floor(instrument) || instrument < -1 || instrument >= instruments)
    return "instrument must be -1 (by track) or an instrument index 0-" +
           std::to_string(instruments - 1);
  return timbrel::engine::validate(out->synth);
}

class MidiRenderKernel {
 public:
  std::string load_model(const val& bytes) {
    return timbrel::wasm::load_crossmodal(bytes, &model_);
  }
  bool has_model() const { return model_ != nullptr; }
  val describe() const { return timbrel::wasm::describe(model_.get()); }

  // The song's pitched notes through the model (engine::render_song), with
  // progress(fraction 0-1, stage "frames" | "phase" | "done") along the way.
  // options.onChunk(Float32Array, offset): the samples as they are finished
  // (before normalisation), so the page can play the render while it runs.
  val render_midi(const val& midi_bytes, const val& options, const val& progress) {
    if (!model_) return error_object("no model loaded");
    const auto data = file_bytes(midi_bytes);
    if (data.empty()) return error_object("no MIDI bytes (expected a non-empty Uint8Array)");
    const auto parsed = timbrel::midi::parse_smf(data.data(), data.size());
    if (!parsed.ok()) return error_object("the MIDI file: " + parsed.error);
    timbrel::engine::RenderOptions render;
    if (auto problem = render_options(options, model_->instruments(), &render); !problem.empty())
      return error_object(problem);
    const bool report_progress = progress.typeOf().as<std::string>() == "function";
    const val on_chunk =
        options.typeOf().as<std::string>() == "object" ? options["onChunk"] : val::undefined();
    const bool streaming = on_chunk.typeOf().as<std::string>() == "function";
    // With Griffin-Lim its iterations take almost all the time (the frames
    // of the shipped violin: 1 %); RTPGHI runs within the frames, and so does
    // Griffin-Lim in segments when the render streams.
    const double frames_share = render.phase == timbrel::engine::PhaseMethod::kGriffinLim &&
                                        render.iterations > 0 && !streaming
                                    ? 0.05
                                    : 1.0;
    double reported = 0.0;
    timbrel::engine::RenderProgress on_progress;
    if (report_progress)
      on_progress = [&](const char* stage, int done, int total) {
        const double part = total > 0 ? std::clamp(double(done) / total, 0.0, 1.0) : 1.0;
        const double fraction = std::string(stage) == "phase"
                                    ? frames_share + (1.0 - frames_share) * part
                                    : frames_share * part;
        // Never backwards, and 1 only once the samples are ready.
        reported = std::max(reported, std::min(fraction, 0.999));
        progress(reported, std::string(stage));
        return true;
      };
    timbrel::engine::RenderChunk chunk;
    if (streaming)
      chunk = [&](const float* samples, size_t offset, size_t count) {
        const val view(emscripten::typed_memory_view(count, samples));
        on_chunk(view.call<val>("slice"), double(offset));
      };
    const auto result =
        timbrel::engine::render_song(*model_, parsed.song, render, on_progress, chunk);
    if (report_progress) progress(1.0, std::string("done"));
    const auto& r = result.report;
    if (r.muted)
      return error_object(std::string("the model produced invalid output (") + r.mute_reason +
                          " for more than 100 ms); muted");
    val report = val::object();
    report.set("notes", r.notes);
    report.set("drumNotesSkipped", r.drum_notes_skipped);
    report.set("notesRendered", r.notes_rendered);
    report.set("notesTransposed", double(r.notes_transposed));
    report.set("voicesStolen", double(r.voices_stolen));
    report.set("peakVoices", r.peak_voices);
    report.set("frames", double(r.frames));
    report.set("durationS", r.duration_s);
    report.set("peak", r.peak);
    report.set("normalised", r.normalised);
    report.set("gain", r.gain);
    report.set("limited", double(r.limited));
    // Mixture models play every note on all their instruments at once (the
    // core's contract, models/README.md): `instrument` cannot pick one.
    if (model_->instruments() > 1) report.set("mixturePlayedInUnison", true);
    val out = val::object();
    out.set("error", std::string());
    out.set("samples", typed_array_copy(result.samples));
    out.set("report", report);
    return out;
  }

 private:
  std::unique_ptr<CrossmodalVae> model_;
};

// The worklet's side: MidiPlayer with a preallocated output block. A bad
// configuration leaves the kernel silent with error() saying why (the
// constructor must not throw: nothing would catch it).
class MidiKernel {
 public:
  MidiKernel(double device_rate, int max_block)
      : config_error_(MidiPlayer::validate({device_rate, max_block})),
        player_(config_error_.empty()
                    ? std::make_unique<MidiPlayer>(MidiPlayerConfig{device_rate, max_block})
                    : nullptr),
        output_(std::size_t(player_ ? max_block : 1), 0.0f) {}

  std::string error() const { return config_error_.empty() ? staging_.error() : config_error_; }
  std::string load_model(const val& bytes) {
    if (!player_) return config_error_;
    const auto data = file_bytes(bytes);
    if (data.empty()) return "no model bytes (expected a Uint8Array or ArrayBuffer)";
    return player_->load_model(data.data(), data.size());
  }
  bool has_model() const { return player_ && player_->has_model(); }
  timbrel::wasm::ImageStaging& staging() { return staging_; }
  std::string adopt(timbrel::nn::ImageBlock image) {
    return player_ ? player_->adopt_image(std::move(image)) : config_error_;
  }

  // --- real-time safe ---------------------------------------------------------
  void note_on(int pitch, int velocity) {
    if (player_) player_->note_on(pitch, velocity);
  }
  void note_off(int pitch) {
    if (player_) player_->note_off(pitch);
  }
  void all_notes_off() {
    if (player_) player_->all_notes_off();
  }
  void set_pad(float x, float y, bool on) {
    if (player_) player_->set_pad(x, y, on);
  }
  void set_morph(int pitch_a, int velocity_a, int pitch_b, int velocity_b, float position,
                 bool on) {
    if (player_) player_->set_morph(pitch_a, velocity_a, pitch_b, velocity_b, position, on);
  }
  void set_temperature(float temperature) {
    if (player_) player_->set_temperature(temperature);
  }
  bool set_interpolation(const std::string& name) {
    timbrel::engine::Interpolation interpolation;
    if (!timbrel::engine::parse_interpolation(name, &interpolation)) return false;
    if (player_) player_->set_interpolation(interpolation);
    return true;
  }
  void process(int n) {
    if (player_)
      player_->process(output_.data(), n);
    else
      std::fill(output_.begin(), output_.end(), 0.0f);
  }
  std::uintptr_t output_ptr() { return reinterpret_cast<std::uintptr_t>(output_.data()); }
  int max_block() const { return int(output_.size()); }
  int sounding_voices() const { return player_ ? player_->sounding_voices() : 0; }
  // 0 clean, 1 limiting, 2 muted: the model's output was not sound (dsp/output_guard.h).
  int guard_state() const { return player_ ? int(player_->guard_state()) : 0; }

  int latency_samples() const { return player_ ? player_->latency_samples() : 0; }
  int min_latency_samples() const { return player_ ? player_->min_latency_samples() : 0; }
  int max_latency_samples() const { return player_ ? player_->max_latency_samples() : 0; }

 private:
  std::string config_error_;
  std::unique_ptr<MidiPlayer> player_;
  std::vector<float> output_;
  timbrel::wasm::ImageStaging staging_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_midi) {
  emscripten::function("parseMidi", &parse_midi);
  emscripten::class_<MidiRenderKernel>("MidiRenderKernel")
      .constructor<>()
      .function("loadModel", &MidiRenderKernel::load_model)
      .function("hasModel", &MidiRenderKernel::has_model)
      .function("describe", &MidiRenderKernel::describe)
      .function("renderMidi", &MidiRenderKernel::render_midi);
  auto live = emscripten::class_<MidiKernel>("MidiKernel");
  timbrel::wasm::bind_image_api(live);
  live.constructor<double, int>()
      .function("error", &MidiKernel::error)
      .function("loadModel", &MidiKernel::load_model)
      .function("hasModel", &MidiKernel::has_model)
      .function("noteOn", &MidiKernel::note_on)
      .function("noteOff", &MidiKernel::note_off)
      .function("allNotesOff", &MidiKernel::all_notes_off)
      .function("setPad", &MidiKernel::set_pad)
      .function("setMorph", &MidiKernel::set_morph)
      .function("setTemperature", &MidiKernel::set_temperature)
      .function("setInterpolation", &MidiKernel::set_interpolation)
      .function("process", &MidiKernel::process)
      .function("outputPtr", &MidiKernel::output_ptr)
      .function("maxBlock", &MidiKernel::max_block)
      .function("soundingVoices", &MidiKernel::sounding_voices)
      .function("guardState", &MidiKernel::guard_state)
      .function("latencySamples", &MidiKernel::latency_samples)
      .function("minLatencySamples", &MidiKernel::min_latency_samples)
      .function("maxLatencySamples", &MidiKernel::max_latency_samples);
}
