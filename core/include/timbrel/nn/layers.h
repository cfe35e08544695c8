// The layer families of the engine; models/README.md documents each op and its
// PyTorch equivalent. Weights are in the core's layout (see the exporter's
// scripts/timbrel/export/layout.py, the one place that converts PyTorch's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/nn/layer.h"
#include "timbrel/nn/weights.h"
#include "timbrel/realtime.h"

namespace timbrel::nn {

// y = W x + b, W [out, in]. An empty bias is zeros.
class Linear final : public Layer {
 public:
  Linear(int in, int out, Weights weight, Weights bias);
  std::string kind() const override { return "linear"; }
  int input_size() const override { return in_; }
  int output_size() const override { return out_; }
  bool step(const float* in, float* out) noexcept TIMBREL_REALTIME override;
  const Weights& weight() const { return weight_; }
  const Weights& bias() const { return bias_; }

 private:
  int in_, out_;
  Weights weight_, bias_;
};

// PyTorch Conv1d over channels (groups 1) after F.pad(x, (left, right)).
// W stored [kernel, out, in]. Streaming is causal: it needs right padding 0.
class Conv1d final : public Layer {
 public:
  struct Shape {
    int in = 0, out = 0, kernel = 1, stride = 1, dilation = 1, padding_left = 0, padding_right = 0;
  };
  Conv1d(const Shape& shape, Weights weight, Weights bias);
  std::string kind() const override { return "conv1d"; }
  int input_size() const override { return shape_.in; }
  int output_size() const override { return shape_.out; }
  bool step(const float* in, float* out) noexcept TIMBREL_REALTIME override;
  void reset() noexcept TIMBREL_REALTIME override;
  bool streams() const override { return shape_.padding_right == 0; }
  Sequence forward(const Sequence& in) const override;
  const Shape& shape() const { return shape_; }
  const Weights& weight() const { return weight_; }
  const Weights& bias() const { return bias_; }

 private:
  bool stateless() const override { return false; }
  void compute(const float* const* taps, float* out) const noexcept TIMBREL_REALTIME;

  Shape shape_;
  Weights weight_, bias_;
  int span_;                    // (kernel - 1) dilation + 1 inputs
  std::vector<float> history_;  // span_ x in, slot = input index mod span_
  std::vector<const float*> taps_;
  std::int64_t received_ = 0;  // 64-bit: `long` is 32 bits in WebAssembly
};

// One-layer GRU, PyTorch gate order (r, z, n), h0 = 0.
class Gru final : public Layer {
 public:
  Gru(int in, int hidden, Weights weight_ih, Weights weight_hh, Weights bias_ih, Weights bias_hh);
  std::string kind() const override { return "gru"; }
  int input_size() const override { return in_; }
  int output_size() const override { return hidden_; }
  bool step(const float* in, float* out) noexcept TIMBREL_REALTIME override;
  void reset() noexcept TIMBREL_REALTIME override;
  Sequence forward(const Sequence& in) const override;
  const float* state() const { return h_.data(); }
  const Weights& weight_ih() const { return weight_ih_; }
  const Weights& weight_hh() const { return weight_hh_; }
  const Weights& bias_ih() const { return bias_ih_; }
  const Weights& bias_hh() const { return bias_hh_; }
  // A Linear straight before a GRU (no activation between) folds into its
  // input weights: W_ih' = W_ih W, b_ih' = W_ih b + b_ih (computed in double).
  // Returns the fused GRU, or null when that would not save arithmetic.
  std::unique_ptr<Gru> fold_input_projection(const Linear& projection) const;
  // Multiply-adds fold_input_projection costs: 3 hidden x projection inputs x in.
  std::uint64_t fusion_work(const Linear& projection) const;

 private:
  bool stateless() const override { return false; }
  void update(const float* x, float* h, float* gi, float* gh) const noexcept TIMBREL_REALTIME;

  int in_, hidden_;
  Weights weight_ih_, weight_hh_, bias_ih_, bias_hh_;
  std::vector<float> h_, gi_, gh_;
};

class LayerNorm final : public Layer {
 public:
  LayerNorm(int channels, float eps, Weights weight, Weights bias);
  std::string kind() const override { return "layer_norm"; }
  int input_size() const override { return channels_; }
  int output_size() const override { return channels_; }
  bool step(const float* in, float* out) noexcept TIMBREL_REALTIME override;
  float eps() const { return eps_; }
  const Weights& weight() const { return weight_; }
  const Weights& bias() const { return bias_; }

 private:
  int channels_;
  float eps_;
  Weights weight_, bias_;
};

// Nearest code by squared Euclidean distance; ties go to the lowest index, as
// torch.argmin does. Outputs the code vector; last_index() tells which.
class VectorQuantizer final : public Layer {
 public:
  VectorQuantizer(int codes, int dim, Weights codebook);
  std::string kind() const override { return "vq"; }
  int input_size() const override { return dim_; }
  int output_size() const override { return dim_; }
  bool step(const float* in, float* out) noexcept TIMBREL_REALTIME override;
  int nearest(const float* in) const noexcept TIMBREL_REALTIME;
  int last_index() const { return last_index_; }
  int codes() const { return codes_; }
  const float* code(int index) const { return codebook_.data() + size_t(index) * size_t(dim_); }
  const Weights& codebook() const { return codebook_; }

 private:
  int codes_, dim_;
  Weights codebook_;
  int last_index_ = -1;
};

enum class ActivationKind { kRelu, kLeakyRelu, kElu, kTanh, kSigmoid, kSoftplus, kLog1p };

class Activation final : public Layer {
 public:
  // a: LeakyReLU slope, ELU alpha or softplus beta; b: softplus threshold.
  Activation(ActivationKind kind, int size, float a = 0.0f, float b = 0.0f);
  std::string kind() const override;
  int input_size() const override { return size_; }
  int output_size() const override { return size_; }
  bool step(const float* in, float* out) noexcept TIMBREL_REALTIME override;
  ActivationKind activation() const { return kind_; }
  float a() const { return a_; }
  float b() const { return b_; }

 private:
  ActivationKind kind_;
  int size_;
  float a_, b_;
};

// Offline only: [T, C] -> [1, T C].
class Flatten final : public Layer {
 public:
  Flatten(int frames, int channels) : frames_(frames), channels_(channels) {}
  std::string kind() const override { return "flatten"; }
  int input_size() const override { return channels_; }
  int output_size() const override { return frames_ * channels_; }
  bool step(const float*, float*) noexcept TIMBREL_REALTIME override { return false; }
  bool streams() const override { return false; }
  Sequence forward(const Sequence& in) const override;
  int frames() const { return frames_; }

 private:
  int frames_, channels_;
};

// Offline only: [1, F C] -> [F, C], time outer (the inverse of Flatten), so a
// dense layer can feed a convolution over time.
class Unflatten final : public Layer {
 public:
  Unflatten(int frames, int channels) : frames_(frames), channels_(channels) {}
  std::string kind() const override { return "unflatten"; }
  int input_size() const override { return frames_ * channels_; }
  int output_size() const override { return channels_; }
  bool step(const float*, float*) noexcept TIMBREL_REALTIME override { return false; }
  bool streams() const override { return false; }
  Sequence forward(const Sequence& in) const override;
  int frames() const { return frames_; }

 private:
  int frames_, channels_;
};

// y = x + body(x), frame by frame (op 'residual'). The body is a chain of 1 to
// limits::kMaxResidualBody frame-wise layers (linear, layer_norm, activations:
// no state, no nested residual) whose output width equals its input width, so
// a residual streams exactly as its body does. Its scratch is sized when it is
// made: step() does not allocate.
class Residual final : public Layer {
 public:
  // Throws std::invalid_argument with body_problem()'s message when the body is bad.
  explicit Residual(std::vector<std::unique_ptr<Layer>> body);
  std::string kind() const override { return "residual"; }
  int input_size() const override { return width_; }
  int output_size() const override { return width_; }
  bool step(const float* in, float* out) noexcept TIMBREL_REALTIME override;
  void reset() noexcept TIMBREL_REALTIME override;
  bool streams() const override;
  Sequence forward(const Sequence& in) const override;
  size_t body_size() const { return body_.size(); }
  const Layer& body(size_t i) const { return *body_[i]; }

  // Whether an op may stand in a residual body: linear, layer_norm, activations.
  static bool allowed_in_body(const std::string& kind);
  // Empty when `body` is a valid residual body, else what is wrong ("residual
  // body op 1: 'gru' is not allowed ...", "... gives 5 values for an input of 4").
  static std::string body_problem(const std::vector<std::unique_ptr<Layer>>& body);

 private:
  bool stateless() const override { return false; }

  std::vector<std::unique_ptr<Layer>> body_;
  int width_ = 0;
  std::vector<float> scratch_a_, scratch_b_;  // the body's widest layer
};

}  // namespace timbrel::nn
