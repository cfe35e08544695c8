#include "timbrel/dsp/sample_fifo.h"

#include <algorithm>

namespace timbrel::dsp {

SampleFifo::SampleFifo(std::size_t capacity) : ring_(capacity, 0.0f) {}

std::size_t SampleFifo::push(const float* samples, std::size_t count) noexcept {
  const std::size_t size = ring_.size();
  const std::size_t accepted = std::min(count, size - count_);
  if (accepted == 0) return 0;
  // The free space starts after the queued samples and may wrap once.
  const std::size_t write = (read_ + count_) % size;
  const std::size_t first = std::min(accepted, size - write);
  std::copy(samples, samples + first, ring_.begin() + std::ptrdiff_t(write));
  std::copy(samples + first, samples + accepted, ring_.begin());
  count_ += accepted;
  return accepted;
}

std::size_t SampleFifo::pop(float* out, std::size_t n) noexcept {
  const std::size_t taken = std::min(n, count_);
  if (taken > 0) {
    const std::size_t size = ring_.size();
    const std::size_t first = std::min(taken, size - read_);
    std::copy(ring_.begin() + std::ptrdiff_t(read_), ring_.begin() + std::ptrdiff_t(read_ + first),
              out);
    std::copy(ring_.begin(), ring_.begin() + std::ptrdiff_t(taken - first), out + first);
    read_ = (read_ + taken) % size;
    count_ -= taken;
  }
  std::fill(out + taken, out + n, 0.0f);
  return n - taken;
}

void SampleFifo::reset(std::size_t leading_silence) noexcept {
  read_ = 0;
  count_ = std::min(leading_silence, ring_.size());
  std::fill(ring_.begin(), ring_.begin() + std::ptrdiff_t(count_), 0.0f);
}

}  // namespace timbrel::dsp
