// Turns blocks of any size (the AudioWorklet's 128-frame quanta) into
// hop-sized chunks for a hop processor, and the processor's hops back into
// blocks of the caller's size.
//
// Latency: hop - 1 samples, for every block size. After k blocks of n samples,
// floor(k n / hop) hops have run and produced floor(k n / hop) hop >= k n - hop + 1
// samples, so a head start of hop - 1 samples always covers the block.
#pragma once

#include <algorithm>
#include <vector>

#include "timbrel/realtime.h"

namespace timbrel::dsp {

class BlockFramer {
 public:
  BlockFramer(int hop, int max_block);

  // Real-time safe. process_hop(const float* hop_in, float* hop_out) is called
  // once per completed hop; out receives exactly n samples. n <= max_block.
  template <class HopProcessor>
  void process(const float* in, float* out, int n,
               HopProcessor&& process_hop) noexcept TIMBREL_REALTIME;

  int hop() const { return hop_; }
  int latency_samples() const { return hop_ - 1; }
  void reset() noexcept TIMBREL_REALTIME;

 private:
  void push_output(const float* samples, int count) noexcept TIMBREL_REALTIME;

  int hop_;
  std::vector<float> hop_in_;
  std::vector<float> hop_out_;
  int hop_fill_ = 0;
  std::vector<float> out_ring_;  // finished samples waiting to be read
  size_t out_read_ = 0;
  size_t out_count_ = 0;
};

template <class HopProcessor>
void BlockFramer::process(const float* in, float* out, int n,
                          HopProcessor&& process_hop) noexcept TIMBREL_REALTIME {
  int consumed = 0;
  while (consumed < n) {
    const int take = std::min(n - consumed, hop_ - hop_fill_);
    std::copy(in + consumed, in + consumed + take, hop_in_.begin() + hop_fill_);
    hop_fill_ += take;
    consumed += take;
    if (hop_fill_ == hop_) {
      process_hop(static_cast<const float*>(hop_in_.data()), hop_out_.data());
      push_output(hop_out_.data(), hop_);
      hop_fill_ = 0;
    }
  }
  const size_t size = out_ring_.size();
  for (int i = 0; i < n; ++i) {  // out_count_ >= n by the latency argument above
    out[i] = out_ring_[out_read_];
    out_read_ = (out_read_ + 1) % size;
  }
  out_count_ -= size_t(n);
}

}  // namespace timbrel::dsp
