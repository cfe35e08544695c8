// A named sequential graph of layers, as stored in a model file.
#pragma once

#include <cstdint>
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
  // Returns how many pairs were fused. budget (optional): multiply-adds the
  // fusion may spend, reduced by each pair fused; a pair costing more than is
  // left stays unfused (Gru::fusion_work).
  int fuse_linear_into_gru(std::uint64_t* budget = nullptr);

  int input_size() const;
  int output_size() const;
  bool streams() const;
  // Weights (floats) the layers hold: what one step() costs in multiply-adds, roughly.
  std::uint64_t parameters() const;
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
