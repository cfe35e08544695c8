#include "timbrel/engine/voice_transfer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace timbrel::engine {
namespace {

// Noise gate timing.
constexpr double kGateEnvelopeReleaseS = 0.020;  // peak envelope decay time constant
constexpr double kGateHoldS = 0.100;             // stays open this long under the threshold
constexpr double kGateAttackS = 0.002;           // gain 0 -> 1
constexpr double kGateReleaseS = 0.080;          // gain 1 -> 0

dsp::OutputGuardConfig model_watch() {
  dsp::OutputGuardConfig c;
  c.sample_rate = VoiceTransfer::kModelRate;
  c.limit = false;
  return c;
}

dsp::OutputGuardConfig output_limiter(double rate) {
  dsp::OutputGuardConfig c;
  c.sample_rate = rate;
  c.mute = false;
  return c;
}

float db_to_gain(float db) { return float(std::pow(10.0, double(db) / 20.0)); }

float level_db(double energy, int n) {
  const double rms = n > 0 ? std::sqrt(energy / n) : 0.0;
  return float(20.0 * std::log10(std::max(rms, 1e-6)));
}

}  // namespace

std::string VoiceTransfer::validate(const VoiceTransferConfig& c) { return engine::validate(c); }

VoiceTransfer::VoiceTransfer(const VoiceTransferConfig& config)
    : config_(checked_config<VoiceTransfer>(config)),
      stream_(config, kModelRate, kHop),
      pitch_(dsp::YinConfig{double(kModelRate), kWindow, 50.0, 2000.0, 0.15}),
      // The model adds the overlap-add's 256 samples to the framer's (see below).
      latency_samples_(stream_.latency_samples(models::VqTimbre::kSynthesisWindow - kHop)),
      frame_(kWindow, 0.0f),
      fade_hop_(kHop, 0.0f),
      device_in_(size_t(config.max_block), 0.0f),
      dry_(size_t(config.max_block), 0.0f),
      wet_(size_t(config.max_block), 0.0f),
      dry_line_(size_t(latency_samples_) + 1, 0.0f),
      model_guard_(model_watch()),
      output_guard_(output_limiter(config.device_rate)) {
  const double rate = config.device_rate;
  envelope_decay_ = float(std::exp(-1.0 / (kGateEnvelopeReleaseS * rate)));
  hold_samples_ = int(std::lround(kGateHoldS * rate));
  gate_attack_step_ = float(1.0 / (kGateAttackS * rate));
  gate_release_step_ = float(1.0 / (kGateReleaseS * rate));
  reset();
}

VoiceTransfer::~VoiceTransfer() = default;

// Latency, input sample to output sample, at the device rate R (r = 22050):
//   downsampler group delay            d  (speexdsp, device samples)
// + framer                             255 model samples (hop - 1)
// + synthesis                          256 model samples (contract step 7)
// + upsampler group delay              u  (speexdsp, model samples)
// + output FIFO head start             8 device samples
//   = d + (255 + 256 + u) R / r + 8.
// speexdsp quality 10 reports u = 128 (its filter is 256 taps at the lower
// rate) and d = 128 R / r rounded up to its filter's granularity:
//   48000 Hz: 280 + (511 + 128) x 2.17687 + 8 = 1679.0 -> 1679 samples = 34.98 ms
//   44100 Hz: 256 + (511 + 128) x 2       + 8 = 1542 samples          = 34.97 ms
//   22050 Hz (no resampling): 255 + 256 = 511 samples                = 23.17 ms
// Of the model's 511 samples, 255 are the framer's wait for a full hop and
// 256 the overlap-add (a synthesis frame is 512 samples at hop 256). The
// analysis frame itself reaches 1024 samples back but adds no delay: each hop
// uses the newest samples. Hop-locked structure (the noise and harmonic
// excitation's fine structure) starts at the stream's start, so it lags the
// offline render by the same amount minus d.
// (HopStream::latency_samples sums it.)

// --- models -----------------------------------------------------------------

std::string VoiceTransfer::load_model(const std::uint8_t* bytes, std::size_t size) {
  return take(models::VqTimbre::load(bytes, size));
}

std::string VoiceTransfer::load_model_file(const std::string& path) {
  return take(models::VqTimbre::load_file(path));
}

std::string VoiceTransfer::adopt_image(nn::ImageBlock image) {
  return take(models::VqTimbre::adopt(std::move(image)));
}

std::string VoiceTransfer::take(models::VqTimbre::LoadResult loaded) {
  if (!loaded.model) return loaded.error;
  set_model(std::move(loaded.model));
  return "";
}

void VoiceTransfer::apply_parameters(models::VqTimbre& model) const noexcept {
  model.set_mode(mode_);
  model.set_octaves(octaves_);
  model.set_seed(seed_);
}

void VoiceTransfer::set_model(std::unique_ptr<models::VqTimbre> model) {
  if (!model) throw std::invalid_argument("set_model: no model");
  collect();
  apply_parameters(*model);
  model->reset();
  model_guard_.reset();  // a new model gets a fresh watch
  if (incoming_) {
    queued_ = std::move(model);  // frees any model that was waiting (outside process)
    queued_gain_ = next_gain_;
    return;
  }
  incoming_ = std::move(model);
  incoming_gain_ = next_gain_;
  warmup_left_ = kWarmupHops;
  fade_done_ = 0;
}

void VoiceTransfer::set_next_model_gain_db(float db) noexcept {
  if (std::isnan(db)) return;
  next_gain_ = db_to_gain(std::clamp(db, -24.0f, 24.0f));
}

void VoiceTransfer::collect() {
  for (auto& slot : retired_) slot.reset();
}

int VoiceTransfer::retired_models() const {
  return int(
      std::count_if(retired_.begin(), retired_.end(), [](const auto& m) { return m != nullptr; }));
}

const models::VqTimbre* VoiceTransfer::model() const {
  if (queued_) return queued_.get();
  if (incoming_) return incoming_.get();
  return active_.get();
}

bool VoiceTransfer::retire(std::unique_ptr<models::VqTimbre>& model) noexcept {
  if (!model) return true;
  for (auto& slot : retired_) {
    if (!slot) {
      slot = std::move(model);  // a pointer move: nothing is freed here
      return true;
    }
  }
  return false;  // every slot taken (nobody called collect()): keep it for now
}

void VoiceTransfer::reset() {
  stream_.reset();
  pitch_.reset();
  std::fill(frame_.begin(), frame_.end(), 0.0f);
  std::fill(dry_line_.begin(), dry_line_.end(), 0.0f);
  dry_write_ = 0;
  // Finish any switch at once: the newest model plays.
  if (incoming_) {
    active_ = std::move(incoming_);
    active_gain_ = incoming_gain_;
  }
  if (queued_) {
    active_ = std::move(queued_);
    active_gain_ = queued_gain_;
  }
  collect();
  if (active_) active_->reset();
  warmup_left_ = 0;
  fade_done_ = 0;
  input_gain_ = input_gain_target_;
  output_gain_ = output_gain_target_;
  mix_ = mix_target_;
  envelope_ = 0.0f;
  hold_left_ = 0;
  gate_gain_ = gate_threshold_ > 0.0f ? 0.0f : 1.0f;
  last_pitch_ = {};
  input_level_db_ = output_level_db_ = -120.0f;
  model_guard_.reset();
  output_guard_.reset();
}

// --- parameters -------------------------------------------------------------

void VoiceTransfer::set_mode(models::TransferMode mode) noexcept {
  mode_ = mode;
  for (auto* m : {active_.get(), incoming_.get(), queued_.get()})
    if (m) m->set_mode(mode);
}

void VoiceTransfer::set_octaves(int octaves) noexcept {
  octaves_ = std::clamp(octaves, -models::VqTimbre::kMaxOctaves, models::VqTimbre::kMaxOctaves);
  for (auto* m : {active_.get(), incoming_.get(), queued_.get()})
    if (m) m->set_octaves(octaves_);
}

void VoiceTransfer::set_seed(std::uint32_t seed) noexcept {
  seed_ = seed == 0 ? models::VqTimbre::kDefaultSeed : seed;
  for (auto* m : {active_.get(), incoming_.get(), queued_.get()})
    if (m) m->set_seed(seed_);
}

void VoiceTransfer::set_input_gain_db(float db) noexcept {
  if (std::isnan(db)) return;
  input_gain_db_ = std::clamp(db, -60.0f, 40.0f);
  input_gain_target_ = db_to_gain(input_gain_db_);
}

void VoiceTransfer::set_output_gain_db(float db) noexcept {
  if (std::isnan(db)) return;
  output_gain_db_ = std::clamp(db, -60.0f, 24.0f);
  output_gain_target_ = db_to_gain(output_gain_db_);
}

void VoiceTransfer::set_gate_db(float db) noexcept {
  if (std::isnan(db)) return;
  gate_db_ = std::min(db, 0.0f);
  gate_threshold_ = gate_db_ <= kGateOffDb ? 0.0f : db_to_gain(gate_db_);
}

void VoiceTransfer::set_dry_wet(float mix) noexcept {
  if (std::isnan(mix)) return;
  mix_target_ = std::clamp(mix, 0.0f, 1.0f);
}

// --- audio ------------------------------------------------------------------

void VoiceTransfer::process(const float* in, float* out, int n) noexcept {
  n = std::clamp(n, 0, config_.max_block);
  if (n == 0) return;
  const float in_from = input_gain_, in_step = (input_gain_target_ - input_gain_) / float(n);
  const size_t line = dry_line_.size();
  const size_t delay = size_t(latency_samples_);
  const float threshold = gate_threshold_;
  double in_energy = 0.0;
  for (int i = 0; i < n; ++i) {
    // A NaN would live on in the filters' and the GRU's state: replace by silence.
    const bool finite = std::isfinite(in[i]);
    nonfinite_inputs_ += finite ? 0 : 1;
    const float x = (finite ? in[i] : 0.0f) * (in_from + in_step * float(i + 1));
    in_energy += double(x) * double(x);
    // Dry path: x delayed by the wet path's latency.
    dry_line_[dry_write_] = x;
    dry_[size_t(i)] = dry_line_[(dry_write_ + line - delay) % line];
    dry_write_ = (dry_write_ + 1) % line;
    // Noise gate: closed input reaches the model as exact silence.
    if (threshold > 0.0f) {
      envelope_ = std::max(std::fabs(x), envelope_ * envelope_decay_);
      if (envelope_ >= threshold)
        hold_left_ = hold_samples_;
      else if (hold_left_ > 0)
        --hold_left_;
      gate_gain_ = hold_left_ > 0 ? std::min(1.0f, gate_gain_ + gate_attack_step_)
                                  : std::max(0.0f, gate_gain_ - gate_release_step_);
    } else {
      gate_gain_ = std::min(1.0f, gate_gain_ + gate_attack_step_);
    }
    device_in_[size_t(i)] = gate_gain_ * x;
  }
  input_gain_ = input_gain_target_;
  input_level_db_ = level_db(in_energy, n);

  stream_.process(device_in_.data(), wet_.data(), n,
                  [this](const float* hop_in, float* hop_out) { process_hop(hop_in, hop_out); });

  const float mix_from = mix_, mix_step = (mix_target_ - mix_) / float(n);
  const float out_from = output_gain_, out_step = (output_gain_target_ - output_gain_) / float(n);
  double out_energy = 0.0;
  for (int i = 0; i < n; ++i) {
    const float mix = mix_from + mix_step * float(i + 1);
    const float gain = out_from + out_step * float(i + 1);
    out[i] = gain * (mix * wet_[size_t(i)] + (1.0f - mix) * dry_[size_t(i)]);
  }
  output_guard_.process(out, n);
  for (int i = 0; i < n; ++i) out_energy += double(out[i]) * double(out[i]);
  mix_ = mix_target_;
  output_gain_ = output_gain_target_;
  output_level_db_ = level_db(out_energy, n);
}

void VoiceTransfer::process_hop(const float* hop_in, float* hop_out) noexcept {
  // The analysis frame: the last kWindow model-rate samples.
  std::copy(frame_.begin() + kHop, frame_.end(), frame_.begin());
  std::copy(hop_in, hop_in + kHop, frame_.end() - kHop);
  ++hops_;
  if ((!active_ && !incoming_) || model_guard_.muted()) {
    last_pitch_ = {};
    std::fill(hop_out, hop_out + kHop, 0.0f);
    return;
  }
  last_pitch_ = pitch_.next(frame_.data());
  if (active_) {
    active_->process_hop(frame_.data(), last_pitch_, hop_out);
    for (int i = 0; i < kHop; ++i) hop_out[i] *= active_gain_;
  } else {
    std::fill(hop_out, hop_out + kHop, 0.0f);
  }
  if (!incoming_) {
    model_guard_.process(hop_out, kHop);
    return;
  }

  incoming_->process_hop(frame_.data(), last_pitch_, fade_hop_.data());
  if (warmup_left_ > 0) {
    --warmup_left_;
    model_guard_.process(hop_out, kHop);
    return;
  }
  for (int i = 0; i < kHop; ++i) {
    const float w = std::min(1.0f, float(fade_done_ + i + 1) / float(kCrossfadeSamples));
    hop_out[i] = (1.0f - w) * hop_out[i] + w * incoming_gain_ * fade_hop_[size_t(i)];
  }
  model_guard_.process(hop_out, kHop);
  fade_done_ = std::min(fade_done_ + kHop, kCrossfadeSamples);
  if (fade_done_ < kCrossfadeSamples || !retire(active_)) return;
  active_ = std::move(incoming_);
  active_gain_ = incoming_gain_;
  if (queued_) {
    incoming_ = std::move(queued_);
    incoming_gain_ = queued_gain_;
    warmup_left_ = kWarmupHops;
    fade_done_ = 0;
  }
}

}  // namespace timbrel::engine
