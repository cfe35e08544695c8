#include "timbrel/nn/graph.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "timbrel/nn/layers.h"

namespace timbrel::nn {

void Graph::add(std::unique_ptr<Layer> layer) {
  if (!layers_.empty() && layers_.back()->kind() != "flatten" &&
      layer->input_size() != layers_.back()->output_size())
    throw std::invalid_argument(layer->kind() + " expects " + std::to_string(layer->input_size()) +
                                " inputs but the previous " + layers_.back()->kind() + " gives " +
                                std::to_string(layers_.back()->output_size()));
  const auto largest = size_t(std::max(layer->input_size(), layer->output_size()));
  if (scratch_a_.size() < largest) {
    scratch_a_.resize(largest);
    scratch_b_.resize(largest);
  }
  layers_.push_back(std::move(layer));
}

int Graph::fuse_linear_into_gru(std::uint64_t* budget) {
  int fused = 0;
  for (size_t i = 0; i + 1 < layers_.size(); ++i) {
    auto* linear = dynamic_cast<Linear*>(layers_[i].get());
    auto* gru = dynamic_cast<Gru*>(layers_[i + 1].get());
    if (!linear || !gru) continue;
    if (budget) {
      const std::uint64_t work = gru->fusion_work(*linear);
      if (work > *budget) continue;
      *budget -= work;
    }
    if (auto merged = gru->fold_input_projection(*linear)) {
      layers_[i] = std::move(merged);
      layers_.erase(layers_.begin() + long(i) + 1);
      ++fused;
    }
  }
  return fused;
}

int Graph::input_size() const { return layers_.empty() ? 0 : layers_.front()->input_size(); }
int Graph::output_size() const { return layers_.empty() ? 0 : layers_.back()->output_size(); }

namespace {
std::uint64_t layer_parameters(const Layer& l) {
  if (const auto* a = dynamic_cast<const Linear*>(&l)) return a->weight().size() + a->bias().size();
  if (const auto* c = dynamic_cast<const Conv1d*>(&l)) return c->weight().size() + c->bias().size();
  if (const auto* g = dynamic_cast<const Gru*>(&l))
    return g->weight_ih().size() + g->weight_hh().size() + g->bias_ih().size() +
           g->bias_hh().size();
  if (const auto* m = dynamic_cast<const LayerNorm*>(&l))
    return m->weight().size() + m->bias().size();
  if (const auto* q = dynamic_cast<const VectorQuantizer*>(&l)) return q->codebook().size();
  if (const auto* r = dynamic_cast<const Residual*>(&l)) {
    std::uint64_t n = 0;  // a body holds no residual: one level deep
    for (size_t i = 0; i < r->body_size(); ++i) n += layer_parameters(r->body(i));
    return n;
  }
  return 0;
}
}  // namespace

std::uint64_t Graph::parameters() const {
  std::uint64_t n = 0;
  for (const auto& l : layers_) n += layer_parameters(*l);
  return n;
}

bool Graph::streams() const {
  return std::all_of(layers_.begin(), layers_.end(), [](const auto& l) { return l->streams(); });
}

bool Graph::step(const float* in, float* out) noexcept {
  const float* x = in;
  float* buffers[2] = {scratch_a_.data(), scratch_b_.data()};
  for (size_t i = 0; i < layers_.size(); ++i) {
    float* y = i + 1 == layers_.size() ? out : buffers[i % 2];
    if (!layers_[i]->step(x, y)) return false;
    x = y;
  }
  return true;
}

void Graph::reset() noexcept {
  for (auto& l : layers_) l->reset();
}

Sequence Graph::forward(const Sequence& in) const {
  if (!layers_.empty() && in.channels != input_size())
    throw std::invalid_argument("graph expects " + std::to_string(input_size()) +
                                " channels, got " + std::to_string(in.channels));
  Sequence x = in;
  for (const auto& l : layers_) x = l->forward(x);
  return x;
}

}  // namespace timbrel::nn
