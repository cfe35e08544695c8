// The worklet's side of a model image hand-over (nn/model_image.h): the page
// prepares the image off the audio thread (prepareModel, model_bindings.cpp),
// then, on the audio thread,
//   const at = kernel.beginImage(image.byteLength);   // 0: kernel.error() says why
//   HEAPU8.set(slice, at + offset)                     // at most 256 KiB per quantum
//   kernel.adoptImage()                                // "" or the error
// (kernel.cancelImage() drops an unfinished one). beginImage allocates, so
// the page re-makes its heap views after it.
#pragma once

#include <emscripten/bind.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "timbrel/nn/model_image.h"

namespace timbrel::wasm {

class ImageStaging {
 public:
  // The block's address in the heap, or 0 (error() says why).
  std::uintptr_t begin(double byte_length) {
    block_ = nn::ImageBlock();  // an unfinished earlier one is dropped
    const bool in_range = byte_length >= 1 && byte_length <= double(nn::kMaxModelImageSize) &&
                          byte_length == std::floor(byte_length);
    if (in_range) block_ = nn::ImageBlock::allocate(std::size_t(byte_length));
    if (block_.empty()) {
      error_ = in_range ? "cannot allocate " + std::to_string(std::uint64_t(byte_length)) +
                              " bytes for the model image (out of memory)"
                        : "a model image holds 1 to " + std::to_string(nn::kMaxModelImageSize) +
                              " bytes, got " + std::to_string(byte_length);
      return 0;
    }
    error_.clear();
    return reinterpret_cast<std::uintptr_t>(block_.data());
  }
  // The filled block (empty when begin() was not called or failed).
  nn::ImageBlock take() { return std::move(block_); }
  void cancel() { block_ = nn::ImageBlock(); }
  const std::string& error() const { return error_; }

 private:
  nn::ImageBlock block_;
  std::string error_;
};

// beginImage(byteLength), adoptImage() and cancelImage() on a kernel class
// with `ImageStaging& staging()` and `std::string adopt(nn::ImageBlock)`.
template <class Kernel>
void bind_image_api(const emscripten::class_<Kernel>& kernel) {
  using emscripten::optional_override;
  kernel.function("beginImage", optional_override([](Kernel& k, double byte_length) {
                    return k.staging().begin(byte_length);
                  }));
  kernel.function("adoptImage", optional_override([](Kernel& k) -> std::string {
                    nn::ImageBlock block = k.staging().take();
                    if (block.empty()) return "no model image: call beginImage first";
                    return k.adopt(std::move(block));
                  }));
  kernel.function("cancelImage", optional_override([](Kernel& k) { k.staging().cancel(); }));
}

}  // namespace timbrel::wasm
