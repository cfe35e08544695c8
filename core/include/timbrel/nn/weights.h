// The weights of one tensor of a layer: owned (a model read from a .tmbl file)
// or a view into a block that the model keeps alive (a model image,
// nn/model_image.h: adopting one copies no weights). Layers read them through
// data()/size() either way; the process-time code does not know the difference.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <utility>
#include <vector>

namespace timbrel::nn {

class Weights {
 public:
  Weights() = default;
  // Owned. Implicit, so layers can still be built from vectors.
  Weights(std::vector<float> values)  // NOLINT(google-explicit-constructor)
      : owned_(std::move(values)), data_(owned_.data()), size_(owned_.size()) {}
  Weights(std::initializer_list<float> values) : Weights(std::vector<float>(values)) {}
  // Borrowed: `data` must outlive every copy of the result.
  static Weights view(const float* data, std::size_t size) {
    Weights w;
    w.data_ = data;
    w.size_ = size;
    w.view_ = true;
    return w;
  }

  Weights(const Weights& other)
      : owned_(other.owned_),
        data_(other.view_ ? other.data_ : owned_.data()),
        size_(other.size_),
        view_(other.view_) {}
  // A moved vector keeps its buffer, so data_ stays valid.
  Weights(Weights&& other) noexcept
      : owned_(std::move(other.owned_)),
        data_(other.data_),
        size_(other.size_),
        view_(other.view_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  Weights& operator=(Weights other) noexcept {
    swap(other);
    return *this;
  }
  void swap(Weights& other) noexcept {
    owned_.swap(other.owned_);  // buffers change hands, their addresses stay
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(view_, other.view_);
  }

  const float* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool is_view() const noexcept { return view_; }
  const float* begin() const noexcept { return data_; }
  const float* end() const noexcept { return data_ + size_; }
  float operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  std::vector<float> owned_;
  const float* data_ = nullptr;
  std::size_t size_ = 0;
  bool view_ = false;
};

}  // namespace timbrel::nn
