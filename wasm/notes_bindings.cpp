// Embind bindings of the Notes panel (models/gmvae.h, engine/gmvae_synth.h;
// contract docs/gmvae.md): a GMVAE note model in a Worker (or on the page's
// main thread) and its live synth in the AudioWorklet.
//
//   const notes = new core.GmvaeNotes();
//   notes.load(uint8Array) -> "" or the error (the previous model stays)
//   notes.hasModel() -> bool
//   notes.info() -> JSON text (Gmvae::info_json: name, sampleRate, frames, melBins,
//       latent, dbMin, dbMax, pitches, instruments, instrumentRanges, pitchMeans,
//       pitchSigma, timbreMeans, timbreSigma, map {center, axes, points, residuals,
//       means}, brightness {dim, r, low, high, hzPerUnit}); "null" without a model
//   A latent is a Float32Array(32): z_pitch (16) then z_timbre (16).
//   notes.sample(instrument, midi, spread, seed) -> Float32Array(32)
//       instrument: index or name; midi: the nearest pitch component is used
//       (pitchOf(midi) says which); spread >= 0 (0: the means); seed 0-2^32-1
//   notes.encode(audio Float32Array at 22050 Hz, first sample the onset) -> Float32Array(32)
//       (mu_pitch, mu_timbre)
//   notes.nearestInstrument(latent) -> index (a Float32Array(16) is taken as z_timbre)
//   notes.transfer(latent, target, amount) -> Float32Array(32) (target: index or name)
//   notes.mapPoint(x, y) -> Float32Array(16): z_timbre of a timbre map point
//   notes.mapCoordinates(latent) -> Float32Array(2): where z_timbre lies on the map
//   notes.setBrightness(latent, value) -> Float32Array(32): z_timbre[brightness.dim] = value
//   notes.decodeMel(latent) -> Float32Array(43 * 256): the scaled log-mel patch
//   notes.renderNote(latent, heldSeconds) -> Float32Array at 22050 Hz (RTPGHI + fast
//       Griffin-Lim, 30 iterations; sample 0 the onset; held, then 150 ms of release)
//   notes.renderMel(mel Float32Array(43 * 256), heldSeconds, midi) -> the same from a patch
//       decoded elsewhere (ONNX Runtime); midi: its pitch (the harmonics it is laid on)
//   notes.setIterations(n) -> bool: fast Griffin-Lim iterations of renderNote/renderMel
//       (0-1000, default 30; 0: RTPGHI alone, the live synth's phase, ~10x faster)
//   notes.pitchOf(midi) -> the MIDI number of the pitch component sample() uses
//   notes.lastError() -> why the last call returned an empty array ("" after a success)
//   Calls without a model or with wrong arguments return an empty Float32Array
//   (nearestInstrument: -1) and set lastError().
//
//   const live = new core.GmvaeNotesLive(sampleRate, maxBlock);   // the AudioWorklet
//   live.error() -> "" or why the configuration (or the last beginImage) failed
//   live.loadModel(uint8Array) -> "" or the error; beginImage(n) / adoptImage() /
//       cancelImage(): a model prepared off the audio thread (prepareModel(bytes, 'gmvae'))
//   Preallocated heap views (re-make them when HEAPF32.buffer changes or after a load):
//       live.latentPtr() -> 32 floats, live.melPtr() -> 43 * 256 floats,
//       live.outputPtr() -> maxBlock floats, live.hopPtr() -> 256 floats
//   live.noteOn(key, velocity): the latent written at latentPtr, decoded now
//   live.noteOnMel(key, velocity): the patch written at melPtr
//   live.noteOff(key) / allNotesOff()
//   per quantum at the device rate: live.process(n), n samples at outputPtr;
//   or at 22050 Hz: live.processHop(), 256 samples at hopPtr (use one of the two)
//   live.latencySamples() (device rate; min/maxLatencySamples(): the bounds),
//   live.hopLatencySamples() (processHop: 1280), soundingVoices(), guardState()
//
// Errors come back as values, never as aborts (this build has no C++
// exceptions outside the MIDI parser): every input is checked here first.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image_staging.h"
#include "js_bytes.h"
#include "timbrel/engine/gmvae_synth.h"
#include "timbrel/models/gmvae.h"

namespace {

using emscripten::val;
using timbrel::models::Gmvae;

constexpr int kZ = Gmvae::kZ, kLatent = Gmvae::kLatent, kPatch = Gmvae::kPatch;

val float_array(const float* data, std::size_t n) {
  return val(emscripten::typed_memory_view(n, data)).call<val>("slice");
}

val empty_array() { return val::global("Float32Array").new_(0); }

// A JS array-like of numbers as floats; empty when it is not one.
std::vector<float> floats_from(const val& v) {
  if (v.isNull() || v.isUndefined() || v.isString() || !v["length"].isNumber()) return {};
  return emscripten::convertJSArrayToNumberVector<float>(v);
}

class GmvaeNotes {
 public:
  std::string load(const val& bytes) {
    const auto data =
        bytes.isString() ? std::vector<std::uint8_t>() : timbrel::wasm::bytes_from_js(bytes);
    if (data.empty()) return "no model bytes (expected a Uint8Array or ArrayBuffer)";
    auto loaded = Gmvae::load(data.data(), data.size());
    if (!loaded.model) return loaded.error;
    model_ = std::move(loaded.model);
    return "";
  }
  bool has_model() const { return model_ != nullptr; }
  std::string info() const { return model_ ? model_->info_json() : "null"; }
  std::string last_error() const { return error_; }

  bool set_iterations(int n) {
    if (n < 0 || n > 1000) return false;
    iterations_ = n;
    return true;
  }

  int pitch_of(int midi) const {
    return model_ ? model_->pitch_midi()[std::size_t(nearest_pitch(midi))] : -1;
  }

  val sample(const val& instrument, double midi, double spread, double seed) {
    if (!ready()) return empty_array();
    const int k = instrument_arg(instrument, "instrument");
    if (k < 0) return empty_array();
    if (!std::isfinite(midi)) return fail("midi must be a number");
    if (!std::isfinite(spread) || spread < 0 || spread > 10)
      return fail("spread must be a number within 0-10");
    if (!std::isfinite(seed) || seed < 0 || seed > 4294967295.0 || seed != std::floor(seed))
      return fail("seed must be a whole number within 0-4294967295");
    float z[kZ];
    model_->sample(k, nearest_pitch(int(std::lround(std::clamp(midi, 0.0, 127.0)))), float(spread),
                   std::uint32_t(seed), z);
    return ok(z, kZ);
  }

  val encode(const val& audio) {
    if (!ready()) return empty_array();
    const auto x = floats_from(audio);
    if (x.empty())
      return fail("encode needs the note's samples (a non-empty Float32Array at 22050 Hz)");
    float z[kZ];
    model_->encode_audio(x.data(), x.size(), z);
    return ok(z, kZ);
  }

  int nearest_instrument(const val& latent) {
    if (!ready()) return -1;
    const auto z = floats_from(latent);
    if (z.size() != std::size_t(kZ) && z.size() != std::size_t(kLatent)) {
      fail("a latent is 32 numbers (z_pitch, z_timbre) or 16 (z_timbre)");
      return -1;
    }
    error_.clear();
    return model_->nearest_instrument(z.data() + (z.size() == std::size_t(kZ) ? kLatent : 0));
  }

  val transfer(const val& latent, const val& target, double amount) {
    std::vector<float> z;
    if (!latent_arg(latent, &z)) return empty_array();
    const int k = instrument_arg(target, "target");
    if (k < 0) return empty_array();
    if (!std::isfinite(amount) || amount < 0 || amount > 1)
      return fail("amount must be a number within 0-1");
    model_->transfer(z.data(), k, float(amount), z.data());
    return ok(z.data(), kZ);
  }

  val map_point(double x, double y) {
    if (!ready()) return empty_array();
    if (!std::isfinite(x) || !std::isfinite(y)) return fail("the map point must be two numbers");
    float zt[kLatent];
    model_->map_point(float(x), float(y), zt);
    return ok(zt, kLatent);
  }

  val map_coordinates(const val& latent) {
    if (!ready()) return empty_array();
    const auto z = floats_from(latent);
    if (z.size() != std::size_t(kZ) && z.size() != std::size_t(kLatent))
      return fail("a latent is 32 numbers (z_pitch, z_timbre) or 16 (z_timbre)");
    float xy[2];
    model_->map_coordinates(z.data() + (z.size() == std::size_t(kZ) ? kLatent : 0), &xy[0], &xy[1]);
    return ok(xy, 2);
  }

  val set_brightness(const val& latent, double value) {
    std::vector<float> z;
    if (!latent_arg(latent, &z)) return empty_array();
    if (!std::isfinite(value)) return fail("brightness must be a number");
    model_->set_brightness(float(value), z.data() + kLatent);
    return ok(z.data(), kZ);
  }

  val decode_mel(const val& latent) {
    std::vector<float> z;
    if (!latent_arg(latent, &z)) return empty_array();
    patch_.resize(std::size_t(kPatch));
    model_->decode(z.data(), patch_.data());
    return ok(patch_.data(), std::size_t(kPatch));
  }

  val render_note(const val& latent, double held_s) {
    std::vector<float> z;
    if (!latent_arg(latent, &z)) return empty_array();
    if (!held_ok(held_s)) return empty_array();
    const auto r = timbrel::engine::render_note(*model_, z.data(), held_s, render_options());
    return rendered(r);
  }

  val render_mel(const val& mel, double held_s, int midi) {
    if (!ready()) return empty_array();
    const auto patch = floats_from(mel);
    if (patch.size() != std::size_t(kPatch))
      return fail("renderMel needs a patch of 43 x 256 = 11008 scaled log-mel values");
    if (!held_ok(held_s)) return empty_array();
    if (midi < 0 || midi > 127) return fail("renderMel needs the patch's MIDI pitch, 0-127");
    auto options = render_options();
    options.midi = midi;
    return rendered(timbrel::engine::render_patch(*model_, patch.data(), held_s, options));
  }

 private:
  bool ready() {
    if (model_) return true;
    error_ = "no model loaded";
    return false;
  }
  val fail(const std::string& message) {
    error_ = message;
    return empty_array();
  }
  val ok(const float* data, std::size_t n) {
    error_.clear();
    return float_array(data, n);
  }
  int nearest_pitch(int midi) const {
    const auto& p = model_->pitch_midi();
    int best = 0;
    for (int m = 1; m < int(p.size()); ++m)
      if (std::abs(p[std::size_t(m)] - midi) < std::abs(p[std::size_t(best)] - midi)) best = m;
    return best;
  }
  int instrument_arg(const val& v, const char* what) {
    int k = -1;
    if (v.isString()) {
      k = model_->instrument_index(v.as<std::string>());
    } else if (v.isNumber()) {
      const double d = v.as<double>();
      if (std::isfinite(d) && d == std::floor(d) && d >= 0 && d < model_->instruments()) k = int(d);
    }
    if (k < 0) {
      std::string names;
      for (const auto& n : model_->instrument_names()) names += (names.empty() ? "" : ", ") + n;
      error_ = std::string(what) + " must be an instrument index 0-" +
               std::to_string(model_->instruments() - 1) + " or name (" + names + ")";
    }
    return k;
  }
  bool latent_arg(const val& v, std::vector<float>* z) {
    if (!ready()) return false;
    *z = floats_from(v);
    if (z->size() != std::size_t(kZ)) {
      error_ = "a latent is 32 numbers: z_pitch (16) then z_timbre (16)";
      return false;
    }
    for (float& x : *z)
      if (!std::isfinite(x)) x = 0.0f;
    return true;
  }
  bool held_ok(double held_s) {
    if (std::isfinite(held_s) && held_s >= 0 && held_s <= timbrel::engine::kMaxHeldSeconds)
      return true;
    error_ = "heldSeconds must be a number within 0-" +
             std::to_string(int(timbrel::engine::kMaxHeldSeconds));
    return false;
  }
  val rendered(const timbrel::engine::GmvaeRender& r) {
    if (r.guard.muted)
      return fail(std::string("the model produced invalid output (") + r.guard.mute_reason +
                  " for more than 100 ms); muted");
    return ok(r.samples.data(), r.samples.size());
  }

  timbrel::engine::GmvaeRenderOptions render_options() const {
    timbrel::engine::GmvaeRenderOptions options;
    options.griffin_lim = iterations_ > 0;
    options.iterations = iterations_;
    return options;
  }

  std::unique_ptr<Gmvae> model_;
  std::vector<float> patch_;
  std::string error_;
  int iterations_ = 30;
};

// The worklet's side: GmvaePlayer with preallocated heap buffers. A bad
// configuration leaves it silent with error() saying why.
class GmvaeNotesLive {
 public:
  GmvaeNotesLive(double device_rate, int max_block)
      : config_error_(timbrel::engine::GmvaePlayer::validate({device_rate, max_block})),
        player_(config_error_.empty() ? std::make_unique<timbrel::engine::GmvaePlayer>(
                                            timbrel::engine::DeviceSpec{device_rate, max_block})
                                      : nullptr),
        output_(std::size_t(player_ ? max_block : 1), 0.0f),
        hop_(std::size_t(Gmvae::kHop), 0.0f),
        latent_(std::size_t(kZ), 0.0f),
        mel_(std::size_t(kPatch), -1.0f) {}

  std::string error() const { return config_error_.empty() ? staging_.error() : config_error_; }
  std::string load_model(const val& bytes) {
    if (!player_) return config_error_;
    const auto data =
        bytes.isString() ? std::vector<std::uint8_t>() : timbrel::wasm::bytes_from_js(bytes);
    if (data.empty()) return "no model bytes (expected a Uint8Array or ArrayBuffer)";
    return player_->load_model(data.data(), data.size());
  }
  bool has_model() const { return player_ && player_->has_model(); }
  timbrel::wasm::ImageStaging& staging() { return staging_; }
  std::string adopt(timbrel::nn::ImageBlock image) {
    return player_ ? player_->adopt_image(std::move(image)) : config_error_;
  }

  // --- real-time safe ---------------------------------------------------------
  void note_on(int key, int velocity) {
    if (player_) player_->note_on(key, velocity, latent_.data());
  }
  void note_on_mel(int key, int velocity) {
    if (player_) player_->note_on_patch(key, velocity, mel_.data());
  }
  void note_off(int key) {
    if (player_) player_->note_off(key);
  }
  void all_notes_off() {
    if (player_) player_->all_notes_off();
  }
  void process(int n) {
    if (player_)
      player_->process(output_.data(), n);
    else
      std::fill(output_.begin(), output_.end(), 0.0f);
  }
  void process_hop() {
    if (player_)
      player_->process_hop(hop_.data());
    else
      std::fill(hop_.begin(), hop_.end(), 0.0f);
  }
  std::uintptr_t output_ptr() { return reinterpret_cast<std::uintptr_t>(output_.data()); }
  std::uintptr_t hop_ptr() { return reinterpret_cast<std::uintptr_t>(hop_.data()); }
  std::uintptr_t latent_ptr() { return reinterpret_cast<std::uintptr_t>(latent_.data()); }
  std::uintptr_t mel_ptr() { return reinterpret_cast<std::uintptr_t>(mel_.data()); }
  int max_block() const { return int(output_.size()); }
  int sounding_voices() const { return player_ ? player_->sounding_voices() : 0; }
  int guard_state() const { return player_ ? int(player_->guard_state()) : 0; }
  int latency_samples() const { return player_ ? player_->latency_samples() : 0; }
  int min_latency_samples() const { return player_ ? player_->min_latency_samples() : 0; }
  int max_latency_samples() const { return player_ ? player_->max_latency_samples() : 0; }
  int hop_latency_samples() const { return timbrel::engine::LiveGmvaeSynth::latency_samples(); }

 private:
  std::string config_error_;
  std::unique_ptr<timbrel::engine::GmvaePlayer> player_;
  std::vector<float> output_, hop_, latent_, mel_;
  timbrel::wasm::ImageStaging staging_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_notes) {
  emscripten::class_<GmvaeNotes>("GmvaeNotes")
      .constructor<>()
      .function("load", &GmvaeNotes::load)
      .function("hasModel", &GmvaeNotes::has_model)
      .function("info", &GmvaeNotes::info)
      .function("lastError", &GmvaeNotes::last_error)
      .function("setIterations", &GmvaeNotes::set_iterations)
      .function("pitchOf", &GmvaeNotes::pitch_of)
      .function("sample", &GmvaeNotes::sample)
      .function("encode", &GmvaeNotes::encode)
      .function("nearestInstrument", &GmvaeNotes::nearest_instrument)
      .function("transfer", &GmvaeNotes::transfer)
      .function("mapPoint", &GmvaeNotes::map_point)
      .function("mapCoordinates", &GmvaeNotes::map_coordinates)
      .function("setBrightness", &GmvaeNotes::set_brightness)
      .function("decodeMel", &GmvaeNotes::decode_mel)
      .function("renderNote", &GmvaeNotes::render_note)
      .function("renderMel", &GmvaeNotes::render_mel);
  auto live = emscripten::class_<GmvaeNotesLive>("GmvaeNotesLive");
  timbrel::wasm::bind_image_api(live);
  live.constructor<double, int>()
      .function("error", &GmvaeNotesLive::error)
      .function("loadModel", &GmvaeNotesLive::load_model)
      .function("hasModel", &GmvaeNotesLive::has_model)
      .function("noteOn", &GmvaeNotesLive::note_on)
      .function("noteOnMel", &GmvaeNotesLive::note_on_mel)
      .function("noteOff", &GmvaeNotesLive::note_off)
      .function("allNotesOff", &GmvaeNotesLive::all_notes_off)
      .function("process", &GmvaeNotesLive::process)
      .function("processHop", &GmvaeNotesLive::process_hop)
      .function("outputPtr", &GmvaeNotesLive::output_ptr)
      .function("hopPtr", &GmvaeNotesLive::hop_ptr)
      .function("latentPtr", &GmvaeNotesLive::latent_ptr)
      .function("melPtr", &GmvaeNotesLive::mel_ptr)
      .function("maxBlock", &GmvaeNotesLive::max_block)
      .function("soundingVoices", &GmvaeNotesLive::sounding_voices)
      .function("guardState", &GmvaeNotesLive::guard_state)
      .function("latencySamples", &GmvaeNotesLive::latency_samples)
      .function("minLatencySamples", &GmvaeNotesLive::min_latency_samples)
      .function("maxLatencySamples", &GmvaeNotesLive::max_latency_samples)
      .function("hopLatencySamples", &GmvaeNotesLive::hop_latency_samples);
}
