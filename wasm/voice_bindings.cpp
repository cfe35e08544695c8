// Embind bindings of the voice -> instrument engine (engine/voice_transfer.h)
// for the AudioWorklet.
//
//   const k = new core.VoiceKernel(sampleRate, 128);   // after validateRate()
//   k.loadModel(uint8Array)  -> "" or the error (the current model keeps playing)
//   or, parsed off the audio thread: prepareModel(bytes, 'vq_timbre') there, then
//   k.beginImage(n) / copy into HEAPU8 / k.adoptImage() here (image_staging.h)
//   k.error() -> why the last beginImage returned 0
//   k.setNextModelGainDb(db): the level of the models loaded from now on (each
//       keeps its own through its crossfade; the page evens instruments out)
//   per quantum: HEAPF32.set(input, k.inputPtr() >> 2); k.process(128);
//                output.set(HEAPF32.subarray(k.outputPtr() >> 2, ...))
//   k.collect() outside process (frees the model a switch retired)
//
// renderTransfer(modelBytes, input, pitch, mode, octaves, seed): the offline
// render (VqTimbre::render) of a whole 22050 Hz clip, for a Worker (uploaded
// clips) and the parity test: input a Float32Array, pitch null (the core's
// YIN) or a Float32Array of [f0 Hz, voiced 0/1] per hop. Returns a
// Float32Array time-aligned with the input, through the output guard
// (dsp/output_guard.h), or a string saying what is wrong (or why it muted).
// guardOffline(samples, rate): that guard over any Float32Array (a copy), or
// the reason it muted them.
//
// The kernel owns its input/output buffers; the worklet makes Float32Array
// views on them once, and again only if the heap grows (loadModel allocates,
// so check `HEAPF32.buffer` after it). process() and the setters/getters
// never allocate.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "image_staging.h"
#include "js_bytes.h"
#include "timbrel/dsp/output_guard.h"
#include "timbrel/engine/voice_transfer.h"
#include "timbrel/models/vq_timbre.h"

namespace {

using timbrel::engine::VoiceTransfer;
using timbrel::engine::VoiceTransferConfig;

std::string validate_rate(double device_rate) {
  return VoiceTransfer::validate({device_rate, 128});
}

emscripten::val render_transfer(const emscripten::val& model_bytes, const emscripten::val& input,
                                const emscripten::val& pitch, const std::string& mode, int octaves,
                                double seed) {
  using timbrel::models::VqTimbre;
  const auto bytes = timbrel::wasm::bytes_from_js(model_bytes);
  auto loaded = VqTimbre::load(bytes.data(), bytes.size());
  if (!loaded.model) return emscripten::val(loaded.error);
  VqTimbre::RenderOptions options;
  if (!timbrel::models::parse_transfer_mode(mode, &options.mode))
    return emscripten::val(
        std::string("mode must be \"pitch\" or \"noise\", got \"" + mode + "\""));
  options.octaves = octaves;
  options.seed = std::isfinite(seed) ? std::uint32_t(std::int64_t(seed)) : VqTimbre::kDefaultSeed;
  const auto x = emscripten::convertJSArrayToNumberVector<float>(input);
  if (!pitch.isNull() && !pitch.isUndefined()) {
    const auto p = emscripten::convertJSArrayToNumberVector<float>(pitch);
    if (p.size() % 2 != 0)
      return emscripten::val(std::string("pitch must hold [f0, voiced] pairs"));
    for (size_t t = 0; t < p.size() / 2; ++t)
      options.pitch.push_back({p[2 * t], p[2 * t + 1] > 0.5f ? 1.0f : 0.0f, p[2 * t + 1] > 0.5f});
  }
  auto y = loaded.model->render(x.data(), x.size(), options);
  // The engines' output guard, as the CLI's `transfer` (dsp/output_guard.h).
  const auto guard = timbrel::dsp::guard_offline(y.data(), long(y.size()), VqTimbre::kSampleRate);
  if (guard.muted)
    return emscripten::val(std::string("the model produced invalid output (") + guard.mute_reason +
                           " for more than 100 ms); muted");
  return emscripten::val(emscripten::typed_memory_view(y.size(), y.data()))
      .call<emscripten::val>("slice");
}

// The output guard over samples made elsewhere (dsp/output_guard.h, as every
// render's last stage): a guarded copy, or the reason it muted them.
emscripten::val guard_offline(const emscripten::val& samples, double sample_rate) {
  auto x = emscripten::convertJSArrayToNumberVector<float>(samples);
  if (!(sample_rate >= 1000.0 && sample_rate <= 768000.0))
    return emscripten::val(std::string("sample rate must be 1000-768000 Hz"));
  const auto guard = timbrel::dsp::guard_offline(x.data(), long(x.size()), sample_rate);
  if (guard.muted)
    return emscripten::val(std::string("the model produced invalid output (") + guard.mute_reason +
                           " for more than 100 ms); muted");
  return emscripten::val(emscripten::typed_memory_view(x.size(), x.data()))
      .call<emscripten::val>("slice");
}

class VoiceKernel {
 public:
  // Call VoiceKernel.validateRate first: a bad config here aborts.
  VoiceKernel(double device_rate, int max_block)
      : engine_(VoiceTransferConfig{device_rate, max_block}),
        input_(size_t(max_block), 0.0f),
        output_(size_t(max_block), 0.0f) {}

  std::uintptr_t input_ptr() { return reinterpret_cast<std::uintptr_t>(input_.data()); }
  std::uintptr_t output_ptr() { return reinterpret_cast<std::uintptr_t>(output_.data()); }
  int max_block() const { return int(input_.size()); }
  void process(int n) { engine_.process(input_.data(), output_.data(), n); }

  // bytes: a Uint8Array (or ArrayBuffer) holding a .tmbl file, copied into the
  // heap with one TypedArray.set (Embind's std::string conversion copies byte
  // by byte in JS: ~20 ms for a 5 MB model, on the audio thread).
  std::string load_model(const emscripten::val& bytes) {
    const auto data = timbrel::wasm::bytes_from_js(bytes);
    return engine_.load_model(data.data(), data.size());
  }
  timbrel::wasm::ImageStaging& staging() { return staging_; }
  std::string adopt(timbrel::nn::ImageBlock image) { return engine_.adopt_image(std::move(image)); }
  std::string error() const { return staging_.error(); }
  void collect() { engine_.collect(); }
  bool has_model() const { return engine_.has_model(); }
  bool switching() const { return engine_.switching(); }
  std::string model_info() const { return engine_.model() ? engine_.model()->info_json() : ""; }

  // False (mode unchanged) for anything but "pitch" or "noise".
  bool set_mode(const std::string& mode) {
    timbrel::models::TransferMode m;
    if (!timbrel::models::parse_transfer_mode(mode, &m)) return false;
    engine_.set_mode(m);
    return true;
  }
  std::string mode() const { return timbrel::models::transfer_mode_name(engine_.mode()); }
  void set_octaves(int octaves) { engine_.set_octaves(octaves); }
  void set_input_gain_db(float db) { engine_.set_input_gain_db(db); }
  void set_gate_db(float db) { engine_.set_gate_db(db); }
  void set_dry_wet(float mix) { engine_.set_dry_wet(mix); }
  void set_output_gain_db(float db) { engine_.set_output_gain_db(db); }
  void set_next_model_gain_db(float db) { engine_.set_next_model_gain_db(db); }
  // A JS number (0 .. 2^32 - 1; 0 selects the default 0x9E3779B9).
  void set_seed(double seed) {
    engine_.set_seed(std::isfinite(seed) ? std::uint32_t(std::int64_t(seed)) : 0u);
  }

  int latency_samples() const { return engine_.latency_samples(); }
  double latency_ms() const { return engine_.latency_ms(); }
  float input_level_db() const { return engine_.input_level_db(); }
  float output_level_db() const { return engine_.output_level_db(); }
  float last_f0() const { return engine_.last_f0_hz(); }
  bool last_voiced() const { return engine_.last_voiced(); }
  bool gate_open() const { return engine_.gate_open(); }
  double nonfinite_inputs() const { return double(engine_.nonfinite_inputs()); }
  double underruns() const { return double(engine_.underruns()); }
  double overruns() const { return double(engine_.overruns()); }
  void reset() { engine_.reset(); }
  // 0 clean, 1 limiting, 2 muted: the model's output was not sound (dsp/output_guard.h).
  int guard_state() const { return int(engine_.guard_state()); }

 private:
  VoiceTransfer engine_;
  std::vector<float> input_, output_;
  timbrel::wasm::ImageStaging staging_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_transfer) {
  emscripten::function("renderTransfer", &render_transfer);
  emscripten::function("guardOffline", &guard_offline);
  auto kernel = emscripten::class_<VoiceKernel>("VoiceKernel");
  timbrel::wasm::bind_image_api(kernel);
  kernel.constructor<double, int>()
      .class_function("validateRate", &validate_rate)
      .function("inputPtr", &VoiceKernel::input_ptr)
      .function("outputPtr", &VoiceKernel::output_ptr)
      .function("maxBlock", &VoiceKernel::max_block)
      .function("process", &VoiceKernel::process)
      .function("loadModel", &VoiceKernel::load_model)
      .function("error", &VoiceKernel::error)
      .function("collect", &VoiceKernel::collect)
      .function("hasModel", &VoiceKernel::has_model)
      .function("switching", &VoiceKernel::switching)
      .function("modelInfo", &VoiceKernel::model_info)
      .function("setMode", &VoiceKernel::set_mode)
      .function("mode", &VoiceKernel::mode)
      .function("setOctaves", &VoiceKernel::set_octaves)
      .function("setInputGainDb", &VoiceKernel::set_input_gain_db)
      .function("setGateDb", &VoiceKernel::set_gate_db)
      .function("setDryWet", &VoiceKernel::set_dry_wet)
      .function("setOutputGainDb", &VoiceKernel::set_output_gain_db)
      .function("setNextModelGainDb", &VoiceKernel::set_next_model_gain_db)
      .function("setSeed", &VoiceKernel::set_seed)
      .function("latencySamples", &VoiceKernel::latency_samples)
      .function("latencyMs", &VoiceKernel::latency_ms)
      .function("inputLevelDb", &VoiceKernel::input_level_db)
      .function("outputLevelDb", &VoiceKernel::output_level_db)
      .function("lastF0", &VoiceKernel::last_f0)
      .function("lastVoiced", &VoiceKernel::last_voiced)
      .function("gateOpen", &VoiceKernel::gate_open)
      .function("nonfiniteInputs", &VoiceKernel::nonfinite_inputs)
      .function("underruns", &VoiceKernel::underruns)
      .function("overruns", &VoiceKernel::overruns)
      .function("reset", &VoiceKernel::reset)
      .function("guardState", &VoiceKernel::guard_state);
}
