#include "timbrel/dsp/resampler.h"

#include <speex/speex_resampler.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace timbrel::dsp {

struct StreamingResampler::State {
  SpeexResamplerState* speex = nullptr;
  ~State() {
    if (speex) speex_resampler_destroy(speex);
  }
};

StreamingResampler::StreamingResampler(int input_rate, int output_rate, int max_input_block,
                                       int quality)
    : input_rate_(input_rate),
      output_rate_(output_rate),
      max_input_block_(max_input_block),
      state_(std::make_unique<State>()) {
  if (input_rate < 1000 || input_rate > 384000 || output_rate < 1000 || output_rate > 384000)
    throw std::invalid_argument("resampler rates must be between 1000 and 384000 Hz, got " +
                                std::to_string(input_rate) + " -> " + std::to_string(output_rate));
  if (max_input_block < 1) throw std::invalid_argument("resampler block must be >= 1 sample");
  int error = 0;
  state_->speex =
      speex_resampler_init(1, spx_uint32_t(input_rate), spx_uint32_t(output_rate), quality, &error);
  if (!state_->speex || error != RESAMPLER_ERR_SUCCESS)
    throw std::invalid_argument(std::string("speexdsp resampler: ") +
                                speex_resampler_strerror(error));
}

StreamingResampler::~StreamingResampler() = default;
StreamingResampler::StreamingResampler(StreamingResampler&&) noexcept = default;
StreamingResampler& StreamingResampler::operator=(StreamingResampler&&) noexcept = default;

int StreamingResampler::max_output(int n) const {
  // speex emits at most ceil(n * out / in) + 1 samples for n inputs.
  return int((long long)(n)*output_rate_ / input_rate_) + 2;
}

int StreamingResampler::process(const float* in, int n, float* out) noexcept {
  spx_uint32_t in_len = spx_uint32_t(n);
  spx_uint32_t out_len = spx_uint32_t(max_output(n));
  speex_resampler_process_float(state_->speex, 0, in, &in_len, out, &out_len);
  return int(out_len);
}

double StreamingResampler::latency_input_samples() const {
  return speex_resampler_get_input_latency(state_->speex);
}

void StreamingResampler::reset() noexcept { speex_resampler_reset_mem(state_->speex); }

}  // namespace timbrel::dsp

namespace timbrel::dsp {

std::vector<float> resample(const std::vector<float>& input, int input_rate, int output_rate) {
  if (input_rate == output_rate) return input;
  constexpr int kBlock = 4096;
  StreamingResampler resampler(input_rate, output_rate, kBlock);
  const auto wanted = size_t(std::llround(double(input.size()) * output_rate / input_rate));
  const auto delay =
      size_t(std::llround(resampler.latency_input_samples() * output_rate / input_rate));
  std::vector<float> out;
  out.reserve(wanted + delay + size_t(resampler.max_output(kBlock)));
  std::vector<float> block(size_t(resampler.max_output(kBlock)));
  const std::vector<float> zeros(kBlock, 0.0f);
  size_t position = 0;
  // Feed the input, then zeros until the delayed tail has come out.
  while (out.size() < wanted + delay) {
    const float* source = zeros.data();
    int count = kBlock;
    if (position < input.size()) {
      count = int(std::min<size_t>(kBlock, input.size() - position));
      source = input.data() + position;
      position += size_t(count);
    }
    const int produced = resampler.process(source, count, block.data());
    out.insert(out.end(), block.begin(), block.begin() + produced);
  }
  return {out.begin() + long(delay), out.begin() + long(delay + wanted)};
}

}  // namespace timbrel::dsp
