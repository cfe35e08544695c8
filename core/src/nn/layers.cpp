#include "timbrel/nn/layers.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "timbrel/nn/model_limits.h"
#include "timbrel/simd/kernels.h"

namespace timbrel::nn {

Sequence Layer::forward(const Sequence& in) const {
  if (!stateless()) throw std::logic_error(kind() + " must implement forward()");
  // A stateless layer's step() touches no member, so running it here is safe.
  auto* self = const_cast<Layer*>(this);
  Sequence out(in.frames, output_size());
  for (int t = 0; t < in.frames; ++t) self->step(in.frame(t), out.frame(t));
  return out;
}

// --- Linear ---------------------------------------------------------------

namespace {
// An absent bias (the op named none) is zeros: stored, so every step adds it.
Weights or_zeros(Weights bias, int size) {
  return bias.empty() ? Weights(std::vector<float>(size_t(size), 0.0f)) : std::move(bias);
}
}  // namespace

Linear::Linear(int in, int out, Weights weight, Weights bias)
    : in_(in), out_(out), weight_(std::move(weight)), bias_(or_zeros(std::move(bias), out)) {}

bool Linear::step(const float* in, float* out) noexcept {
  std::copy(bias_.begin(), bias_.end(), out);
  simd::matvec_accumulate(weight_.data(), in, out, out_, in_);
  return true;
}

// --- Conv1d ---------------------------------------------------------------

Conv1d::Conv1d(const Shape& shape, Weights weight, Weights bias)
    : shape_(shape),
      weight_(std::move(weight)),
      bias_(or_zeros(std::move(bias), shape.out)),
      // Checked against nn::limits by both loaders; computed wide all the same.
      span_(int(std::int64_t(shape.kernel - 1) * shape.dilation + 1)),
      history_(size_t(span_) * size_t(shape.in), 0.0f),
      taps_(size_t(shape.kernel), nullptr) {}

void Conv1d::reset() noexcept {
  std::fill(history_.begin(), history_.end(), 0.0f);
  received_ = 0;
}

void Conv1d::compute(const float* const* taps, float* out) const noexcept {
  std::copy(bias_.begin(), bias_.end(), out);
  const size_t matrix = size_t(shape_.out) * size_t(shape_.in);
  for (int j = 0; j < shape_.kernel; ++j)
    if (taps[j])
      simd::matvec_accumulate(weight_.data() + size_t(j) * matrix, taps[j], out, shape_.out,
                              shape_.in);
}

bool Conv1d::step(const float* in, float* out) noexcept {
  const std::int64_t i = received_++;
  std::copy(in, in + shape_.in, history_.begin() + size_t(i % span_) * size_t(shape_.in));
  // Output t reads inputs t stride - padding_left + j dilation; the newest is i.
  const std::int64_t first = i - std::int64_t(span_ - 1);  // input index of tap 0
  const std::int64_t shifted = first + shape_.padding_left;
  if (shifted < 0 || shifted % shape_.stride != 0) return false;
  for (int j = 0; j < shape_.kernel; ++j) {
    const std::int64_t index = first + std::int64_t(j) * shape_.dilation;
    taps_[size_t(j)] =
        index < 0 ? nullptr : history_.data() + size_t(index % span_) * size_t(shape_.in);
  }
  compute(taps_.data(), out);
  return true;
}

Sequence Conv1d::forward(const Sequence& in) const {
  const std::int64_t padded = std::int64_t(in.frames) + shape_.padding_left + shape_.padding_right;
  const std::int64_t frames = padded < span_ ? 0 : (padded - span_) / shape_.stride + 1;
  Sequence out(int(frames), shape_.out);
  std::vector<const float*> taps(size_t(shape_.kernel));
  for (std::int64_t t = 0; t < frames; ++t) {
    for (int j = 0; j < shape_.kernel; ++j) {
      const std::int64_t index =
          t * shape_.stride - shape_.padding_left + std::int64_t(j) * shape_.dilation;
      taps[size_t(j)] = (index < 0 || index >= in.frames) ? nullptr : in.frame(int(index));
    }
    compute(taps.data(), out.frame(int(t)));
  }
  return out;
}

// --- GRU ------------------------------------------------------------------

namespace {
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
}  // namespace

Gru::Gru(int in, int hidden, Weights weight_ih, Weights weight_hh, Weights bias_ih, Weights bias_hh)
    : in_(in),
      hidden_(hidden),
      weight_ih_(std::move(weight_ih)),
      weight_hh_(std::move(weight_hh)),
      bias_ih_(or_zeros(std::move(bias_ih), 3 * hidden)),
      bias_hh_(or_zeros(std::move(bias_hh), 3 * hidden)),
      h_(size_t(hidden), 0.0f),
      gi_(size_t(3 * hidden), 0.0f),
      gh_(size_t(3 * hidden), 0.0f) {}

void Gru::reset() noexcept { std::fill(h_.begin(), h_.end(), 0.0f); }

void Gru::update(const float* x, float* h, float* gi, float* gh) const noexcept {
  const int n = hidden_;
  std::copy(bias_ih_.begin(), bias_ih_.end(), gi);
  std::copy(bias_hh_.begin(), bias_hh_.end(), gh);
  simd::matvec_accumulate(weight_ih_.data(), x, gi, 3 * n, in_);
  simd::matvec_accumulate(weight_hh_.data(), h, gh, 3 * n, n);
  for (int k = 0; k < n; ++k) {
    const float r = sigmoid(gi[k] + gh[k]);
    const float z = sigmoid(gi[n + k] + gh[n + k]);
    const float candidate = std::tanh(gi[2 * n + k] + r * gh[2 * n + k]);
    h[k] = (1.0f - z) * candidate + z * h[k];
  }
}

bool Gru::step(const float* in, float* out) noexcept {
  update(in, h_.data(), gi_.data(), gh_.data());
  std::copy(h_.begin(), h_.end(), out);
  return true;
}

Sequence Gru::forward(const Sequence& in) const {
  Sequence out(in.frames, hidden_);
  std::vector<float> h(size_t(hidden_), 0.0f), gi(size_t(3 * hidden_)), gh(size_t(3 * hidden_));
  for (int t = 0; t < in.frames; ++t) {
    update(in.frame(t), h.data(), gi.data(), gh.data());
    std::copy(h.begin(), h.end(), out.frame(t));
  }
  return out;
}

std::uint64_t Gru::fusion_work(const Linear& projection) const {
  return 3 * std::uint64_t(hidden_) * std::uint64_t(projection.input_size()) * std::uint64_t(in_);
}

std::unique_ptr<Gru> Gru::fold_input_projection(const Linear& projection) const {
  const int rows = 3 * hidden_, inner = in_, in = projection.input_size();
  if (projection.output_size() != in_) return nullptr;
  // 64-bit: `long` is 32 bits in WebAssembly, where these products overflowed.
  const std::int64_t before = std::int64_t(inner) * in + std::int64_t(rows) * inner,
                     after = std::int64_t(rows) * in;
  if (after >= before) return nullptr;
  std::vector<float> weight(size_t(rows) * size_t(in)), bias(static_cast<size_t>(rows));
  const auto& w = projection.weight();
  const auto& b = projection.bias();
  for (int r = 0; r < rows; ++r) {
    const float* wih = weight_ih_.data() + size_t(r) * size_t(inner);
    double bias_sum = bias_ih_[size_t(r)];
    for (int k = 0; k < inner; ++k) bias_sum += double(wih[k]) * b[size_t(k)];
    bias[size_t(r)] = float(bias_sum);
    for (int c = 0; c < in; ++c) {
      double sum = 0.0;
      for (int k = 0; k < inner; ++k) sum += double(wih[k]) * w[size_t(k) * size_t(in) + size_t(c)];
      weight[size_t(r) * size_t(in) + size_t(c)] = float(sum);
    }
  }
  return std::make_unique<Gru>(in, hidden_, std::move(weight), weight_hh_, std::move(bias),
                               bias_hh_);
}

// --- LayerNorm ------------------------------------------------------------

LayerNorm::LayerNorm(int channels, float eps, Weights weight, Weights bias)
    : channels_(channels), eps_(eps), weight_(std::move(weight)), bias_(std::move(bias)) {}

bool LayerNorm::step(const float* in, float* out) noexcept {
  double mean = 0.0;
  for (int c = 0; c < channels_; ++c) mean += in[c];
  mean /= channels_;
  double variance = 0.0;
  for (int c = 0; c < channels_; ++c) variance += (in[c] - mean) * (in[c] - mean);
  variance /= channels_;  // biased, as PyTorch
  const double scale = 1.0 / std::sqrt(variance + double(eps_));
  for (int c = 0; c < channels_; ++c)
    out[c] = float((in[c] - mean) * scale) * weight_[size_t(c)] + bias_[size_t(c)];
  return true;
}

// --- VectorQuantizer ------------------------------------------------------

VectorQuantizer::VectorQuantizer(int codes, int dim, Weights codebook)
    : codes_(codes), dim_(dim), codebook_(std::move(codebook)) {}

int VectorQuantizer::nearest(const float* in) const noexcept {
  int best = 0;
  float best_distance = 0.0f;
  for (int k = 0; k < codes_; ++k) {
    const float* e = code(k);
    float distance = 0.0f;
    for (int d = 0; d < dim_; ++d) {
      const float diff = in[d] - e[d];
      distance += diff * diff;
    }
    if (k == 0 || distance < best_distance) {  // strict: ties keep the lowest index
      best = k;
      best_distance = distance;
    }
  }
  return best;
}

bool VectorQuantizer::step(const float* in, float* out) noexcept {
  last_index_ = nearest(in);
  const float* e = code(last_index_);
  std::copy(e, e + dim_, out);
  return true;
}

// --- Activation -----------------------------------------------------------

Activation::Activation(ActivationKind kind, int size, float a, float b)
    : kind_(kind), size_(size), a_(a), b_(b) {}

std::string Activation::kind() const {
  switch (kind_) {
    case ActivationKind::kRelu:
      return "relu";
    case ActivationKind::kLeakyRelu:
      return "leaky_relu";
    case ActivationKind::kElu:
      return "elu";
    case ActivationKind::kTanh:
      return "tanh";
    case ActivationKind::kSigmoid:
      return "sigmoid";
    case ActivationKind::kSoftplus:
      return "softplus";
    case ActivationKind::kLog1p:
      return "log1p";
  }
  return "?";
}

bool Activation::step(const float* in, float* out) noexcept {
  switch (kind_) {
    case ActivationKind::kRelu:
      for (int i = 0; i < size_; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
      break;
    case ActivationKind::kLeakyRelu:
      for (int i = 0; i < size_; ++i) out[i] = in[i] > 0.0f ? in[i] : a_ * in[i];
      break;
    case ActivationKind::kElu:
      for (int i = 0; i < size_; ++i) out[i] = in[i] > 0.0f ? in[i] : a_ * std::expm1(in[i]);
      break;
    case ActivationKind::kTanh:
      for (int i = 0; i < size_; ++i) out[i] = std::tanh(in[i]);
      break;
    case ActivationKind::kSigmoid:
      for (int i = 0; i < size_; ++i) out[i] = sigmoid(in[i]);
      break;
    case ActivationKind::kSoftplus:  // PyTorch: linear above threshold / beta
      for (int i = 0; i < size_; ++i)
        out[i] = a_ * in[i] > b_ ? in[i] : std::log1p(std::exp(a_ * in[i])) / a_;
      break;
    case ActivationKind::kLog1p:
      for (int i = 0; i < size_; ++i) out[i] = std::log1p(in[i]);
      break;
  }
  return true;
}

// --- Flatten --------------------------------------------------------------

Sequence Flatten::forward(const Sequence& in) const {
  if (in.frames != frames_ || in.channels != channels_)
    throw std::invalid_argument("flatten expects " + std::to_string(frames_) + " frames of " +
                                std::to_string(channels_) + " channels, got " +
                                std::to_string(in.frames) + " x " + std::to_string(in.channels));
  Sequence out(1, frames_ * channels_);
  out.data = in.data;
  return out;
}

// --- Unflatten ------------------------------------------------------------

Sequence Unflatten::forward(const Sequence& in) const {
  if (in.frames != 1 || in.channels != frames_ * channels_)
    throw std::invalid_argument("unflatten expects 1 frame of " +
                                std::to_string(frames_ * channels_) + " values, got " +
                                std::to_string(in.frames) + " x " + std::to_string(in.channels));
  Sequence out(frames_, channels_);
  out.data = in.data;  // row-major [1, F C] is already [F, C], time outer
  return out;
}

// --- Residual -------------------------------------------------------------

bool Residual::allowed_in_body(const std::string& kind) {
  return kind == "linear" || kind == "layer_norm" || kind == "relu" || kind == "leaky_relu" ||
         kind == "elu" || kind == "tanh" || kind == "sigmoid" || kind == "softplus" ||
         kind == "log1p";
}

std::string Residual::body_problem(const std::vector<std::unique_ptr<Layer>>& body) {
  if (auto p = limits::residual_body_problem(std::int64_t(body.size())); !p.empty()) return p;
  for (size_t i = 0; i < body.size(); ++i) {
    if (!body[i]) return "residual body op " + std::to_string(i) + " is missing";
    const std::string kind = body[i]->kind();
    if (!allowed_in_body(kind))
      return "residual body op " + std::to_string(i) + ": '" + kind +
             "' is not allowed in a residual body (frame-wise ops only: linear, layer_norm, "
             "activations)";
    if (i > 0 && body[i]->input_size() != body[i - 1]->output_size())
      return "residual body op " + std::to_string(i) + ": " + kind + " expects " +
             std::to_string(body[i]->input_size()) + " inputs but the op before gives " +
             std::to_string(body[i - 1]->output_size());
  }
  const int in = body.front()->input_size(), out = body.back()->output_size();
  if (in != out)
    return "residual body gives " + std::to_string(out) + " values for an input of " +
           std::to_string(in) + ": y = x + body(x) needs the same width";
  return "";
}

Residual::Residual(std::vector<std::unique_ptr<Layer>> body) : body_(std::move(body)) {
  if (auto problem = body_problem(body_); !problem.empty()) throw std::invalid_argument(problem);
  width_ = body_.front()->input_size();
  size_t widest = size_t(width_);
  for (const auto& l : body_) widest = std::max(widest, size_t(l->output_size()));
  scratch_a_.assign(widest, 0.0f);
  scratch_b_.assign(widest, 0.0f);
}

bool Residual::step(const float* in, float* out) noexcept {
  const float* x = in;
  float* buffers[2] = {scratch_a_.data(), scratch_b_.data()};
  for (size_t i = 0; i < body_.size(); ++i) {
    float* y = buffers[i % 2];
    if (!body_[i]->step(x, y)) return false;
    x = y;
  }
  // x is scratch, never `in` or `out`: correct even when the caller passes in == out.
  for (int c = 0; c < width_; ++c) out[c] = in[c] + x[c];
  return true;
}

void Residual::reset() noexcept {
  for (auto& l : body_) l->reset();
}

bool Residual::streams() const {
  return std::all_of(body_.begin(), body_.end(), [](const auto& l) { return l->streams(); });
}

Sequence Residual::forward(const Sequence& in) const {
  if (in.channels != width_)
    throw std::invalid_argument("residual expects " + std::to_string(width_) + " channels, got " +
                                std::to_string(in.channels));
  Sequence x = in;
  for (const auto& l : body_) x = l->forward(x);
  for (size_t i = 0; i < x.data.size(); ++i) x.data[i] = in.data[i] + x.data[i];
  return x;
}

}  // namespace timbrel::nn
