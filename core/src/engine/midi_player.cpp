#include "timbrel/engine/midi_player.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace timbrel::engine {

std::string MidiPlayer::validate(const MidiPlayerConfig& c) { return engine::validate(c); }

MidiPlayer::MidiPlayer(const MidiPlayerConfig& config)
    : config_(checked_config<MidiPlayer>(config)),
      device_(config, kModelRate, kHop),
      guard_(config.device_rate) {
  // The synth's frame centre and the upsampler's delay are fixed; the backlog
  // left in the FIFO by earlier hops adds 0 .. one device hop - 1.
  const double ratio = config_.device_rate / kModelRate;
  const double up = device_.resampler_delay();
  min_latency_ = int(std::lround((LiveNoteSynth::latency_samples() + up) * ratio));
  max_latency_ = min_latency_ + int(std::ceil(kHop * ratio)) - 1;
}

MidiPlayer::~MidiPlayer() = default;

std::string MidiPlayer::load_model(const std::uint8_t* bytes, std::size_t size,
                                   const NoteSynthSettings& settings) {
  if (auto problem = engine::validate(settings); !problem.empty()) return problem;
  return take(models::CrossmodalVae::load(bytes, size), settings);
}

std::string MidiPlayer::adopt_image(nn::ImageBlock image, const NoteSynthSettings& settings) {
  if (auto problem = engine::validate(settings); !problem.empty()) return problem;
  return take(models::CrossmodalVae::adopt(std::move(image)), settings);
}

std::string MidiPlayer::take(models::CrossmodalVae::LoadResult loaded,
                             const NoteSynthSettings& settings) {
  if (!loaded.model) return loaded.error;
  set_model(std::move(loaded.model), settings);
  return "";
}

void MidiPlayer::set_model(std::unique_ptr<models::CrossmodalVae> model,
                           const NoteSynthSettings& settings) {
  // The synth is kept across models (its constant-Q tables and RTPGHI set-up
  // do not depend on the model), so a switch costs only the new model's state.
  if (model && synth_)
    synth_->set_model(*model, settings);
  else if (model)
    synth_ = std::make_unique<LiveNoteSynth>(*model, settings);
  else
    synth_.reset();
  model_ = std::move(model);  // the old model is freed once nothing refers to it
  morph_notes_ = {-1, -1, -1, -1};
  guard_.reset();
  reset();
}

void MidiPlayer::note_on(int pitch, int velocity) noexcept {
  if (synth_) synth_->note_on(pitch, velocity);
}

void MidiPlayer::note_off(int pitch) noexcept {
  if (synth_) synth_->note_off(pitch);
}

void MidiPlayer::all_notes_off() noexcept {
  if (!synth_) return;
  synth_->all_notes_off();
  synth_->pad_off();
}

void MidiPlayer::set_pad(float x, float y, bool on) noexcept {
  if (!synth_) return;
  synth_->set_latent_point(x, y);
  if (on)
    synth_->pad_on(1.0f);
  else
    synth_->pad_off();
}

void MidiPlayer::set_morph(int pitch_a, int velocity_a, int pitch_b, int velocity_b, float position,
                           bool on) noexcept {
  if (!synth_) return;
  const std::array<int, 4> notes{pitch_a, velocity_a, pitch_b, velocity_b};
  if (notes != morph_notes_) {
    synth_->set_morph(pitch_a, velocity_a, pitch_b, velocity_b);
    morph_notes_ = notes;
  }
  // Also after set_morph: the pad may have been moved by set_pad since.
  synth_->set_morph_position(position);
  if (on)
    synth_->pad_on(1.0f);
  else
    synth_->pad_off();
}

void MidiPlayer::set_temperature(float temperature) noexcept {
  if (synth_) synth_->set_temperature(temperature);
}

void MidiPlayer::set_interpolation(Interpolation interpolation) noexcept {
  if (synth_) synth_->set_interpolation(interpolation);
}

void MidiPlayer::reset() noexcept {
  if (synth_) synth_->reset();
  device_.reset();
}

void MidiPlayer::process(float* out, int n) noexcept {
  n = std::clamp(n, 0, config_.max_block);
  if (!synth_) {
    std::fill(out, out + n, 0.0f);
    return;
  }
  device_.pull(out, n, [this](float* hop) { synth_->process_hop(hop); });
  guard_.process(out, n);
}

}  // namespace timbrel::engine
