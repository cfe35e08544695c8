// Embind bindings of descriptor-based synthesis (models/descriptor_synth.h,
// engine/draw_player.h) for the page's Draw panel: a Worker renders drawn
// curves offline, the AudioWorklet loops them and auditions codes.
//
//   const k = new core.DrawKernel(sampleRate, 128, maxHops);  // after validateConfig()
//   k.loadModel(uint8Array, analyseIfMissing) -> "" or the error
//   or, parsed off the audio thread: prepareModel(bytes, 'vq_timbre') there, then
//   k.beginImage(n) / copy into HEAPU8 / k.adoptImage() here (image_staging.h; a
//   model without a descriptor table is refused, as loadModel(bytes, false) does)
//   k.error() -> why the last beginImage returned 0
//   k.descriptorRange("centroid") -> {min, max} (null: unknown name)
//   k.tableJson() (the per-code table), k.codebookMap() (Float32Array x0, y0, x1, y1, ...)
//   k.setHops(n); k.setTarget("centroid", Float32Array per hop, weight); k.setGain(...)
//   k.commit() -> "" or the error: the drawn curves become the ones played
//   offline:  k.render() -> Float32Array at 22050 Hz (or an error string), or
//             k.beginRender(); while (!k.renderSome(50)) progress(k.renderProgress());
//             k.renderResult(); k.renderedCodes() -> Int32Array, one code per hop
//   streaming (worklet): k.play() / k.stop() / k.playCode(k) / k.setLoop(true);
//             per quantum: k.process(128); output from HEAPF32 at k.outputPtr()
//   k.measure(Float32Array at 22050 Hz) -> Float32Array of frames, 8 values each:
//             time_s, centroid_hz, bandwidth_hz, rolloff_hz, flatness, loudness_db,
//             f0_hz, voiced (frames of 1024, hop 256: `timbrel analyse`'s convention)
//
// Curves are edited in preallocated buffers (maxHops per curve): setTarget,
// setGain, setHops and commit never allocate, so the worklet may call them
// between quanta. render*() and loadModel allocate (a Worker's business;
// render stops playback). The output buffer lives in the heap: refresh
// views if HEAPF32.buffer changes (loadModel, render).
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "image_staging.h"
#include "js_bytes.h"
#include "timbrel/dsp/frame_analysis.h"
#include "timbrel/dsp/output_guard.h"
#include "timbrel/engine/draw_player.h"
#include "timbrel/models/code_analysis.h"
#include "timbrel/models/descriptor_synth.h"

namespace {

using timbrel::engine::DrawPlayer;
using timbrel::engine::DrawPlayerConfig;
using timbrel::models::Descriptor;
using timbrel::models::DescriptorSynth;

constexpr int kMeasureValues = 8;

std::string validate_config(double device_rate, int max_block, int max_hops) {
  return DrawPlayer::validate({device_rate, max_block, std::size_t(max_hops > 0 ? max_hops : 0)});
}

emscripten::val float_array(const std::vector<float>& v) {
  return emscripten::val(emscripten::typed_memory_view(v.size(), v.data()))
      .call<emscripten::val>("slice");
}

class DrawKernel {
 public:
  // Call DrawKernel.validateConfig first: a bad config here aborts.
  DrawKernel(double device_rate, int max_block, int max_hops)
      : player_(DrawPlayerConfig{device_rate, max_block, std::size_t(max_hops)}),
        output_(std::size_t(max_block), 0.0f) {}

  // --- model -----------------------------------------------------------------
  std::string load_model(const emscripten::val& bytes, bool analyse_if_missing) {
    const auto data = timbrel::wasm::bytes_from_js(bytes);
    if (data.empty()) return "no model bytes (expected a Uint8Array or ArrayBuffer)";
    return take(DescriptorSynth::load(data.data(), data.size(), analyse_if_missing));
  }
  timbrel::wasm::ImageStaging& staging() { return staging_; }
  std::string adopt(timbrel::nn::ImageBlock image) {
    return take(DescriptorSynth::adopt(std::move(image)));
  }
  std::string error() const { return staging_.error(); }
  bool has_model() const { return player_.synth() != nullptr; }
  std::string model_info() const { return synth() ? synth()->model().info_json() : ""; }
  int codes() const { return synth() ? synth()->model().codes() : 0; }
  std::string table_json() const { return synth() ? synth()->table().to_json() : ""; }
  emscripten::val codebook_map() const { return float_array(map_); }
  // {min, max} in the descriptor's unit for the current mode; null for an
  // unknown name or without a model.
  emscripten::val descriptor_range(const std::string& name) const {
    Descriptor d;
    if (!synth() || !timbrel::models::parse_descriptor(name, &d)) return emscripten::val::null();
    const auto r = synth()->range(d);
    emscripten::val out = emscripten::val::object();
    out.set("min", r.min);
    out.set("max", r.max);
    return out;
  }

  // --- settings (take effect from the next hop) --------------------------------
  bool set_mode(const std::string& mode) {
    if (!timbrel::models::parse_transfer_mode(mode, &settings_.mode)) return false;
    apply();
    return true;
  }
  std::string mode() const { return timbrel::models::transfer_mode_name(settings_.mode); }
  void set_smoothing(float hops) { settings_.smoothing_hops = hops, apply(); }
  void set_hysteresis(float margin) { settings_.hysteresis = margin, apply(); }
  void set_steady_loudness(float weight) { settings_.steady_loudness = weight, apply(); }
  bool set_loudness_control(const std::string& control) {
    if (!timbrel::models::parse_loudness_control(control, &settings_.loudness)) return false;
    apply();
    return true;
  }
  void set_seed(double seed) {
    settings_.seed = std::isfinite(seed) && seed >= 1 ? std::uint32_t(std::int64_t(seed))
                                                      : timbrel::models::VqTimbre::kDefaultSeed;
    apply();
  }

  // --- curves (edit the pending set; commit() makes it the played one) ---------
  int max_hops() const { return int(player_.config().max_hops); }
  std::string set_hops(int hops) {
    if (hops < 1 || hops > max_hops())
      return "hops must lie in 1.." + std::to_string(max_hops()) + ", got " + std::to_string(hops);
    player_.pending().hops = std::size_t(hops);
    return "";
  }
  // values: a Float32Array (or array) of one target per hop, or null to clear
  // it. weight > 0.
  std::string set_target(const std::string& name, const emscripten::val& values, float weight) {
    Descriptor d;
    if (!timbrel::models::parse_descriptor(name, &d))
      return "unknown descriptor '" + name +
             "' (known: centroid, bandwidth, rolloff, flatness, loudness, f0)";
    auto& curve = player_.pending().curve(d);
    if (values.isNull() || values.isUndefined()) {
      curve.clear();
      return "";
    }
    if (!(weight > 0.0f)) return "the weight of '" + name + "' must be positive";
    if (auto problem = copy_curve(values, &curve); !problem.empty()) return name + ": " + problem;
    player_.pending().weight[std::size_t(timbrel::models::index_of(d))] = weight;
    return "";
  }
  void clear_targets() {
    for (auto& c : player_.pending().target) c.clear();
    player_.pending().gain.clear();
  }
  // A linear gain per hop (null: 1).
  std::string set_gain(const emscripten::val& values) {
    auto& gain = player_.pending().gain;
    if (values.isNull() || values.isUndefined()) {
      gain.clear();
      return "";
    }
    if (auto problem = copy_curve(values, &gain); !problem.empty()) return "gain: " + problem;
    return "";
  }
  std::string commit() { return player_.commit(); }

  // --- offline (a Worker) ---------------------------------------------------------
  // The pending curves (drawn, committed or not), as the native tool renders them.
  emscripten::val render() {
    if (auto problem = begin_render(); !problem.empty()) return emscripten::val(problem);
    while (!render_some(1 << 30)) {
    }
    return render_result();
  }
  std::string begin_render() {
    if (!synth()) return "no model loaded";
    if (player_.pending().hops == 0) return "no curves: call setHops and setTarget first";
    player_.stop_now();
    render_curves_ = player_.pending();
    rendered_.assign(render_curves_.hops * std::size_t(DescriptorSynth::kHop), 0.0f);
    rendered_codes_.clear();
    rendered_codes_.reserve(render_curves_.hops);
    synth()->begin_render();
    rendering_ = true;
    render_error_.clear();
    return "";
  }
  bool render_some(int max_hops) {
    if (!rendering_ || !synth()) return true;
    const bool done = synth()->render_some(render_curves_, std::size_t(max_hops > 0 ? max_hops : 1),
                                           rendered_.data(), &rendered_codes_);
    if (done) {
      synth()->reset();
      rendering_ = false;
      // The engines' output guard, as the CLI's `draw` (dsp/output_guard.h).
      const auto guard = timbrel::dsp::guard_offline(rendered_.data(), long(rendered_.size()),
                                                     DescriptorSynth::kSampleRate);
      render_error_ = guard.muted ? std::string("the model produced invalid output (") +
                                        guard.mute_reason + " for more than 100 ms); muted"
                                  : std::string();
    }
    return done;
  }
  double render_progress() const {
    const double total = double(render_curves_.hops + 1);
    return rendering_ && synth() ? double(synth()->rendered_hops()) / total : 1.0;
  }
  // The samples, or (a string) why the guard muted them.
  emscripten::val render_result() const {
    return render_error_.empty() ? float_array(rendered_) : emscripten::val(render_error_);
  }
  emscripten::val rendered_codes() const {
    return emscripten::val(
               emscripten::typed_memory_view(rendered_codes_.size(), rendered_codes_.data()))
        .call<emscripten::val>("slice");
  }

  emscripten::val measure(const emscripten::val& samples) const {
    const auto x = emscripten::convertJSArrayToNumberVector<float>(samples);
    const auto frames =
        timbrel::dsp::analyse_frames(x.data(), x.size(), DescriptorSynth::kSampleRate);
    std::vector<float> out;
    out.reserve(frames.size() * kMeasureValues);
    for (const auto& f : frames) {
      const auto& d = f.descriptors;
      for (float v : {float(f.time_s), d.centroid_hz, d.bandwidth_hz, d.rolloff_hz, d.flatness,
                      d.loudness_db, f.pitch.f0_hz, f.pitch.voiced ? 1.0f : 0.0f})
        out.push_back(v);
    }
    return float_array(out);
  }

  // --- streaming (the worklet; real-time safe) -----------------------------------
  std::uintptr_t output_ptr() { return reinterpret_cast<std::uintptr_t>(output_.data()); }
  int max_block() const { return int(output_.size()); }
  void process(int n) { player_.process(output_.data(), n); }
  void play() { player_.play(); }
  void stop() { player_.stop(); }
  void play_code(int code) { player_.play_code(code); }
  void set_loop(bool loop) { player_.set_loop(loop); }
  std::string state() const {
    switch (player_.state()) {
      case DrawPlayer::State::kPlaying:
        return "playing";
      case DrawPlayer::State::kHoldingCode:
        return "code";
      default:
        return "stopped";
    }
  }
  int position() const { return int(player_.position_hop()); }
  double passes() const { return double(player_.passes()); }
  int last_code() const { return synth() ? synth()->last_code() : -1; }
  // 0 clean, 1 limiting, 2 muted: the model's output was not sound (dsp/output_guard.h).
  int guard_state() const { return int(player_.guard_state()); }

 private:
  // The player's synth on success, else the loader's message.
  std::string take(DescriptorSynth::LoadResult loaded) {
    if (!loaded.synth) return loaded.error;
    map_ = timbrel::models::codebook_projection(loaded.synth->model());
    loaded.synth->set_settings(settings_);
    player_.set_synth(std::move(loaded.synth));
    rendered_.clear();
    rendered_codes_.clear();
    return "";
  }
  DescriptorSynth* synth() { return player_.synth(); }
  const DescriptorSynth* synth() const { return player_.synth(); }
  void apply() {
    if (synth()) synth()->set_settings(settings_);
  }
  // Copies a JS array into a preallocated curve (within max_hops: no allocation).
  std::string copy_curve(const emscripten::val& values, std::vector<float>* curve) {
    if (!values["length"].isNumber()) return "expected a Float32Array";
    const int length = values["length"].as<int>();
    if (length < 1 || length > max_hops())
      return "a curve holds 1.." + std::to_string(max_hops()) + " values, got " +
             std::to_string(length);
    curve->resize(std::size_t(length));
    emscripten::val view(emscripten::typed_memory_view(curve->size(), curve->data()));
    view.call<void>("set", values);
    return "";
  }

  DrawPlayer player_;
  timbrel::models::DrawSettings settings_;
  std::vector<float> output_;
  std::vector<float> map_;
  timbrel::models::DrawCurves render_curves_;
  std::vector<float> rendered_;
  std::vector<int> rendered_codes_;
  bool rendering_ = false;
  std::string render_error_;  // the guard muted the last render: why
  timbrel::wasm::ImageStaging staging_;
};

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_draw) {
  auto kernel = emscripten::class_<DrawKernel>("DrawKernel");
  timbrel::wasm::bind_image_api(kernel);
  kernel.constructor<double, int, int>()
      .class_function("validateConfig", &validate_config)
      .function("loadModel", &DrawKernel::load_model)
      .function("error", &DrawKernel::error)
      .function("hasModel", &DrawKernel::has_model)
      .function("modelInfo", &DrawKernel::model_info)
      .function("codes", &DrawKernel::codes)
      .function("tableJson", &DrawKernel::table_json)
      .function("codebookMap", &DrawKernel::codebook_map)
      .function("descriptorRange", &DrawKernel::descriptor_range)
      .function("setMode", &DrawKernel::set_mode)
      .function("mode", &DrawKernel::mode)
      .function("setSmoothing", &DrawKernel::set_smoothing)
      .function("setHysteresis", &DrawKernel::set_hysteresis)
      .function("setSteadyLoudness", &DrawKernel::set_steady_loudness)
      .function("setLoudnessControl", &DrawKernel::set_loudness_control)
      .function("setSeed", &DrawKernel::set_seed)
      .function("maxHops", &DrawKernel::max_hops)
      .function("setHops", &DrawKernel::set_hops)
      .function("setTarget", &DrawKernel::set_target)
      .function("clearTargets", &DrawKernel::clear_targets)
      .function("setGain", &DrawKernel::set_gain)
      .function("commit", &DrawKernel::commit)
      .function("render", &DrawKernel::render)
      .function("beginRender", &DrawKernel::begin_render)
      .function("renderSome", &DrawKernel::render_some)
      .function("renderProgress", &DrawKernel::render_progress)
      .function("renderResult", &DrawKernel::render_result)
      .function("renderedCodes", &DrawKernel::rendered_codes)
      .function("measure", &DrawKernel::measure)
      .function("outputPtr", &DrawKernel::output_ptr)
      .function("maxBlock", &DrawKernel::max_block)
      .function("process", &DrawKernel::process)
      .function("play", &DrawKernel::play)
      .function("stop", &DrawKernel::stop)
      .function("playCode", &DrawKernel::play_code)
      .function("setLoop", &DrawKernel::set_loop)
      .function("state", &DrawKernel::state)
      .function("position", &DrawKernel::position)
      .function("passes", &DrawKernel::passes)
      .function("lastCode", &DrawKernel::last_code)
      .function("guardState", &DrawKernel::guard_state);
}
