#include "timbrel/engine/transcriber.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace timbrel::engine {

namespace {

constexpr float kLevelFloorDb = -120.0f;
constexpr float kBacktrackRangeDb = 12.0f;

// A stretch [start, end) of frames of one pitch.
struct Piece {
  size_t start, end;
  int pitch;
  size_t length() const { return end - start; }
};

// Pieces shorter than `min_length` join their neighbour (the previous one if
// there is one, else the next), and neighbours of one pitch merge, until every
// piece is long enough or only one is left.
void absorb_short_pieces(std::vector<Piece>& pieces, size_t min_length) {
  size_t i = 0;
  while (pieces.size() > 1 && i < pieces.size()) {
    if (pieces[i].length() >= min_length) {
      ++i;
      continue;
    }
    if (i > 0) {
      pieces[i - 1].end = pieces[i].end;
      pieces.erase(pieces.begin() + long(i));
      --i;
    } else {
      pieces[1].start = pieces[0].start;
      pieces.erase(pieces.begin());
    }
    // The survivor may now touch a piece of its own pitch.
    if (i + 1 < pieces.size() && pieces[i + 1].pitch == pieces[i].pitch) {
      pieces[i].end = pieces[i + 1].end;
      pieces.erase(pieces.begin() + long(i) + 1);
    }
    if (i > 0 && pieces[i - 1].pitch == pieces[i].pitch) {
      pieces[i - 1].end = pieces[i].end;
      pieces.erase(pieces.begin() + long(i));
      --i;
    }
  }
}

// Median of the slot's pitch over `width` frames centred on each frame,
// clipped to the active run [a, b) so that no label from silence leaks in.
// An even count near the run's edges takes the lower middle value.
void median_pitch(const std::vector<TranscriptionFrame>& frames, int slot, size_t a, size_t b,
                  int width, std::vector<int>& out) {
  const size_t half = size_t(width / 2);
  std::vector<int> window;
  for (size_t t = a; t < b; ++t) {
    const size_t lo = std::max(a, t >= half ? t - half : 0);
    const size_t hi = std::min(b, t + half + 1);
    window.clear();
    for (size_t j = lo; j < hi; ++j) window.push_back(frames[j].slots[size_t(slot)].pitch);
    std::sort(window.begin(), window.end());
    out[t] = window[(window.size() - 1) / 2];
  }
}

// Start of each level onset inside the active run [a, b): a frame t whose level
// rises more than rise_db above the lowest of the `window` frames before it
// (inside the run) starts a note at the frame after that lowest one, when that
// leaves min_note_frames both after the previous start and before the run ends.
std::vector<size_t> level_onsets(const std::vector<TranscriptionFrame>& frames, size_t a, size_t b,
                                 const TranscriberSettings& s) {
  std::vector<size_t> starts;
  size_t last = a;
  const size_t window = size_t(s.onset_window_frames);
  for (size_t t = a + 1; t < b; ++t) {
    const size_t lo = t >= a + window ? t - window : a;
    size_t lowest = lo;
    for (size_t j = lo; j < t; ++j)  // the latest of equal minima: the rise starts after it
      if (frames[j].level_db <= frames[lowest].level_db) lowest = j;
    if (frames[t].level_db - frames[lowest].level_db <= s.onset_rise_db) continue;
    const size_t onset = lowest + 1;
    if (onset - last < size_t(s.min_note_frames) || b - onset < size_t(s.min_note_frames)) continue;
    starts.push_back(onset);
    last = onset;
  }
  return starts;
}

// Moves each pitch change back to the frame of largest flux among the
// `search` frames before it (the label lags the note), keeping at least
// `min_length` frames in the piece before it. Ties go to the latest frame, so
// a flat flux leaves the change where the labels put it.
void refine_pitch_changes(const std::vector<TranscriptionFrame>& frames, std::vector<Piece>& pieces,
                          size_t search, size_t min_length) {
  for (size_t i = 1; i < pieces.size(); ++i) {
    const size_t change = pieces[i].start;
    const size_t lowest =
        std::max(pieces[i - 1].start + min_length, change > search ? change - search : 0);
    size_t best = change;
    for (size_t t = change; t-- > lowest;)
      if (frames[t].flux > frames[best].flux) best = t;
    pieces[i - 1].end = best;
    pieces[i].start = best;
  }
}

// The first frame of a note that opens the gate at `start`: earlier inactive
// frames whose level keeps falling (going back) by at least step_db each, and
// stays within kBacktrackRangeDb of the open level (audible, under the gate),
// belong to its attack.
size_t backtrack_start(const std::vector<TranscriptionFrame>& frames, size_t start,
                       const TranscriberSettings& s) {
  size_t t = start;
  while (t > 0 && start - t < size_t(s.backtrack_frames) && !frames[t - 1].active &&
         frames[t - 1].level_db < frames[t].level_db - s.backtrack_step_db &&
         frames[t - 1].level_db > s.gate_open_db - kBacktrackRangeDb)
    --t;
  return t;
}

int velocity_of(const std::vector<TranscriptionFrame>& frames, int slot, const Piece& piece,
                const std::vector<int>& dynamics_velocity) {
  std::array<int, models::CrossmodalVae::kDynamics> count{};
  for (size_t t = piece.start; t < piece.end; ++t) {
    const int d = frames[t].slots[size_t(slot)].dynamics;
    ++count[size_t(std::clamp(d, 0, models::CrossmodalVae::kDynamics - 1))];
  }
  // Ties go to the softer class (max_element returns the first maximum).
  const auto most = std::max_element(count.begin(), count.end()) - count.begin();
  return dynamics_velocity[size_t(most)];
}

}  // namespace

std::string validate(const TranscriberSettings& s) {
  if (!(s.gate_open_db <= 0.0f) || !(s.gate_close_db <= s.gate_open_db))
    return "transcriber gate: close level must not exceed the open level, and both <= 0 dBFS";
  if (s.median_frames < 1 || s.median_frames % 2 == 0 || s.median_frames > 101)
    return "transcriber median_frames must be odd, 1-101";
  if (s.pitch_change_frames < 1 || s.pitch_change_frames > 1000)
    return "transcriber pitch_change_frames must be 1-1000";
  if (s.min_note_frames < 1 || s.min_note_frames > 1000)
    return "transcriber min_note_frames must be 1-1000";
  if (!(s.onset_rise_db > 0.0f)) return "transcriber onset_rise_db must be positive";
  if (s.onset_window_frames < 1 || s.onset_window_frames > 100)
    return "transcriber onset_window_frames must be 1-100";
  if (s.boundary_search_frames < 0 || s.boundary_search_frames > 1000)
    return "transcriber boundary_search_frames must be 0-1000";
  if (s.backtrack_frames < 0 || s.backtrack_frames > 1000)
    return "transcriber backtrack_frames must be 0-1000";
  if (!(s.backtrack_step_db >= 0.0f)) return "transcriber backtrack_step_db must not be negative";
  if (!(s.frame_rate_hz > 0.0) || !std::isfinite(s.frame_rate_hz))
    return "transcriber frame_rate_hz must be positive";
  return "";
}

std::vector<midi::Note> segment_notes(const std::vector<TranscriptionFrame>& frames, int slot,
                                      const TranscriberSettings& settings,
                                      const std::vector<int>& dynamics_velocity) {
  if (auto problem = validate(settings); !problem.empty()) throw std::invalid_argument(problem);
  if (slot < 0 || slot >= kMaxTranscribedInstruments)
    throw std::invalid_argument("segment_notes: instrument slot " + std::to_string(slot) +
                                " out of range 0-" +
                                std::to_string(kMaxTranscribedInstruments - 1));
  if (dynamics_velocity.size() != size_t(models::CrossmodalVae::kDynamics))
    throw std::invalid_argument("segment_notes: need one velocity per dynamics class (3), got " +
                                std::to_string(dynamics_velocity.size()));
  for (int v : dynamics_velocity)
    if (v < 1 || v > 127)
      throw std::invalid_argument("segment_notes: dynamics velocity " + std::to_string(v) +
                                  " outside 1-127");

  const double frame_s = 1.0 / settings.frame_rate_hz;
  std::vector<int> pitch(frames.size(), 0);
  std::vector<midi::Note> notes;
  size_t a = 0;
  while (a < frames.size()) {
    if (!frames[a].active) {
      ++a;
      continue;
    }
    size_t b = a;
    while (b < frames.size() && frames[b].active) ++b;
    median_pitch(frames, slot, a, b, settings.median_frames, pitch);

    // Sub-runs between level onsets; within each, pieces of one pitch.
    std::vector<size_t> bounds = {a};
    for (size_t onset : level_onsets(frames, a, b, settings)) bounds.push_back(onset);
    bounds.push_back(b);
    for (size_t k = 0; k + 1 < bounds.size(); ++k) {
      std::vector<Piece> pieces;
      for (size_t t = bounds[k]; t < bounds[k + 1]; ++t) {
        if (pieces.empty() || pieces.back().pitch != pitch[t])
          pieces.push_back({t, t + 1, pitch[t]});
        else
          pieces.back().end = t + 1;
      }
      absorb_short_pieces(pieces, size_t(settings.pitch_change_frames));
      absorb_short_pieces(pieces, size_t(settings.min_note_frames));
      refine_pitch_changes(frames, pieces, size_t(settings.boundary_search_frames),
                           size_t(settings.min_note_frames));
      for (size_t i = 0; i < pieces.size(); ++i) {
        const Piece& p = pieces[i];
        if (p.length() < size_t(settings.min_note_frames)) continue;  // a lone blip
        // Only the note that opens the gate has an attack among inactive frames.
        const size_t first =
            k == 0 && i == 0 ? backtrack_start(frames, p.start, settings) : p.start;
        midi::Note note;
        note.track = slot;
        note.channel = slot;
        note.pitch = std::clamp(p.pitch, 0, 127);
        note.velocity = velocity_of(frames, slot, p, dynamics_velocity);
        note.start_s = std::max(0.0, frames[first].time_s);
        note.end_s = std::max(note.start_s + frame_s, frames[p.end - 1].time_s + frame_s);
        notes.push_back(note);
      }
    }
    a = b;
  }
  return notes;
}

// --- Transcriber ---------------------------------------------------------------

Transcriber::Transcriber(models::CrossmodalVae& model, const TranscriberSettings& settings)
    : model_(model),
      settings_(settings),
      gate_(settings.gate_open_db, settings.gate_close_db),
      stft_(cqt_.stft_config()),
      hop_(size_t(kHop), 0.0f),
      features_(size_t(models::CrossmodalVae::kBins), 0.0f),
      previous_features_(size_t(models::CrossmodalVae::kBins), 0.0f),
      mean_(size_t(models::CrossmodalVae::kLatent), 0.0f),
      logvar_(size_t(models::CrossmodalVae::kLatent), 0.0f),
      logits_(size_t(model.symbols()), 0.0f),
      labels_(size_t(model.instruments())),
      confidence_(size_t(model.instruments()), 0.0f) {
  if (auto problem = validate(settings); !problem.empty()) throw std::invalid_argument(problem);
  if (model.instruments() > kMaxTranscribedInstruments)
    throw std::invalid_argument("transcriber: the model has " +
                                std::to_string(model.instruments()) + " instruments, at most " +
                                std::to_string(kMaxTranscribedInstruments) + " are supported");
}

Transcriber::~Transcriber() = default;

void Transcriber::reset() noexcept {
  gate_.reset();
  stft_.reset();
  std::fill(previous_features_.begin(), previous_features_.end(), 0.0f);
  frame_index_ = 0;
  frame_ = TranscriptionFrame{};
}

const TranscriptionFrame& Transcriber::push_hop(const float* hop) noexcept {
  for (int i = 0; i < kHop; ++i) hop_[size_t(i)] = std::isfinite(hop[i]) ? hop[i] : 0.0f;
  const std::complex<float>* spectrum = stft_.push_hop(hop_.data());
  cqt_.magnitudes_from_spectrum(spectrum, features_.data());
  cqt_.features_from_magnitudes(features_.data(), features_.data());
  float flux = 0.0f;
  for (size_t k = 0; k < features_.size(); ++k) {
    flux += std::max(0.0f, features_[k] - previous_features_[k]);
    previous_features_[k] = features_[k];
  }
  model_.encode_signal(features_.data(), mean_.data(), logvar_.data());
  model_.decode_symbols(mean_.data(), logits_.data());
  model_.labels_from_logits(logits_.data(), labels_.data(), confidence_.data());

  // Level on the central kLevelWindow samples, where the Hann window weighs most.
  const float* frame = stft_.frame() + (kWindow - kLevelWindow) / 2;
  double energy = 0.0;
  for (int i = 0; i < kLevelWindow; ++i) energy += double(frame[i]) * frame[i];
  const double rms = std::sqrt(energy / kLevelWindow);
  const float level =
      rms > 0.0 ? std::max(kLevelFloorDb, float(20.0 * std::log10(rms))) : kLevelFloorDb;

  frame_.time_s = double(frame_index_ * kHop + kHop - kWindow / 2) / kSampleRate;
  frame_.level_db = level;
  frame_.active = gate_.update(level);
  frame_.flux = flux;
  for (int s = 0; s < model_.instruments(); ++s) {
    SlotSymbol& slot = frame_.slots[size_t(s)];
    slot.pitch = models::midi_from_label(labels_[size_t(s)]);
    slot.dynamics = labels_[size_t(s)].dynamics;
    slot.confidence = confidence_[size_t(s)];
  }
  ++frame_index_;
  return frame_;
}

Transcription Transcriber::transcribe(const float* audio, std::size_t count) {
  if (count == 0) throw std::invalid_argument("transcribe: the audio is empty (no samples)");
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(audio[i])) {
      char message[160];
      std::snprintf(message, sizeof message,
                    "transcribe: audio sample %zu (%.3f s) is %s; the input must be finite", i,
                    double(i) / kSampleRate, std::isnan(audio[i]) ? "NaN" : "infinite");
      throw std::invalid_argument(message);
    }
  }
  reset();
  // Enough hops that the last sample has been a window centre: frame h's centre
  // is h hop + hop - window / 2.
  const std::size_t hops = (count + std::size_t(kWindow / 2 - 1) + kHop - 1) / kHop;
  std::vector<float> hop(size_t(kHop), 0.0f);
  Transcription result;
  result.instruments = model_.instruments();
  result.frames.reserve(hops);
  float loudest = kLevelFloorDb;
  for (std::size_t h = 0; h < hops; ++h) {
    const std::size_t begin = h * kHop;
    std::fill(hop.begin(), hop.end(), 0.0f);
    if (begin < count) std::copy(audio + begin, audio + std::min(count, begin + kHop), hop.begin());
    result.frames.push_back(push_hop(hop.data()));
    loudest = std::max(loudest, result.frames.back().level_db);
  }
  reset();

  for (int s = 0; s < model_.instruments(); ++s) {
    auto notes = segment_notes(result.frames, s, settings_, model_.dynamics_velocity());
    result.notes.insert(result.notes.end(), notes.begin(), notes.end());
  }
  std::stable_sort(result.notes.begin(), result.notes.end(),
                   [](const midi::Note& x, const midi::Note& y) {
                     return x.start_s != y.start_s ? x.start_s < y.start_s : x.track < y.track;
                   });

  const auto active = std::count_if(result.frames.begin(), result.frames.end(),
                                    [](const TranscriptionFrame& f) { return f.active; });
  char line[256];
  if (result.notes.empty() && active == 0)
    std::snprintf(line, sizeof line,
                  "no notes found: the loudest frame is %.1f dBFS, under the %.1f dBFS gate",
                  double(loudest), double(settings_.gate_open_db));
  else if (result.notes.empty())
    std::snprintf(line, sizeof line,
                  "no notes found: %ld active frames, but no stable pitch lasted %d frames",
                  long(active), settings_.min_note_frames);
  else
    std::snprintf(line, sizeof line, "%zu notes in %zu frames (%ld active)", result.notes.size(),
                  result.frames.size(), long(active));
  result.summary = line;
  return result;
}

}  // namespace timbrel::engine
