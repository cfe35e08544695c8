// What the MIDI and Transcribe bindings (midi_bindings.cpp,
// transcribe_bindings.cpp) share: JS values of notes and errors, and the
// Worker-side cross-modal model slot (load, describe).
#pragma once

#include <emscripten/val.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "js_bytes.h"
#include "timbrel/engine/transcriber.h"
#include "timbrel/midi/smf.h"
#include "timbrel/models/crossmodal_vae.h"

namespace timbrel::wasm {

template <typename T>
emscripten::val typed_array_copy(const std::vector<T>& v) {
  return emscripten::val(emscripten::typed_memory_view(v.size(), v.data()))
      .template call<emscripten::val>("slice");
}

inline emscripten::val error_object(const std::string& message) {
  emscripten::val out = emscripten::val::object();
  out.set("error", message);
  return out;
}

// [{track, channel, pitch, velocity, start, end, drum}]
inline emscripten::val note_array(const std::vector<midi::Note>& notes) {
  emscripten::val out = emscripten::val::array();
  for (const auto& n : notes) {
    emscripten::val note = emscripten::val::object();
    note.set("track", n.track);
    note.set("channel", n.channel);
    note.set("pitch", n.pitch);
    note.set("velocity", n.velocity);
    note.set("start", n.start_s);
    note.set("end", n.end_s);
    note.set("drum", n.drum());
    out.call<void>("push", note);
  }
  return out;
}

// A file's bytes, or empty (a string is not a file's bytes, though it has a length).
inline std::vector<std::uint8_t> file_bytes(const emscripten::val& bytes) {
  if (bytes.isString()) return {};
  return bytes_from_js(bytes);
}

// A Worker's cross-modal model: "" and *model replaced, or what is wrong (the
// previous model stays).
inline std::string load_crossmodal(const emscripten::val& bytes,
                                   std::unique_ptr<models::CrossmodalVae>* model) {
  const auto data = file_bytes(bytes);
  if (data.empty()) return "no model bytes (expected a Uint8Array or ArrayBuffer)";
  auto loaded = models::CrossmodalVae::load(data.data(), data.size());
  if (!loaded.model) return loaded.error;
  if (loaded.model->instruments() > engine::kMaxTranscribedInstruments)
    return "the model has " + std::to_string(loaded.model->instruments()) +
           " instruments; at most " + std::to_string(engine::kMaxTranscribedInstruments) +
           " are supported";
  *model = std::move(loaded.model);
  return "";
}

// CrossmodalVae::info_json() as a JS object (null without a model).
inline emscripten::val describe(const models::CrossmodalVae* model) {
  if (!model) return emscripten::val::null();
  return emscripten::val::global("JSON").call<emscripten::val>("parse", model->info_json());
}

}  // namespace timbrel::wasm
