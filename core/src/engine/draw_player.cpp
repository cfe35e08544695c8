#include "timbrel/engine/draw_player.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace timbrel::engine {
namespace {

// Every curve of a set gets room for max_hops values up front.
void reserve(models::DrawCurves& curves, std::size_t max_hops) {
  for (auto& c : curves.target) c.reserve(max_hops);
  curves.gain.reserve(max_hops);
}

// Copies within reserved capacity (vector::assign does not reallocate then).
void copy_curves(const models::DrawCurves& from, models::DrawCurves& to) noexcept {
  to.hops = from.hops;
  to.weight = from.weight;
  for (std::size_t d = 0; d < from.target.size(); ++d)
    to.target[d].assign(from.target[d].begin(), from.target[d].end());
  to.gain.assign(from.gain.begin(), from.gain.end());
}

}  // namespace

std::string DrawPlayer::validate(const DrawPlayerConfig& c) {
  if (auto problem = engine::validate(c); !problem.empty()) return problem;
  if (c.max_hops < 1 || c.max_hops > 100000)
    return "max_hops must be between 1 and 100000 (about 19 minutes)";
  return "";
}

DrawPlayer::DrawPlayer(const DrawPlayerConfig& config)
    : config_(checked_config<DrawPlayer>(config)),
      device_(config, kModelRate, kHop),
      guard_(config.device_rate) {
  reserve(active_, config.max_hops);
  reserve(pending_, config.max_hops);
}

DrawPlayer::~DrawPlayer() = default;

void DrawPlayer::set_synth(std::unique_ptr<models::DescriptorSynth> synth) {
  synth_ = std::move(synth);
  guard_.reset();
  state_ = State::kStopped;
  fading_out_ = false;
  device_.reset();
}

std::string DrawPlayer::commit() noexcept {
  if (pending_.hops == 0) return "the curves have no hops";
  if (pending_.hops > config_.max_hops)
    return "the curves are " + std::string("longer than the player's ") +
           std::to_string(config_.max_hops) + " hops";
  for (const auto& c : pending_.target)
    if (c.size() > config_.max_hops) return "a target curve is longer than max_hops";
  if (pending_.gain.size() > config_.max_hops) return "the gain curve is longer than max_hops";
  pending_ready_ = true;
  return "";
}

void DrawPlayer::start_pass() noexcept {
  position_ = 0;
  if (pending_ready_) {
    std::swap(active_, pending_);  // swaps buffers: no allocation
    copy_curves(active_, pending_);
    pending_ready_ = false;
  }
}

void DrawPlayer::play() noexcept {
  if (!synth_) return;
  synth_->reset();
  device_.reset();
  passes_ = 0;
  start_pass();
  fading_out_ = false;
  state_ = active_.hops > 0 ? State::kPlaying : State::kStopped;
}

void DrawPlayer::play_code(int code) noexcept {
  if (!synth_) return;
  if (state_ != State::kHoldingCode) {
    synth_->reset();
    device_.reset();
  }
  code_ = std::clamp(code, 0, synth_->model().codes() - 1);
  fading_out_ = false;
  state_ = State::kHoldingCode;
}

void DrawPlayer::stop() noexcept {
  if (state_ != State::kStopped) fading_out_ = true;
}

void DrawPlayer::stop_now() noexcept {
  state_ = State::kStopped;
  fading_out_ = false;
  device_.reset();
}

void DrawPlayer::produce_hop(float* hop) noexcept {
  if (state_ == State::kStopped || !synth_) {
    std::fill(hop, hop + kHop, 0.0f);
  } else if (state_ == State::kHoldingCode) {
    synth_->process_code_hop(code_, 1.0f, hop);
  } else {
    synth_->process_hop(active_.at(position_), hop);
    if (++position_ >= active_.hops) {
      ++passes_;
      if (loop_)
        start_pass();
      else
        fading_out_ = true;  // the last hop's output fades with the next one
    }
  }
  if (fading_out_ && state_ != State::kStopped) {
    for (int i = 0; i < kHop; ++i) hop[i] *= 1.0f - float(i + 1) / float(kHop);
    state_ = State::kStopped;
    fading_out_ = false;
  }
}

void DrawPlayer::process(float* out, int n) noexcept {
  n = std::clamp(n, 0, config_.max_block);
  // Stopped with nothing left to play out: silence, and the synth stays idle.
  if (state_ == State::kStopped && device_.empty()) {
    std::fill(out, out + n, 0.0f);
    return;
  }
  device_.pull(out, n, [this](float* hop) { produce_hop(hop); });
  guard_.process(out, n);
}

}  // namespace timbrel::engine
