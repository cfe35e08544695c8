#include "timbrel/dsp/framer.h"

#include <stdexcept>

namespace timbrel::dsp {

BlockFramer::BlockFramer(int hop, int max_block)
    : hop_(hop),
      hop_in_(size_t(std::max(hop, 1)), 0.0f),
      hop_out_(size_t(std::max(hop, 1)), 0.0f),
      out_ring_(size_t(std::max(hop, 1)) * 2 + size_t(std::max(max_block, 1)), 0.0f) {
  if (hop < 1) throw std::invalid_argument("framer hop must be at least 1 sample");
  if (max_block < 1) throw std::invalid_argument("framer block size must be at least 1 sample");
  reset();
}

void BlockFramer::reset() noexcept {
  std::fill(out_ring_.begin(), out_ring_.end(), 0.0f);
  hop_fill_ = 0;
  out_read_ = 0;
  out_count_ = size_t(hop_ - 1);  // the head start, as silence
}

void BlockFramer::push_output(const float* samples, int count) noexcept {
  const size_t size = out_ring_.size();
  size_t write = (out_read_ + out_count_) % size;
  for (int i = 0; i < count; ++i) {
    out_ring_[write] = samples[i];
    write = (write + 1) % size;
  }
  out_count_ += size_t(count);
}

}  // namespace timbrel::dsp
