// A model image: one flat, versioned buffer holding a loaded model in its
// run-time form, so that a thread that must not wait (the AudioWorklet) can
// take a model that another thread (a Worker, the page's main thread) read,
// checked and laid out. Adopting an image costs O(layers) plus a few small
// allocations: the layers view their weights inside the image (no copy), and
// nothing that scales with the weights runs (no CRC over them, no Linear->GRU
// fusion: the image holds the fused weights; no JSON beyond the small metadata).
//
// Layout (little-endian; offsets from the image start):
//   0    header (80 bytes): magic "TMBI", version, total size, arena offset and
//        size, structure size and its CRC-32, counts of graphs, layers and
//        prepared arrays, the size of the string pool, and string references
//        (offset, length) of the family, the name and the metadata JSON
//   80   graph records (16 bytes each): name, first layer, layer count
//        layer records (128 bytes each): kind, tensor count, 8 integers (sizes,
//        stride...), 4 reals (slope, eps...), then per tensor (at most 4) its
//        arena offset and float count
//        prepared-array records (32 bytes each): name, arena offset, float count
//        string pool
//   A    the arena, A = the structure size rounded up to 16: every tensor and
//        prepared array, 16-byte aligned, in record order, never overlapping
// The CRC-32 covers the structure (header to string pool, with the CRC field
// read as 0), so a flipped byte there is always caught; the arena is not
// checksummed (that would cost as much as the copy): its bytes are any floats,
// which no check depends on. Every count, size and offset is checked with
// 64-bit arithmetic against the buffer's length before it is used: a bad image
// gives an error message, never undefined behaviour.
//
// Prepared arrays are what a model family computes once per model at load
// (models/prepared_model.h: the descriptor table's columns, the XY pad's
// anchors...), named by the family and stored so that adoption skips the work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/nn/model_file.h"

namespace timbrel::nn {

constexpr std::uint32_t kModelImageVersion = 1;
constexpr std::size_t kModelImageHeaderSize = 80;
// The largest image a kernel accepts (the page's largest model is ~9 MB).
constexpr std::size_t kMaxModelImageSize = std::size_t(1) << 30;

// A 16-byte aligned heap block: the staging buffer an image is copied into
// and that the adopted Model then owns. Never throws.
class ImageBlock {
 public:
  ImageBlock() = default;
  // An empty block when size is 0, over kMaxModelImageSize or out of memory.
  static ImageBlock allocate(std::size_t size) noexcept;
  std::uint8_t* data() noexcept { return data_.get(); }
  const std::uint8_t* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return !data_; }

 private:
  struct Free {
    void operator()(std::uint8_t* p) const noexcept;
  };
  std::unique_ptr<std::uint8_t, Free> data_;
  std::size_t size_ = 0;
};

struct ImageExtras {
  // Replaces the model's metadata in the image when not empty (a family
  // strips what it stores as prepared arrays instead).
  std::string metadata_json;
  // Added to the model's own prepared arrays.
  std::map<std::string, std::vector<float>> arrays;
};

// The image of a loaded (or adopted) model: its graphs as they run (after
// fusion), metadata and prepared arrays.
std::vector<std::uint8_t> write_model_image(const Model& model, const ImageExtras& extras = {});

// Takes the block (which holds a whole image) and builds a Model whose layers
// view their weights inside it; on error the block is freed and the message
// says what is wrong ("model image: ..."). Never throws.
LoadResult adopt_model_image(ImageBlock block);
// The same from bytes: copies them into a new block first (tests, tools).
LoadResult load_model_image(const std::uint8_t* bytes, std::size_t size);

}  // namespace timbrel::nn
