// Embind bindings of the Transcribe panel (engine/transcriber.h): a Worker
// turns a monophonic clip into notes through a cross-modal VAE.
//
//   const k = new core.TranscribeKernel();
//   k.loadModel(uint8Array) -> "" or the error
//   k.describe() -> as MidiRenderKernel's (CrossmodalVae::info_json)
//   k.transcribe(Float32Array at 22050 Hz) -> {error, notes, frames, slots, midi, summary}
//       frames: 5 values per frame (time s, pitch or -1, dynamics, confidence,
//       active) of instrument slot 0; slots: one such array per slot; midi:
//       the notes as Standard MIDI File bytes (read back with core.parseMidi).
//
// Errors come back as messages, never as aborts (see midi_bindings.cpp).
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "crossmodal_js.h"
#include "timbrel/engine/transcriber.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/crossmodal_vae.h"

namespace {

using emscripten::val;
using timbrel::engine::Transcriber;
using timbrel::engine::TranscriptionFrame;
using timbrel::models::CrossmodalVae;
using timbrel::wasm::error_object;
using timbrel::wasm::note_array;
using timbrel::wasm::typed_array_copy;

constexpr int kFrameValues = 5;  // time, pitch or -1, dynamics, confidence, active

class TranscribeKernel {
 public:
  std::string load_model(const val& bytes) {
    std::unique_ptr<CrossmodalVae> model;
    if (auto problem = timbrel::wasm::load_crossmodal(bytes, &model); !problem.empty())
      return problem;
    transcriber_.reset();  // it refers to the old model
    model_ = std::move(model);
    transcriber_ = std::make_unique<Transcriber>(*model_);
    return "";
  }
  bool has_model() const { return model_ != nullptr; }
  val describe() const { return timbrel::wasm::describe(model_.get()); }

  val transcribe(const val& samples) {
    if (!model_) return error_object("no model loaded");
    if (samples.isNull() || samples.isUndefined() || !samples["length"].isNumber())
      return error_object("expected a Float32Array of samples at 22050 Hz");
    const auto audio = emscripten::convertJSArrayToNumberVector<float>(samples);
    if (audio.empty()) return error_object("the audio is empty (no samples)");
    for (size_t i = 0; i < audio.size(); ++i)
      if (!std::isfinite(audio[i]))
        return error_object("sample " + std::to_string(i) + " is not a finite number");
    const auto result = transcriber_->transcribe(audio.data(), audio.size());
    val out = val::object();
    out.set("error", std::string());
    out.set("summary", result.summary);
    out.set("instruments", result.instruments);
    out.set("notes", note_array(result.notes));
    val slots = val::array();
    for (int slot = 0; slot < result.instruments; ++slot)
      slots.call<void>("push", frame_values(result.frames, slot));
    out.set("frames", slots[0]);
    out.set("slots", slots);
    out.set("midi", typed_array_copy(timbrel::midi::write_smf(result.notes)));
    return out;
  }

 private:
  static val frame_values(const std::vector<TranscriptionFrame>& frames, int slot) {
    std::vector<float> values;
    values.reserve(frames.size() * kFrameValues);
    for (const auto& f : frames) {
      const auto& s = f.slots[size_t(slot)];
      values.push_back(float(f.time_s));
      values.push_back(f.active ? float(s.pitch) : -1.0f);
      values.push_back(float(s.dynamics));
      values.push_back(s.confidence);
      values.push_back(f.active ? 1.0f : 0.0f);
    }
    return typed_array_copy(values);
  }

  std::unique_ptr<CrossmodalVae> model_;
  std::unique_ptr<Transcriber> transcriber_;  // refers to *model_
};

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_transcribe) {
  emscripten::class_<TranscribeKernel>("TranscribeKernel")
      .constructor<>()
      .function("loadModel", &TranscribeKernel::load_model)
      .function("hasModel", &TranscribeKernel::has_model)
      .function("describe", &TranscribeKernel::describe)
      .function("transcribe", &TranscribeKernel::transcribe);
}
