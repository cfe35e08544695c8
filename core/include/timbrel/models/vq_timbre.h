// Voice-driven timbre transfer with a model of family "vq_timbre": the
// synthesis contract of models/README.md ("Family `vq_timbre`"), one hop at a
// time.
//
// Per hop t (frame end e = (t + 1) 256, all at 22050 Hz):
//   analysis frame a = x[e - 1024, e) -> log1p |rfft(hann1024 a)|, loudness
//   -> encoder -> quantizer (if quantized) -> decoder (GRU state carried)
//   conditioned on [log2(f / 440) or 0, voiced, loudness]
//   -> harmonic and noise filters (257 bins) and a gain
//   harmonic excitation of the whole 512-sample synthesis frame at this hop's
//   f = f0 2^octaves (band-limited pulse train, double precision, in phase with
//   the previous frame at the centre of their overlap) and xorshift32 noise
//   -> 512-point filtered frame -> overlap-add
//   -> 256 finished samples out[e - 512, e - 256).
//
// So the streaming output lags the input by 256 samples (11.6 ms) on top of
// whatever frames the caller's input; render() removes that delay.
//
// The constructor prepares every buffer; process_hop() never allocates, locks,
// throws or logs. Not thread-safe: one thread drives one VqTimbre.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/dsp/fft.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/nn/model_file.h"
#include "timbrel/nn/model_image.h"
#include "timbrel/realtime.h"

namespace timbrel::nn {
class VectorQuantizer;
}

namespace timbrel::models {

enum class TransferMode {
  kPitch,  // pitch-following (default): harmonic + noise excitation driven by f0
  kNoise,  // the paper's: filtered noise only, for unpitched input
};

// "pitch" / "noise"; false (mode untouched) for anything else.
bool parse_transfer_mode(const std::string& text, TransferMode* mode);
const char* transfer_mode_name(TransferMode mode);

class VqTimbre {
 public:
  static constexpr int kSampleRate = 22050;
  static constexpr int kWindow = 1024;               // analysis frame
  static constexpr int kHop = 256;                   // new samples per hop, output samples per hop
  static constexpr int kSynthesisWindow = 512;       // synthesis FFT size
  static constexpr int kFeatures = kWindow / 2 + 1;  // 513
  static constexpr int kFilterBins = kSynthesisWindow / 2 + 1;  // 257
  static constexpr int kConditioning = 3;
  static constexpr int kMaxOctaves = 3;
  // Limits on what a file may declare (models/README.md, "Limits"): set-up
  // work (the codebook's 2D map) grows as codes x latent^2.
  static constexpr int kMaxLatent = 256, kMaxHidden = 4096, kMaxCodes = 4096;
  static constexpr std::uint32_t kDefaultSeed = 0x9E3779B9u;

  // Empty when `model` satisfies the contract, else what is wrong (family,
  // metadata, a missing graph, a graph whose input/output size does not fit).
  static std::string validate(const nn::Model& model);

  struct LoadResult {
    std::unique_ptr<VqTimbre> model;  // null on error
    std::string error;                // the loader's or validate()'s message
  };
  // Loads a .tmbl file (bytes or path) and checks it: never throws.
  static LoadResult load(const std::uint8_t* bytes, std::size_t size);
  static LoadResult load_file(const std::string& path);
  // Adopts a model image (nn/model_image.h, written by models/prepared_model.h)
  // and checks it as load() does; a few small allocations, no weight copy.
  // Never throws.
  static LoadResult adopt(nn::ImageBlock image);

  // Throws std::invalid_argument with validate()'s message.
  explicit VqTimbre(std::unique_ptr<nn::Model> model);
  ~VqTimbre();
  VqTimbre(const VqTimbre&) = delete;
  VqTimbre& operator=(const VqTimbre&) = delete;

  // --- streaming (real-time safe) ------------------------------------------
  // frame: the last kWindow input samples (oldest first; zeros before the
  // stream started); pitch: f0 and voicing of that frame; out: kHop samples,
  // out[e - 512, e - 256) of the contract.
  void process_hop(const float* frame, const dsp::PitchEstimate& pitch,
                   float* out) noexcept TIMBREL_REALTIME;
  // The same, with the contract's pitch tracker (dsp::PitchTracker: YIN
  // 50-2000 Hz, threshold 0.15, at the frame's end, leaps held a hop) on frame.
  void process_hop(const float* frame, float* out) noexcept TIMBREL_REALTIME;
  // Decoder-only hop, for descriptor synthesis and the code analysis: the
  // contract's steps 3-7 with codebook vector `code` (clamped to
  // [0, codes() - 1]) in place of the encoder and quantizer, and `loudness`
  // as the conditioning's loud value (clamped to [-1, 1]); pitch and mode as
  // in process_hop. A model without a codebook (quantized() false) decodes a
  // zero latent. Real-time safe.
  void decode_hop(int code, const dsp::PitchEstimate& pitch, float loudness,
                  float* out) noexcept TIMBREL_REALTIME;
  // Codebook vector k (latent() values), or null when not quantized / out of range.
  const float* code_vector(int code) const noexcept TIMBREL_REALTIME;

  // Back to the state before hop 0 (GRU, excitation, overlap-add, noise seed).
  void reset() noexcept TIMBREL_REALTIME;

  // Take effect from the next hop.
  void set_mode(TransferMode mode) noexcept TIMBREL_REALTIME { mode_ = mode; }
  void set_octaves(int octaves) noexcept TIMBREL_REALTIME;  // clamped to [-3, 3]
  // Restarts the noise generator at `seed` now (and at every reset()). Seed 0
  // would leave xorshift32 stuck at 0, so it selects kDefaultSeed.
  void set_seed(std::uint32_t seed) noexcept TIMBREL_REALTIME;
  TransferMode mode() const { return mode_; }
  int octaves() const { return octaves_; }
  std::uint32_t seed() const { return seed_; }

  // After the last hop: the code index the quantizer chose (-1: none / not
  // quantized), the gain head's output and the frame's loudness feature.
  int last_code() const;
  float last_gain() const { return gain_[0]; }
  float last_loudness() const { return loudness_; }
  long hops() const { return hops_; }

  // --- offline --------------------------------------------------------------
  struct RenderOptions {
    TransferMode mode = TransferMode::kPitch;
    int octaves = 0;
    std::uint32_t seed = kDefaultSeed;
    // Pitch of hop t (frame ending at (t + 1) 256): when given, its length is
    // the number of hops; else the core's YIN runs on each frame and the hop
    // count is render_hops(n).
    std::vector<dsp::PitchEstimate> pitch;
    // When not null, receives one entry per hop (parity tests, diagnostics).
    struct Hop {
      int code;  // last_code()
      float gain, loudness;
    };
    std::vector<Hop>* trace = nullptr;
  };
  // Hops that complete every output sample of an n-sample input:
  // ceil(n / 256) + 1 (the last frame ends at or after n + 256).
  static std::size_t render_hops(std::size_t n);
  // The contract's out[0, n), time-aligned with x (step 7). Runs the streaming
  // path from reset() and resets again afterwards; mode, octaves and seed are
  // restored to what they were. Allocates.
  std::vector<float> render(const float* x, std::size_t n, const RenderOptions& options);
  // YIN pitch of every hop of an n-sample input, as render() computes it.
  std::vector<dsp::PitchEstimate> pitch_track(const float* x, std::size_t n, std::size_t hops);
  // The octave shift (-3..3) that brings the median voiced f0 of a pitch track
  // nearest the geometric centre of the model's f0_range_hz, where it plays best
  // (the page's suggestion and `timbrel transfer --octaves auto`); 0 without a
  // voiced hop or a range.
  int suggest_octaves(const std::vector<dsp::PitchEstimate>& track) const;

  // --- description ----------------------------------------------------------
  const nn::Model& model() const { return *model_; }
  const std::string& name() const { return model_->name(); }
  std::string instrument() const;
  bool quantized() const { return quantized_; }
  int codes() const { return codes_; }
  int latent() const { return latent_; }
  int hidden() const { return hidden_; }
  // {"instrument", "name", "codes", "latent", "hidden", "f0_range_hz",
  //  "quantized", "training", "descriptor_table" (true when the file has
  //  one)} as one JSON object (for the page's model card).
  std::string info_json() const;

 private:
  // Steps 3-7 on q_ and loudness_.
  void decode_and_synthesize(const dsp::PitchEstimate& pitch, float* out) noexcept TIMBREL_REALTIME;
  void synthesize_excitation(bool voiced, double f) noexcept TIMBREL_REALTIME;

  std::unique_ptr<nn::Model> model_;
  nn::Graph* encoder_;
  nn::Graph* quantizer_;  // null when not quantized
  nn::Graph* decoder_;
  nn::Graph* harmonic_graph_;
  nn::Graph* noise_graph_;
  nn::Graph* gain_graph_;
  const nn::VectorQuantizer* vq_layer_;  // inside quantizer_, for last_code()
  bool quantized_;
  int codes_, latent_, hidden_;

  dsp::RealFft analysis_fft_;
  dsp::RealFft synthesis_fft_;
  dsp::PitchTracker pitch_;
  std::vector<float> analysis_window_, synthesis_window_;
  std::vector<float> windowed_;                        // kWindow
  std::vector<std::complex<float>> spectrum_;          // kFeatures
  std::vector<float> features_;                        // kFeatures
  std::vector<float> z_, q_, decoder_in_, h_;          // latent, latent, latent + 3, hidden
  std::vector<float> harmonic_filter_, noise_filter_;  // kFilterBins
  std::vector<float> gain_;                            // 1
  std::vector<float> harmonic_;  // kSynthesisWindow: this frame's harmonic excitation
  std::vector<float> noise_;     // kSynthesisWindow: the last noise samples
  std::vector<std::complex<float>> harmonic_spectrum_, noise_spectrum_;  // kFilterBins
  std::vector<float> synthesis_frame_;                                   // kSynthesisWindow
  std::vector<float> overlap_;  // kSynthesisWindow: out[e - 512, e) after hop t

  TransferMode mode_ = TransferMode::kPitch;
  int octaves_ = 0;
  std::uint32_t seed_ = kDefaultSeed;
  // Excitation state (contract step 5).
  double phase_ = 0.0;      // theta_t: the next frame's phase at its sample 128
  double frequency_ = 0.0;  // F_{t-1}: the last voiced f (0 before any)
  std::uint32_t noise_state_ = kDefaultSeed;
  float loudness_ = -1.0f;
  int last_code_ = -1;
  long hops_ = 0;
};

}  // namespace timbrel::models
