// Embind bindings of the inference engine: load a .tmbl model from bytes and
// run its graphs, step by step (real time) or over a sequence (offline). Used
// by the parity tests and benchmarks under node, and by the page's panels.
//
// prepareModel(bytes, family) (family 'vq_timbre' | 'crossmodal_vae'), in a
// Worker or on the main thread: reads and checks a .tmbl file as the kernels'
// loadModel would and returns {error: "" | message, image: Uint8Array (a
// JS-owned copy; empty on error), info: the JSON text of what the kernel says
// about the model once loaded (VoiceKernel/DrawKernel modelInfo(), MidiRenderKernel
// describe())}. The worklet's kernels adopt the image with beginImage /
// adoptImage (image_staging.h) instead of parsing the file on the audio thread.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "js_bytes.h"
#include "timbrel/models/prepared_model.h"
#include "timbrel/nn/model_file.h"
#include "timbrel/simd/kernels.h"

namespace {

using timbrel::nn::Graph;
using timbrel::nn::Model;
using timbrel::nn::Sequence;

class ModelKernel {
 public:
  // Returns "" on success, else the loader's message; a failed load keeps the
  // previous model, so the page keeps working.
  std::string load(const std::string& bytes) {
    auto result =
        timbrel::nn::load_model(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    if (!result.error.empty()) return result.error;
    model_ = std::move(result.model);
    size_t largest = 0;
    for (const auto& name : model_->graph_names()) {
      const auto& g = model_->graph(name);
      largest = std::max({largest, size_t(g.input_size()), size_t(g.output_size())});
    }
    input_.assign(largest, 0.0f);
    output_.assign(largest, 0.0f);
    return "";
  }

  bool loaded() const { return model_ != nullptr; }
  std::string family() const { return model_ ? model_->family() : ""; }
  std::string name() const { return model_ ? model_->name() : ""; }
  std::string metadata_json() const { return model_ ? model_->metadata_json() : "{}"; }
  std::string graph_names() const {
    std::string names;
    if (model_)
      for (const auto& n : model_->graph_names()) names += (names.empty() ? "" : ",") + n;
    return names;
  }
  bool has_graph(const std::string& graph) const { return model_ && model_->has_graph(graph); }
  int input_size(const std::string& graph) const {
    return find(graph) ? find(graph)->input_size() : 0;
  }
  int output_size(const std::string& graph) const {
    return find(graph) ? find(graph)->output_size() : 0;
  }

  // One time step: reads input_size floats at inputPointer, writes output_size
  // floats at outputPointer. Real-time safe. False: no output this step.
  bool step(const std::string& graph) {
    Graph* g = find(graph);
    return g && g->step(input_.data(), output_.data());
  }
  void reset(const std::string& graph) {
    if (Graph* g = find(graph)) g->reset();
  }
  std::uintptr_t input_pointer() { return reinterpret_cast<std::uintptr_t>(input_.data()); }
  std::uintptr_t output_pointer() { return reinterpret_cast<std::uintptr_t>(output_.data()); }

  // Offline: a whole [frames, input_size] sequence from a zero state. Returns
  // the output frame count (-1 on error); the result stays at sequencePointer.
  void reserve_sequence(int floats) { sequence_in_.assign(size_t(std::max(floats, 0)), 0.0f); }
  std::uintptr_t sequence_input_pointer() {
    return reinterpret_cast<std::uintptr_t>(sequence_in_.data());
  }
  int forward(const std::string& graph, int frames) {
    Graph* g = find(graph);
    if (!g || frames < 0 || size_t(frames) * size_t(g->input_size()) > sequence_in_.size())
      return -1;
    Sequence in(frames, g->input_size());
    std::copy(sequence_in_.begin(), sequence_in_.begin() + long(in.data.size()), in.data.begin());
    sequence_out_ = g->forward(in).data;
    return int(sequence_out_.size() / size_t(std::max(1, g->output_size())));
  }
  std::uintptr_t sequence_output_pointer() {
    return reinterpret_cast<std::uintptr_t>(sequence_out_.data());
  }

 private:
  Graph* find(const std::string& graph) const {
    return model_ && model_->has_graph(graph) ? &model_->graph(graph) : nullptr;
  }
  std::unique_ptr<Model> model_;
  std::vector<float> input_, output_, sequence_in_, sequence_out_;
};

emscripten::val prepare_model(const emscripten::val& bytes, const std::string& family) {
  const auto data =
      bytes.isString() ? std::vector<std::uint8_t>() : timbrel::wasm::bytes_from_js(bytes);
  timbrel::models::PreparedModel prepared;
  if (data.empty())
    prepared.error = "no model bytes (expected a Uint8Array or ArrayBuffer)";
  else
    prepared = timbrel::models::prepare_model(data.data(), data.size(), family);
  emscripten::val out = emscripten::val::object();
  out.set("error", prepared.error);
  out.set("image", emscripten::val(
                       emscripten::typed_memory_view(prepared.image.size(), prepared.image.data()))
                       .call<emscripten::val>("slice"));
  out.set("info", prepared.info);
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(timbrel_model) {
  emscripten::function("prepareModel", &prepare_model);
  emscripten::function("kernelPath", emscripten::optional_override([]() {
                         return std::string(timbrel::simd::kernel_path());
                       }));
  emscripten::class_<ModelKernel>("ModelKernel")
      .constructor<>()
      .function("load", &ModelKernel::load)
      .function("loaded", &ModelKernel::loaded)
      .function("family", &ModelKernel::family)
      .function("name", &ModelKernel::name)
      .function("metadataJson", &ModelKernel::metadata_json)
      .function("graphNames", &ModelKernel::graph_names)
      .function("hasGraph", &ModelKernel::has_graph)
      .function("inputSize", &ModelKernel::input_size)
      .function("outputSize", &ModelKernel::output_size)
      .function("step", &ModelKernel::step)
      .function("reset", &ModelKernel::reset)
      .function("inputPointer", &ModelKernel::input_pointer)
      .function("outputPointer", &ModelKernel::output_pointer)
      .function("reserveSequence", &ModelKernel::reserve_sequence)
      .function("sequenceInputPointer", &ModelKernel::sequence_input_pointer)
      .function("forward", &ModelKernel::forward)
      .function("sequenceOutputPointer", &ModelKernel::sequence_output_pointer);
}
