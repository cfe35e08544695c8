// A fixed-capacity FIFO of audio samples: the device-rate output queue of the
// streaming engines (resampled hops go in, blocks of the caller's size come out).
//
// Real-time rules: only the constructor allocates; push(), pop() and reset()
// never allocate, lock or throw. Not thread-safe: one thread pushes and pops.
#pragma once

#include <cstddef>
#include <vector>

#include "timbrel/realtime.h"

namespace timbrel::dsp {

class SampleFifo {
 public:
  // Room for `capacity` samples, fixed for the FIFO's life (0 is allowed: it
  // then holds nothing and drops every push).
  explicit SampleFifo(std::size_t capacity);

  // Appends as many of the count samples as fit; returns how many did (the
  // rest are dropped).
  std::size_t push(const float* samples, std::size_t count) noexcept TIMBREL_REALTIME;
  // Writes n samples to out, oldest first; when fewer than n are queued, the
  // missing ones are silence at the end of out. Returns the number of silent
  // samples written (the underrun), 0 when the FIFO held n or more.
  std::size_t pop(float* out, std::size_t n) noexcept TIMBREL_REALTIME;
  // Empties the FIFO and queues `leading_silence` zeros (at most the
  // capacity): a head start that absorbs jitter in what is pushed per block.
  void reset(std::size_t leading_silence = 0) noexcept TIMBREL_REALTIME;

  std::size_t size() const { return count_; }
  std::size_t capacity() const { return ring_.size(); }
  bool empty() const { return count_ == 0; }

 private:
  std::vector<float> ring_;
  std::size_t read_ = 0;
  std::size_t count_ = 0;
};

}  // namespace timbrel::dsp
