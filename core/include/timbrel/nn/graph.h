// A named sequential graph of layers, as stored in a model file.
#pragma once

#include <memory>
#include <vector>

#include "timbrel/nn/layer.h"
#include "timbrel/realtime.h"

namespace timbrel::nn {

class Graph {
 public:
  Graph() = default;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  // Load time: appends a layer (sizes must chain) and grows the scratch buffers.
  void add(std::unique_ptr<Layer> layer);

  // Load time: folds each Linear that feeds a GRU directly into the GRU's input
  // weights where that saves arithmetic. Outputs change only by rounding.
  // Returns how many pairs were fused.
  int fuse_linear_into_gru();

  int input_size() const;
  int output_size() const;
  bool streams() const;
  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_[i]; }
  const Layer& layer(size_t i) const { return *layers_[i]; }

  // Real-time safe: one time step through every layer. False when a layer
  // produced no output this step (strided convolution); out is then untouched.
  bool step(const float* in, float* out) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;
  // Offline, from a zero state.
  Sequence forward(const Sequence& in) const;

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<float> scratch_a_, scratch_b_;
};

}  // namespace timbrel::nn
