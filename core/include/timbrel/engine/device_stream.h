// The audio-device side of the streaming engines: one DeviceSpec (the device's
// sample rate and the largest block the caller hands over) and the two ways an
// engine meets the device, so that none of them repeats the resampler, hop and
// FIFO set-up:
//
//   HopStream (VoiceTransfer, ListenAnalyzer): device blocks in -> resample to
//     the model rate -> framer hops -> the engine's hop processor -> resample
//     back -> FIFO (a small head start) -> device blocks out.
//   HopsToDevice (MidiPlayer, DrawPlayer): the engine makes model-rate hops on
//     demand -> resample -> FIFO -> device blocks out.
//
// At a device rate equal to the model rate both skip the resamplers (and
// HopStream the FIFO): the framer then runs on the device blocks directly.
//
// Real-time rules: the constructors allocate; process(), pull() and reset()
// never allocate, lock, throw or log.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "timbrel/dsp/framer.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/dsp/sample_fifo.h"
#include "timbrel/realtime.h"

namespace timbrel::engine {

struct DeviceSpec {
  double device_rate = 48000.0;  // a whole number of Hz, 8000-192000
  int max_block = 128;           // the largest block process() will be given, 1-8192
};

inline int whole_rate(double rate) { return int(std::lround(rate)); }

// Empty when the device rate is a whole number of Hz from 8000 to 192000 and
// max_block is 1-8192 samples, else what is wrong.
std::string validate(const DeviceSpec& device);

// For the engines' constructors: the configuration, or std::invalid_argument
// with Engine::validate()'s message.
template <class Engine, class Config>
const Config& checked_config(const Config& config) {
  if (auto problem = Engine::validate(config); !problem.empty())
    throw std::invalid_argument(problem);
  return config;
}

class HopStream {
 public:
  // Head start of the output FIFO when resampling: absorbs the +-1-2 samples
  // by which the resamplers' output per block wanders around the block size.
  static constexpr int kHeadStart = 8;

  // device must pass validate(); model_rate in Hz, hop in model samples.
  HopStream(const DeviceSpec& device, int model_rate, int hop);

  // process_hop(const float* hop_in, float* hop_out) per completed model-rate
  // hop; out receives n <= max_block device samples. in and out may alias.
  template <class ProcessHop>
  void process(const float* in, float* out, int n,
               ProcessHop&& process_hop) noexcept TIMBREL_REALTIME;
  // Empties the resamplers, framer and FIFO (the FIFO keeps its head start).
  void reset() noexcept TIMBREL_REALTIME;

  bool resampling() const { return resampling_; }
  // Input sample to output sample at the device rate, for a hop processor that
  // adds model_delay model-rate samples of its own: the resamplers' filter
  // delays, the framer's hop - 1 samples and the head start.
  int latency_samples(int model_delay) const;
  // Output samples that had to be silence because the resamplers fell behind,
  // and resampled samples dropped for lack of room: zero in steady state.
  long underruns() const { return underruns_; }
  long overruns() const { return overruns_; }

 private:
  DeviceSpec device_;
  int model_rate_;
  bool resampling_;
  std::unique_ptr<dsp::StreamingResampler> to_model_, to_device_;  // null without resampling
  dsp::BlockFramer framer_;
  std::vector<float> model_in_, model_out_, device_out_;
  dsp::SampleFifo fifo_;
  long underruns_ = 0, overruns_ = 0;
};

class HopsToDevice {
 public:
  // device must pass validate(); model_rate in Hz, hop in model samples.
  HopsToDevice(const DeviceSpec& device, int model_rate, int hop);

  // out receives n <= max_block device samples; while fewer are queued,
  // make_hop(float* hop) fills one hop of model-rate samples.
  template <class MakeHop>
  void pull(float* out, int n, MakeHop&& make_hop) noexcept TIMBREL_REALTIME;
  void reset() noexcept TIMBREL_REALTIME;
  bool empty() const { return fifo_.empty(); }

  // The upsampler's filter delay in model samples (0 without resampling) and
  // the most device samples one hop becomes.
  double resampler_delay() const;
  int device_hop() const { return int(device_hop_.size()); }

 private:
  std::unique_ptr<dsp::StreamingResampler> to_device_;  // null at the model rate
  std::vector<float> hop_, device_hop_;
  dsp::SampleFifo fifo_;
};

template <class ProcessHop>
void HopStream::process(const float* in, float* out, int n,
                        ProcessHop&& process_hop) noexcept TIMBREL_REALTIME {
  if (!resampling_) {
    framer_.process(in, out, n, process_hop);
    return;
  }
  const int model_count = to_model_->process(in, n, model_in_.data());
  framer_.process(model_in_.data(), model_out_.data(), model_count, process_hop);
  const int produced = to_device_->process(model_out_.data(), model_count, device_out_.data());
  // Drops cannot happen with the sizes chosen; they are counted if they do.
  overruns_ += produced - long(fifo_.push(device_out_.data(), std::size_t(produced)));
  underruns_ += long(fifo_.pop(out, std::size_t(n)));
}

template <class MakeHop>
void HopsToDevice::pull(float* out, int n, MakeHop&& make_hop) noexcept TIMBREL_REALTIME {
  while (fifo_.size() < std::size_t(n)) {
    make_hop(hop_.data());
    if (!to_device_) {
      fifo_.push(hop_.data(), hop_.size());
      continue;
    }
    const int produced = to_device_->process(hop_.data(), int(hop_.size()), device_hop_.data());
    fifo_.push(device_hop_.data(), std::size_t(produced));
  }
  fifo_.pop(out, std::size_t(n));
}

}  // namespace timbrel::engine
