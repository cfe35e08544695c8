// Embind bindings of the Grains panel (models/grains.h, engine/grain_synth.h;
// contract docs/grains.md): the neural granular drum engine in the
// AudioWorklet (web/src/worklet/grains-processor.js), and offline renders.
//
//   const kernel = new core.GrainsKernel();
//   kernel.prepare(sampleRate, maxBlock) -> "" or why not (a whole number of Hz,
//       8000-192000; maxBlock 1-8192); allocates the heap buffers below
//   kernel.load(uint8Array) -> "" or the error (loadModel: the same); the previous
//       model stays on error. beginImage(n) / adoptImage() / cancelImage() / error():
//       a model prepared off the audio thread (prepareModel(bytes, 'grains'))
//   kernel.hasModel(), kernel.info() -> GrainsModel::info_json() ("null" without a
//       model: name, sampleRate, grain, hop, grains, samples, latent, embedding,
//       classes, conditions, pitched, pitchCentres, pitchWidth, classPitches
//       ([lo, typical, hi] MIDI per class), postFilterTaps, noiseSeed, grainMap {mean, axes,
//       extent, classPoints}, onsetCentroids, classEmbeddings, hopWork, encodeWork; and beatboxKit
//       {boom, tss, ka}: the class each beat-box sound plays, defaults filled in), kernel.classes()
//       -> [names]
//   Preallocated heap views (re-make them when HEAPF32.buffer changes or after prepare):
//       inputPtr() -> maxBlock floats, outputPtr() -> maxBlock floats,
//       embeddingPtr() -> 1024 floats (a hit's embedding, the model's first d_e)
//   per block, in this order:
//       kernel.pushInput(n)   the beat-box input written at inputPtr (n <= maxBlock)
//       kernel.trigger(classA, classB, mix, temperature, seed, gain, offset, useEmbedding,
//                      pitch)
//           a hit: c = (1 - mix) onehot(classA) + mix onehot(classB) (and, pitched, the
//           pitch code of `pitch`, MIDI; -1: the classes' typical pitch); the embedding at
//           embeddingPtr (useEmbedding) or a draw temperature N(0, I) (around the classes'
//           mean embeddings after setDrawAroundClassMean(true)); seed 1-4294967295
//           replays a hit (its draw, and noise stream seed mod 8: engine::kNoiseStreams),
//           0: a fresh one; gain linear (<= 8);
//           offset: frames into this block
//       kernel.setPath(active, x, y, classIndex, gain, pitch)   the path voice on the grain map
//       kernel.process(n)     n samples at outputPtr
//   kernel.drainEvents() -> [{frame, time, slot, classIndex}] beat-box onsets since the
//       last call (frame/time: device frames/seconds since prepare on the output's clock;
//       slot: the sound heard, 0 boom, 1 tss, 2 ka; classIndex: the class it played;
//       call it between blocks, it makes JS objects)
//   kernel.setBeatbox(trigger, temperature, gain) (trigger false: events only)
//   kernel.setBeatboxMorph(morph) 1: each hit is its class's; lower, its grains move
//       toward the onset's own encoded grain (engine::BeatboxSettings::morph; 0-1)
//   kernel.setBeatboxKit(boom, tss, ka) the class each sound plays; -1 (or anything
//       not a class index of the model) the model's default (engine::default_beatbox_kit);
//       kept across models and prepare()
//   kernel.setSeed(seed) (fresh draws), kernel.reset() (silence, clocks 0)
//   kernel.latencySamples() (a trigger's frame to its first sample out),
//   beatboxLatencySamples(), soundingVoices(), pathSounding(), guardState(), stats() (JSON)
//   offline (not for the audio thread; 22050 Hz, L = (g - 1) 512 + 2048 samples):
//   kernel.renderHit(classA, classB, mix, temperature, seed, gain, useEmbedding, pitch) ->
//       Float32Array: what trigger() with the same arguments plays (seed 0: the
//       model's noise seed)
//   kernel.encodeClip(Float32Array at 22050 Hz) -> {mu (g d_z), muE, logvarE,
//       onsetClass} or null (lastError())
//   kernel.renderGrains(mu Float32Array(g d_z), classA, classB, mix, seed, pitch) ->
//       Float32Array: the grain path (resynthesis of an encoded clip)
//   kernel.lastError() -> why the last offline call returned null/empty
//
// Errors come back as values, never as aborts (no C++ exceptions in this build):
// every argument is checked or clamped here.
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
#include "timbrel/engine/device_stream.h"
#include "timbrel/engine/grain_synth.h"
#include "timbrel/models/grains.h"

namespace {

using emscripten::val;
using timbrel::engine::GrainHit;
using timbrel::engine::GrainSynth;
using timbrel::models::GrainsModel;

val float_array(const float* data, std::size_t n) {
  return val(emscripten::typed_memory_view(n, data)).call<val>("slice");
}

std::vector<float> floats_from(const val& v) {
  if (v.isNull() || v.isUndefined() || v.isString() || !v["length"].isNumber()) return {};
  return emscripten::convertJSArrayToNumberVector<float>(v);
}

int whole(double v, int lo, int hi) {
  return std::isfinite(v) ? int(std::clamp(std::floor(v), double(lo), double(hi))) : lo;
}

float number(double v, float fallback) { return std::isfinite(v) ? float(v) : fallback; }

std::uint32_t seed_of(double v) {
  return std::isfinite(v) && v >= 0 && v <= 4294967295.0 ? std::uint32_t(v) : 0u;
}

class GrainsKernel {
 public:
  GrainsKernel() : embedding_(std::size_t(GrainsModel::kMaxEmbedding), 0.0f) {}

  std::string prepare(double rate, int max_block) {
    const auto problem = timbrel::engine::validate(timbrel::engine::DeviceSpec{rate, max_block});
    if (!problem.empty()) {
      config_error_ = problem;
      synth_.reset();
      return problem;
    }
    config_error_.clear();
    rate_ = rate;
    max_block_ = max_block;
    input_.assign(std::size_t(max_block), 0.0f);
    output_.assign(std::size_t(max_block), 0.0f);
    return make_synth();
  }

  std::string error() const { return config_error_.empty() ? staging_.error() : config_error_; }

  std::string load(const val& bytes) {
    const auto data =
        bytes.isString() ? std::vector<std::uint8_t>() : timbrel::wasm::bytes_from_js(bytes);
    if (data.empty()) return "no model bytes (expected a Uint8Array or ArrayBuffer)";
    auto loaded = GrainsModel::load(data.data(), data.size());
    if (!loaded.model) return loaded.error;
    return take(std::move(loaded.model));
  }
  timbrel::wasm::ImageStaging& staging() { return staging_; }
  std::string adopt(timbrel::nn::ImageBlock image) {
    auto loaded = GrainsModel::adopt(std::move(image));
    if (!loaded.model) return loaded.error;
    return take(std::move(loaded.model));
  }
  bool has_model() const { return model_ != nullptr; }
  std::string info() const {
    if (!model_) return "null";
    std::string json = model_->info_json();
    const auto kit = timbrel::engine::resolve_beatbox_kit(*model_, beatbox_.kit);
    json.pop_back();  // its closing brace: the kit joins the object
    return json + ",\"beatboxKit\":{\"boom\":" + std::to_string(kit[0]) +
           ",\"tss\":" + std::to_string(kit[1]) + ",\"ka\":" + std::to_string(kit[2]) + "}}";
  }
  val classes() const {
    val names = val::array();
    if (model_)
      for (const auto& n : model_->class_names()) names.call<void>("push", n);
    return names;
  }

  // --- real time ----------------------------------------------------------------
  void push_input(int n) {
    if (synth_) synth_->push_input(input_.data(), std::clamp(n, 0, max_block_));
  }
  void trigger(double class_a, double class_b, double mix, double temperature, double seed,
               double gain, double offset, bool use_embedding, double pitch) {
    if (!synth_) return;
    synth_->trigger(
        hit(class_a, class_b, mix, temperature, seed, gain, offset, use_embedding, pitch));
  }
  void set_path(bool active, double x, double y, double class_index, double gain, double pitch) {
    if (synth_)
      synth_->set_path(active, number(x, 0.0f), number(y, 0.0f),
                       whole(class_index, 0, model_->classes() - 1), number(gain, 0.0f),
                       pitch_of(pitch));
  }
  void process(int n) {
    n = std::clamp(n, 0, max_block_);
    if (synth_)
      synth_->process(output_.data(), n);
    else
      std::fill(output_.begin(), output_.begin() + n, 0.0f);
  }
  std::uintptr_t input_ptr() { return reinterpret_cast<std::uintptr_t>(input_.data()); }
  std::uintptr_t output_ptr() { return reinterpret_cast<std::uintptr_t>(output_.data()); }
  std::uintptr_t embedding_ptr() { return reinterpret_cast<std::uintptr_t>(embedding_.data()); }
  int max_block() const { return max_block_; }

  // --- between blocks ---------------------------------------------------------------
  val drain_events() {
    val out = val::array();
    if (!synth_) return out;
    timbrel::engine::GrainEvent events[GrainSynth::kEventCapacity];
    const int n = synth_->drain_events(events, GrainSynth::kEventCapacity);
    for (int i = 0; i < n; ++i) {
      val e = val::object();
      e.set("frame", double(events[i].frame));
      e.set("time", events[i].time_s);
      e.set("slot", events[i].slot);
      e.set("classIndex", events[i].class_index);
      out.call<void>("push", e);
    }
    return out;
  }
  void set_beatbox(bool trigger, double temperature, double gain) {
    beatbox_.trigger = trigger;
    beatbox_.temperature = std::clamp(number(temperature, 0.5f), 0.0f, 10.0f);
    beatbox_.gain = std::clamp(number(gain, 1.0f), 0.0f, 8.0f);
    if (synth_) synth_->set_beatbox(beatbox_);
  }
  // A kit entry is a class index; anything else (-1 included) asks for the
  // default, which the engine fills in per model.
  void set_beatbox_morph(double morph) {
    beatbox_.morph = std::clamp(number(morph, 1.0f), 0.0f, 1.0f);
    if (synth_) synth_->set_beatbox(beatbox_);
  }
  void set_beatbox_kit(double boom, double tss, double ka) {
    const double wanted[] = {boom, tss, ka};
    for (int s = 0; s < timbrel::engine::kBeatboxSounds; ++s) {
      const double v = wanted[s];
      const bool index =
          std::isfinite(v) && v >= 0 && v == std::floor(v) && v < GrainsModel::kMaxClasses;
      beatbox_.kit[std::size_t(s)] = index ? int(v) : -1;
    }
    if (synth_) synth_->set_beatbox(beatbox_);
  }
  void set_draw_around_class_mean(bool on) { around_class_mean_ = on; }
  void set_seed(double seed) {
    seed_ = seed_of(seed);
    if (synth_) synth_->set_seed(seed_);
  }
  void reset() {
    if (synth_) synth_->reset();
  }
  int latency_samples() const { return synth_ ? synth_->latency_samples() : 0; }
  int beatbox_latency_samples() const { return synth_ ? synth_->beatbox_latency_samples() : 0; }
  int sounding_voices() const { return synth_ ? synth_->sounding_voices() : 0; }
  bool path_sounding() const { return synth_ && synth_->path_sounding(); }
  int guard_state() const { return synth_ ? int(synth_->guard_state()) : 0; }
  std::string stats() const {
    if (!synth_) return "null";
    const auto& s = synth_->stats();
    return "{\"hits\":" + std::to_string(s.hits) +
           ",\"voicesStolen\":" + std::to_string(s.voices_stolen) +
           ",\"lateHits\":" + std::to_string(s.late_hits) +
           ",\"onsets\":" + std::to_string(s.onsets) +
           ",\"eventsDropped\":" + std::to_string(s.events_dropped) +
           ",\"peakVoices\":" + std::to_string(s.peak_voices) + "}";
  }

  // --- offline -----------------------------------------------------------------------
  val render_hit(double class_a, double class_b, double mix, double temperature, double seed,
                 double gain, bool use_embedding, double pitch) {
    if (!ready()) return val::global("Float32Array").new_(0);
    const auto y = timbrel::engine::render_hit(
        *model_, hit(class_a, class_b, mix, temperature, seed, gain, 0.0, use_embedding, pitch));
    error_.clear();
    return float_array(y.data(), y.size());
  }
  val encode_clip(const val& audio) {
    if (!ready()) return val::null();
    const auto x = floats_from(audio);
    if (x.empty())
      return fail_null("encodeClip needs samples (a non-empty Float32Array at 22050 Hz)");
    const auto clip = model_->encode_clip(x.data(), x.size(), nullptr);
    val out = val::object();
    out.set("grains", clip.grains);
    out.set("mu", float_array(clip.mu.data(), clip.mu.size()));
    out.set("muE", float_array(clip.mu_e.data(), clip.mu_e.size()));
    out.set("logvarE", float_array(clip.logvar_e.data(), clip.logvar_e.size()));
    out.set("onsetClass", clip.onset_class);
    error_.clear();
    return out;
  }
  val render_grains(const val& latents, double class_a, double class_b, double mix, double seed,
                    double pitch) {
    if (!ready()) return val::global("Float32Array").new_(0);
    const auto z = floats_from(latents);
    const std::size_t want = std::size_t(model_->grains()) * std::size_t(model_->latent());
    if (z.size() != want) {
      error_ = "renderGrains needs grains x latent = " + std::to_string(want) + " numbers";
      return val::global("Float32Array").new_(0);
    }
    const GrainHit h = hit(class_a, class_b, mix, 0.0, seed, 1.0, 0.0, false, pitch);
    std::vector<float> c(std::size_t(model_->conditions()), 0.0f);
    model_->condition(h.class_a, h.class_b, h.mix, h.pitch, c.data());
    const auto y = timbrel::engine::render_grains(*model_, z.data(), c.data(),
                                                  h.seed ? h.seed : model_->noise_seed());
    error_.clear();
    return float_array(y.data(), y.size());
  }
  std::string last_error() const { return error_; }

 private:
  // MIDI pitch in [0, 127]; anything else (NaN, negative): -1, the class's typical.
  static float pitch_of(double pitch) {
    return std::isfinite(pitch) && pitch >= 0.0 ? float(std::min(pitch, 127.0)) : -1.0f;
  }
  GrainHit hit(double class_a, double class_b, double mix, double temperature, double seed,
               double gain, double offset, bool use_embedding, double pitch) const {
    GrainHit h;
    const int top = model_->classes() - 1;
    h.class_a = whole(class_a, 0, top);
    h.class_b = whole(class_b, 0, top);
    h.mix = std::clamp(number(mix, 0.0f), 0.0f, 1.0f);
    h.pitch = pitch_of(pitch);
    h.temperature = std::clamp(number(temperature, 0.0f), 0.0f, 10.0f);
    h.seed = seed_of(seed);
    h.gain = std::clamp(number(gain, 0.0f), 0.0f, 8.0f);
    h.offset = whole(offset, 0, std::max(0, max_block_ - 1));
    h.embedding = use_embedding ? embedding_.data() : nullptr;
    h.around_class_mean = around_class_mean_;
    return h;
  }
  bool ready() {
    if (model_) return true;
    error_ = "no model loaded";
    return false;
  }
  val fail_null(const std::string& message) {
    error_ = message;
    return val::null();
  }
  std::string take(std::unique_ptr<GrainsModel> model) {
    synth_.reset();  // refers to the old model
    model_ = std::move(model);
    return make_synth();
  }
  std::string make_synth() {
    synth_.reset();
    if (!model_ || max_block_ == 0) return "";
    auto synth = std::make_unique<GrainSynth>(*model_);
    synth->set_beatbox(beatbox_);
    synth->set_seed(seed_);
    if (auto problem = synth->prepare(rate_, max_block_); !problem.empty()) return problem;
    synth_ = std::move(synth);
    return "";
  }

  std::string config_error_, error_;
  double rate_ = 0.0;
  int max_block_ = 0;
  std::vector<float> input_, output_, embedding_;
  std::unique_ptr<GrainsModel> model_;
  std::unique_ptr<GrainSynth> synth_;  // refers to *model_
  timbrel::engine::BeatboxSettings beatbox_;
  bool around_class_mean_ = false;
  std::uint32_t seed_ = 0;
  timbrel::wasm::ImageStaging staging_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_grains) {
  auto kernel = emscripten::class_<GrainsKernel>("GrainsKernel");
  timbrel::wasm::bind_image_api(kernel);
  kernel.constructor<>()
      .function("prepare", &GrainsKernel::prepare)
      .function("error", &GrainsKernel::error)
      .function("load", &GrainsKernel::load)
      .function("loadModel", &GrainsKernel::load)
      .function("hasModel", &GrainsKernel::has_model)
      .function("info", &GrainsKernel::info)
      .function("classes", &GrainsKernel::classes)
      .function("pushInput", &GrainsKernel::push_input)
      .function("trigger", &GrainsKernel::trigger)
      .function("setPath", &GrainsKernel::set_path)
      .function("process", &GrainsKernel::process)
      .function("inputPtr", &GrainsKernel::input_ptr)
      .function("outputPtr", &GrainsKernel::output_ptr)
      .function("embeddingPtr", &GrainsKernel::embedding_ptr)
      .function("maxBlock", &GrainsKernel::max_block)
      .function("drainEvents", &GrainsKernel::drain_events)
      .function("setBeatbox", &GrainsKernel::set_beatbox)
      .function("setBeatboxKit", &GrainsKernel::set_beatbox_kit)
      .function("setBeatboxMorph", &GrainsKernel::set_beatbox_morph)
      .function("setDrawAroundClassMean", &GrainsKernel::set_draw_around_class_mean)
      .function("setSeed", &GrainsKernel::set_seed)
      .function("reset", &GrainsKernel::reset)
      .function("latencySamples", &GrainsKernel::latency_samples)
      .function("beatboxLatencySamples", &GrainsKernel::beatbox_latency_samples)
      .function("soundingVoices", &GrainsKernel::sounding_voices)
      .function("pathSounding", &GrainsKernel::path_sounding)
      .function("guardState", &GrainsKernel::guard_state)
      .function("stats", &GrainsKernel::stats)
      .function("renderHit", &GrainsKernel::render_hit)
      .function("encodeClip", &GrainsKernel::encode_clip)
      .function("renderGrains", &GrainsKernel::render_grains)
      .function("lastError", &GrainsKernel::last_error);
}
