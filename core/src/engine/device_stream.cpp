#include "timbrel/engine/device_stream.h"

namespace timbrel::engine {

std::string validate(const DeviceSpec& device) {
  const double rate = device.device_rate;
  if (!(rate >= 8000.0 && rate <= 192000.0) || std::fabs(rate - whole_rate(rate)) > 1e-6)
    return "the audio device runs at " +
           (std::isfinite(rate) ? std::to_string(whole_rate(rate)) : "NaN") +
           " Hz; supported rates are whole numbers from 8000 to 192000 Hz";
  if (device.max_block < 1 || device.max_block > 8192)
    return "audio block size must be between 1 and 8192 samples, got " +
           std::to_string(device.max_block);
  return "";
}

namespace {

// The most model-rate samples one device block becomes (a little slack for
// the resampler's rounding).
int model_block_capacity(const DeviceSpec& device, int model_rate, bool resampling) {
  if (!resampling) return device.max_block;
  return int(std::ceil(device.max_block * double(model_rate) / device.device_rate)) + 4;
}

}  // namespace

HopStream::HopStream(const DeviceSpec& device, int model_rate, int hop)
    : device_(device),
      model_rate_(model_rate),
      resampling_(whole_rate(device.device_rate) != model_rate),
      to_model_(resampling_ ? std::make_unique<dsp::StreamingResampler>(
                                  whole_rate(device.device_rate), model_rate, device.max_block)
                            : nullptr),
      to_device_(resampling_ ? std::make_unique<dsp::StreamingResampler>(
                                   model_rate, whole_rate(device.device_rate),
                                   model_block_capacity(device, model_rate, true))
                             : nullptr),
      framer_(hop, model_block_capacity(device, model_rate, resampling_)),
      model_in_(size_t(model_block_capacity(device, model_rate, resampling_)), 0.0f),
      model_out_(model_in_.size(), 0.0f),
      device_out_(resampling_ ? size_t(to_device_->max_output(int(model_in_.size()))) : 0, 0.0f),
      fifo_(resampling_ ? size_t(4 * device.max_block + 64 + kHeadStart) : 0) {
  reset();
}

void HopStream::reset() noexcept TIMBREL_REALTIME {
  if (to_model_) to_model_->reset();
  if (to_device_) to_device_->reset();
  framer_.reset();
  fifo_.reset(resampling_ ? kHeadStart : 0);
}

int HopStream::latency_samples(int model_delay) const {
  const int model_side = framer_.latency_samples() + model_delay;
  if (!resampling_) return model_side;
  const double ratio = device_.device_rate / model_rate_;
  const double down = to_model_->latency_input_samples();         // device samples
  const double up = to_device_->latency_input_samples() * ratio;  // model -> device
  return int(std::lround(down + model_side * ratio + up + kHeadStart));
}

HopsToDevice::HopsToDevice(const DeviceSpec& device, int model_rate, int hop)
    : to_device_(whole_rate(device.device_rate) == model_rate
                     ? nullptr
                     : std::make_unique<dsp::StreamingResampler>(
                           model_rate, whole_rate(device.device_rate), hop)),
      hop_(size_t(hop), 0.0f),
      device_hop_(size_t(to_device_ ? to_device_->max_output(hop) : hop), 0.0f),
      fifo_(size_t(device.max_block) + device_hop_.size() + 16) {}

void HopsToDevice::reset() noexcept TIMBREL_REALTIME {
  if (to_device_) to_device_->reset();
  fifo_.reset();
}

double HopsToDevice::resampler_delay() const {
  return to_device_ ? to_device_->latency_input_samples() : 0.0;
}

}  // namespace timbrel::engine
