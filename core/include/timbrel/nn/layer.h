// The layer interface of the inference engine.
//
// Load time: layers are built from a model file (nn/model_file.h), which
// allocates. Process time: step() runs one time step, allocation-free,
// carrying state (GRU hidden state, convolution history) across calls.
// forward() runs a whole sequence offline from a zero state, for parity tests
// and offline renders; it allocates and leaves the streaming state alone.
#pragma once

#include <string>
#include <vector>

#include "timbrel/realtime.h"

namespace timbrel::nn {

// A time-major sequence [frames, channels].
struct Sequence {
  int frames = 0;
  int channels = 0;
  std::vector<float> data;

  Sequence() = default;
  Sequence(int frames_, int channels_)
      : frames(frames_), channels(channels_), data(size_t(frames_) * size_t(channels_), 0.0f) {}
  float* frame(int t) { return data.data() + size_t(t) * size_t(channels); }
  const float* frame(int t) const { return data.data() + size_t(t) * size_t(channels); }
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string kind() const = 0;
  virtual int input_size() const = 0;
  virtual int output_size() const = 0;

  // Real-time safe. in: input_size() values, out: output_size() values.
  // Returns false when this step produced no output (a strided convolution
  // between outputs); later layers are then skipped for this step.
  virtual bool step(const float* in, float* out) noexcept TIMBREL_REALTIME = 0;
  virtual void reset() noexcept TIMBREL_REALTIME {}
  virtual bool streams() const { return true; }

  // Offline, from a zero state. Default: step() over every frame of a copy.
  virtual Sequence forward(const Sequence& in) const;

 protected:
  // Layers without state can run step() on themselves in forward().
  virtual bool stateless() const { return true; }
};

}  // namespace timbrel::nn
