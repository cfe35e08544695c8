// Throughput of the streaming DSP blocks, printed as a table. Built natively
// and for WebAssembly (node); scripts/bench.sh runs both and shows them side by side.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../core/grains_test_model.h"
#include "../core/resampler_quality.h"
#include "timbrel/dsp/cqt.h"
#include "timbrel/dsp/fft.h"
#include "timbrel/dsp/phase_reconstruction.h"
#include "timbrel/dsp/resampler.h"
#include "timbrel/dsp/stft.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/engine/draw_player.h"
#include "timbrel/engine/grain_synth.h"
#include "timbrel/engine/listen_analyzer.h"
#include "timbrel/engine/midi_player.h"
#include "timbrel/engine/transcriber.h"
#include "timbrel/engine/voice_transfer.h"
#include "timbrel/models/crossmodal_vae.h"
#include "timbrel/models/descriptor_synth.h"
#include "timbrel/models/grains.h"
#include "timbrel/models/prepared_model.h"
#include "timbrel/models/vq_timbre.h"
#include "timbrel/nn/model_file.h"
#include "timbrel/nn/model_image.h"
#include "timbrel/simd/kernels.h"

using namespace timbrel;

namespace {

volatile float g_sink = 0.0f;

// Runs `step` until ~0.3 s have passed; returns seconds per call (best of 3).
double time_per_call(const std::function<void()>& step) {
  using clock = std::chrono::steady_clock;
  double best = 1e9;
  for (int trial = 0; trial < 3; ++trial) {
    long calls = 0;
    const auto start = clock::now();
    double elapsed = 0.0;
    do {
      for (int i = 0; i < 16; ++i) step();
      calls += 16;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < 0.3);
    best = std::min(best, elapsed / double(calls));
  }
  return best;
}

void row(const char* name, double seconds_per_call, double audio_seconds_per_call) {
  // Real-time factor: compute seconds per second of audio (lower is better).
  std::printf("| %-44s | %10.2f | %12.5f | %10.0fx |\n", name, seconds_per_call * 1e6,
              seconds_per_call / audio_seconds_per_call, audio_seconds_per_call / seconds_per_call);
}

std::vector<float> noise(size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 0.2f);
  std::vector<float> x(n);
  for (auto& v : x) v = d(rng);
  return x;
}

// --- model switching on the audio thread -------------------------------------------
// What switching models costs the thread that plays (the AudioWorklet's), in
// ms per call: parsing the .tmbl file there (loadModel, as the page did), or
// the model-image steps that replace it (models/prepared_model.h): allocating
// the staging block (beginImage), copying one 256 KiB slice of the image into
// it (the page copies one per render quantum), adopting it (adoptImage: the
// model built on the image and crossfaded or swapped in), and the process()
// calls after it (the worst of the next 8 quanta: the new model's first hops).
struct SwitchEngine {
  std::function<std::string(const std::vector<std::uint8_t>&)> load;
  std::function<std::string(nn::ImageBlock)> adopt;
  std::function<void()> process;  // one 128-sample quantum (after a note or code starts)
};

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

double seconds_of(const std::function<void()>& call) {
  const auto start = std::chrono::steady_clock::now();
  call();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void switch_rows(const std::string& label, const std::vector<std::uint8_t>& file,
                 const std::string& family, const std::function<SwitchEngine()>& make) {
  const auto prepared = models::prepare_model(file.data(), file.size(), family);
  if (!prepared.error.empty()) {
    std::printf("| switch %-36s | %s |\n", label.c_str(), prepared.error.c_str());
    return;
  }
  const auto& image = prepared.image;
  constexpr int kRuns = 12;
  constexpr std::size_t kSlice = 256 * 1024;
  std::vector<double> load, begin, slice, adopt, after;
  for (int run = 0; run < kRuns; ++run) {
    {
      SwitchEngine engine = make();
      load.push_back(seconds_of([&] { g_sink = float(engine.load(file).size()); }));
    }
    SwitchEngine engine = make();
    nn::ImageBlock block;
    begin.push_back(seconds_of([&] { block = nn::ImageBlock::allocate(image.size()); }));
    const std::size_t first = std::min(kSlice, image.size());
    slice.push_back(seconds_of([&] { std::memcpy(block.data(), image.data(), first); }));
    std::memcpy(block.data() + first, image.data() + first, image.size() - first);
    std::string error;
    adopt.push_back(seconds_of([&] { error = engine.adopt(std::move(block)); }));
    if (!error.empty()) {
      std::printf("| switch %-36s | %s |\n", label.c_str(), error.c_str());
      return;
    }
    double worst = 0.0;
    for (int q = 0; q < 8; ++q) worst = std::max(worst, seconds_of(engine.process));
    after.push_back(worst);
  }
  // The first switch runs colder code and touches fresh memory: shown apart.
  auto row_of = [&](const char* step, const std::vector<double>& t) {
    std::vector<double> later(t.begin() + 1, t.end());
    std::sort(later.begin(), later.end());
    char name[96];
    std::snprintf(name, sizeof name, "%s: %s", label.c_str(), step);
    std::printf("| switch %-50s | %9.3f | %9.3f | %9.3f |\n", name, 1e3 * later[later.size() / 2],
                1e3 * later.back(), 1e3 * t.front());
  };
  row_of("load file", load);
  row_of("begin image", begin);
  row_of("copy 256 KiB slice", slice);
  row_of("adopt image", adopt);
  row_of("process x8 after", after);
}

void model_switch_table(const std::string& source, std::string* notes) {
  std::printf(
      "\nModel switch on the audio thread (ms per call: median and worst of switches 2-12, and "
      "the first)\n\n");
  std::printf("| %-57s | %9s | %9s | %9s |\n|---|---:|---:|---:|\n", "step", "median", "worst",
              "first");
  // The largest shipped model of each family (voice 3.2 MB; sax_violin 9.0 MB).
  const auto voice = read_bytes(source + "/models/voice/voice.tmbl");
  const auto mixture = read_bytes(source + "/models/crossmodal/sax_violin/sax_violin.tmbl");
  if (voice.empty() || mixture.empty()) {
    *notes += "(model switch rows skipped: models/voice or models/crossmodal/sax_violin missing)\n";
    return;
  }
  static std::vector<float> in(128, 0.1f), out(128);
  switch_rows("voice, voice.tmbl", voice, "vq_timbre", [&] {
    auto engine =
        std::make_shared<engine::VoiceTransfer>(engine::VoiceTransferConfig{48000.0, 128});
    engine->load_model(voice.data(), voice.size());
    engine->reset();
    return SwitchEngine{[engine](const std::vector<std::uint8_t>& f) {
                          return engine->load_model(f.data(), f.size());
                        },
                        [engine](nn::ImageBlock b) { return engine->adopt_image(std::move(b)); },
                        [engine] { engine->process(in.data(), out.data(), 128); }};
  });
  switch_rows("draw, voice.tmbl", voice, "vq_timbre", [&] {
    auto player = std::make_shared<engine::DrawPlayer>(engine::DrawPlayerConfig{48000.0, 128});
    auto take = [player](models::DescriptorSynth::LoadResult loaded) {
      if (!loaded.synth) return loaded.error;
      player->set_synth(std::move(loaded.synth));
      player->play_code(7);
      return std::string();
    };
    return SwitchEngine{
        [take](const std::vector<std::uint8_t>& f) {
          return take(models::DescriptorSynth::load(f.data(), f.size()));
        },
        [take](nn::ImageBlock b) { return take(models::DescriptorSynth::adopt(std::move(b))); },
        [player] { player->process(out.data(), 128); }};
  });
  switch_rows("midi, sax_violin.tmbl", mixture, "crossmodal_vae", [&] {
    auto player = std::make_shared<engine::MidiPlayer>(engine::MidiPlayerConfig{48000.0, 128});
    return SwitchEngine{[player](const std::vector<std::uint8_t>& f) {
                          auto error = player->load_model(f.data(), f.size());
                          player->note_on(69, 80);
                          return error;
                        },
                        [player](nn::ImageBlock b) {
                          auto error = player->adopt_image(std::move(b));
                          player->note_on(69, 80);
                          return error;
                        },
                        [player] { player->process(out.data(), 128); }};
  });
}

}  // namespace

int main(int argc, char** argv) {
#ifdef __EMSCRIPTEN__
  const char* platform = "wasm (node)";
#else
  const char* platform = "native";
#endif
  std::printf("timbrel DSP benchmark, %s, kernels: %s\n\n", platform, simd::kernel_path());
  std::printf("| %-44s | %10s | %12s | %11s |\n", "step", "us / call", "RT factor", "x realtime");
  std::printf("|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(12, '-').c_str(),
              std::string(14, '-').c_str(), std::string(13, '-').c_str());
  const double model_rate = 22050.0;
  const auto x = noise(1 << 16);

  for (int size : {1024, 2048}) {
    dsp::RealFft fft(size);
    std::vector<std::complex<float>> spectrum(size_t(fft.bins()));
    std::vector<float> y(static_cast<size_t>(size));
    char name[64];
    std::snprintf(name, sizeof name, "real FFT forward+inverse, n=%d", size);
    row(name, time_per_call([&] {
          fft.forward(x.data(), spectrum.data());
          fft.inverse(spectrum.data(), y.data());
          g_sink = y[0];
        }),
        size / model_rate);
  }
  for (dsp::StftConfig config : {dsp::StftConfig{1024, 256}, dsp::StftConfig{2048, 512}}) {
    dsp::StftAnalyzer analyzer(config);
    dsp::OverlapAdd synthesizer(config);
    std::vector<float> out(size_t(config.hop));
    size_t pos = 0;
    char name[64];
    std::snprintf(name, sizeof name, "STFT + overlap-add hop, %d/%d", config.window, config.hop);
    row(name, time_per_call([&] {
          synthesizer.push_spectrum(analyzer.push_hop(x.data() + pos), out.data());
          pos = (pos + size_t(config.hop)) % (x.size() - size_t(config.hop));
          g_sink = out[0];
        }),
        config.hop / model_rate);
  }
  for (auto [in_rate, out_rate] :
       {std::pair{48000, 22050}, std::pair{44100, 22050}, std::pair{22050, 48000}}) {
    dsp::StreamingResampler r(in_rate, out_rate, 128);
    std::vector<float> out(size_t(r.max_output(128)));
    size_t pos = 0;
    char name[64];
    std::snprintf(name, sizeof name, "resampler %d -> %d, 128-sample block", in_rate, out_rate);
    row(name, time_per_call([&] {
          g_sink = float(r.process(x.data() + pos, 128, out.data()));
          pos = (pos + 128) % (x.size() - 128);
        }),
        128.0 / in_rate);
  }
  {
    dsp::Yin yin({model_rate, 1024, 50.0, 2000.0, 0.15});
    size_t pos = 0;
    row("YIN f0, 1024-sample frame (per 256 hop)", time_per_call([&] {
          g_sink = yin.estimate(x.data() + pos).f0_hz;
          pos = (pos + 256) % (x.size() - 1024);
        }),
        256 / model_rate);
  }
  {
    engine::ListenAnalyzer analyzer({48000.0, 128});
    std::vector<float> out(128), spectrum(size_t(analyzer.spectrum_bins()));
    engine::AnalysisFrame frame;
    size_t pos = 0;
    row("listen analyzer (48 kHz, 128-sample quantum)", time_per_call([&] {
          analyzer.process(x.data() + pos, out.data(), 128);
          while (analyzer.pop_frame(frame, spectrum.data())) g_sink = frame.pitch.f0_hz;
          pos = (pos + 128) % (x.size() - 128);
        }),
        128.0 / 48000.0);
  }

  std::string notes;
  // Voice -> instrument (engine/voice_transfer.h): one 128-sample quantum at
  // 48 kHz in pitch mode on a sung-like tone (YIN voiced, harmonic synthesis
  // on), with the small golden model and the shipped violin when present.
  {
    std::vector<float> voice(1 << 16);
    const double pi = std::acos(-1.0);
    for (size_t i = 0; i < voice.size(); ++i) {
      const double t = double(i) / 48000.0;
      voice[i] = float(0.3 * std::sin(2 * pi * 220 * t) + 0.15 * std::sin(2 * pi * 440 * t) +
                       0.05 * std::sin(2 * pi * 660 * t) + 0.02 * x[i]);
    }
    // "no model": resamplers, framer and the dry path only (YIN and the model
    // run only with a model).
    struct Candidate {
      std::string label;
      std::string path;
    };
    const std::string source = TIMBREL_SOURCE_DIR;
    std::vector<Candidate> candidates = {
        {"no model", ""}, {"golden vq model", source + "/tests/golden/vq/model.tmbl"}};
    // Every shipped transfer model (absent ones are skipped with a note).
    for (const char* id : {"violin", "cello", "flute", "clarinet", "trumpet", "alto_sax", "voice",
                           "violin-baseline"})
      candidates.push_back({id, source + "/models/" + id + "/" + id + ".tmbl"});
    for (const Candidate& c : candidates) {
      engine::VoiceTransfer transfer({48000.0, 128});
      char label[96];
      if (!c.path.empty()) {
        const std::string error = transfer.load_model_file(c.path);
        if (!error.empty()) {  // absent (natively and in WASM alike): no row
          notes += "(transfer row skipped: " + error + ")\n";
          continue;
        }
        transfer.reset();  // finish the switch-in crossfade
        const auto* m = transfer.model();
        std::snprintf(label, sizeof label, "transfer 48k quantum, %s H%d", c.label.c_str(),
                      m->hidden());
      } else {
        std::snprintf(label, sizeof label, "transfer 48k quantum, %s", c.label.c_str());
      }
      std::vector<float> out(128);
      size_t pos = 0;
      row(label, time_per_call([&] {
            transfer.process(voice.data() + pos, out.data(), 128);
            g_sink = out[0];
            pos = (pos + 128) % (voice.size() - 128);
          }),
          128.0 / 48000.0);
    }
  }

  // MIDI <-> audio (cross-modal VAE): the front end and phase reconstruction
  // per 256-sample hop, and the shipped violin model live (the MIDI panel's
  // worklet at 48 kHz with 1 and 8 notes held; a hop where 8 notes start
  // decodes 8 spectra) and transcribing (per hop).
  {
    dsp::ConstantQ cqt;
    dsp::StftAnalyzer analyzer(cqt.stft_config());
    std::vector<float> c(size_t(cqt.bins())), mag(size_t(cqt.fft_bins()));
    size_t pos = 0;
    row("constant-Q features, 2048 window (per 256 hop)", time_per_call([&] {
          const auto* spectrum = analyzer.push_hop(x.data() + pos);
          cqt.magnitudes_from_spectrum(spectrum, c.data());
          cqt.features_from_magnitudes(c.data(), c.data());
          g_sink = c[0];
          pos = (pos + 256) % (x.size() - 256);
        }),
        256 / model_rate);
    dsp::RtpghiSynth rtpghi(cqt.stft_config());
    std::vector<float> hop(256);
    for (size_t k = 0; k < mag.size(); ++k) mag[k] = 0.01f / float(1 + k % 40);
    row("RTPGHI phase + overlap-add (per 256 hop)", time_per_call([&] {
          rtpghi.push_magnitude(mag.data(), hop.data());
          g_sink = hop[0];
        }),
        256 / model_rate);
    const dsp::MagnitudeFrames frames(86, mag);
    row("Griffin-Lim, 30 iterations (per 256 hop)",
        time_per_call([&] {
          const auto y = dsp::griffin_lim(frames, cqt.stft_config(), 30);
          g_sink = y[0];
        }) / 86.0,
        256 / model_rate);

    const std::string path =
        std::string(TIMBREL_SOURCE_DIR) + "/models/crossmodal/violin/violin.tmbl";
    auto loaded = models::CrossmodalVae::load_file(path);
    if (!loaded.model) {
      notes += "(cross-modal rows skipped: " + loaded.error + ")\n";
    } else {
      engine::Transcriber transcriber(*loaded.model);
      row("transcribe, violin (per 256 hop)", time_per_call([&] {
            g_sink = transcriber.push_hop(x.data() + pos).level_db;
            pos = (pos + 256) % (x.size() - 256);
          }),
          256 / model_rate);
      engine::MidiPlayer player({48000.0, 128});
      player.set_model(std::move(loaded.model));
      std::vector<float> out(128);
      player.note_on(69, 80);
      for (int i = 0; i < 200; ++i) player.process(out.data(), 128);  // past the attack
      row("notes live 48k quantum, violin, 1 note held", time_per_call([&] {
            player.process(out.data(), 128);
            g_sink = out[0];
          }),
          128.0 / 48000.0);
      for (int pitch = 60; pitch < 67; ++pitch) player.note_on(pitch, 80);
      for (int i = 0; i < 200; ++i) player.process(out.data(), 128);
      row("notes live 48k quantum, violin, 8 notes held", time_per_call([&] {
            player.process(out.data(), 128);
            g_sink = out[0];
          }),
          128.0 / 48000.0);
      // 8 fresh notes every 64 quanta ("8 starts": one hop in 32 decodes 8 spectra):
      // the figure is the mean; the worst hop is 8 decodes.
      int quantum = 0;
      row("notes live 48k quantum, violin, 8 starts", time_per_call([&] {
            if (quantum++ % 64 == 0) {
              player.all_notes_off();
              for (int pitch = 60; pitch < 68; ++pitch) player.note_on(pitch + quantum % 12, 80);
            }
            player.process(out.data(), 128);
            g_sink = out[0];
          }),
          128.0 / 48000.0);
    }
  }

  // Grains (docs/grains.md): the drum engine at 48 kHz with its 8 hit voices sounding
  // (a fresh hit whenever one ends) and the path voice, from the trained model
  // shipped (models/grains/drums.tmbl) or, without one, a seeded random model of the `small`
  // sizes (d_z 64, d_e 128, H 256, GRU 256, 13 classes): the same arithmetic. Budget:
  // RT factor <= 0.10 in WebAssembly.
  {
    std::unique_ptr<models::GrainsModel> grains;
    std::string source = "small, random";
    const std::string shipped = std::string(TIMBREL_SOURCE_DIR) + "/models/grains/drums.tmbl";
    if (std::ifstream(shipped)) {
      auto loaded = models::GrainsModel::load_file(shipped);
      if (loaded.model) {
        grains = std::move(loaded.model);
        source = "drums";
      } else {
        notes += "(" + shipped + ": " + loaded.error + ")\n";
      }
    }
    if (!grains) {
      const auto bytes = test::grains_test_model_bytes(test::GrainsSizes::small());
      grains = std::move(models::GrainsModel::load(bytes.data(), bytes.size()).model);
    }
    if (grains) {
      engine::GrainSynth synth(*grains);
      synth.prepare(48000.0, 128);
      std::vector<float> out(128);
      int quantum = 0;
      auto keep_eight = [&] {
        // 8 voices stay busy: a new hit every 1/8 of a one-shot.
        const int every = int(grains->samples() * 48000.0 / 22050.0 / 128.0 / 8.0);
        if (quantum++ % every == 0) {
          engine::GrainHit hit;
          hit.class_a = hit.class_b = quantum % grains->classes();
          hit.gain = 0.3f;
          synth.trigger(hit);
        }
      };
      for (int i = 0; i < 3000; ++i) {
        keep_eight();
        synth.process(out.data(), 128);
      }
      char label[64];
      std::snprintf(label, sizeof label, "grains 48k quantum, %s, 8 voices", source.c_str());
      row(label, time_per_call([&] {
            keep_eight();
            synth.process(out.data(), 128);
            g_sink = out[0];
          }),
          128.0 / 48000.0);
      synth.set_path(true, 0.1f, 0.1f, 0, 0.5f);
      std::snprintf(label, sizeof label, "grains 48k quantum, %s, 8 voices + path", source.c_str());
      row(label, time_per_call([&] {
            keep_eight();
            synth.process(out.data(), 128);
            g_sink = out[0];
          }),
          128.0 / 48000.0);
      {
        // The figure above is a mean; a quantum's deadline holds for each one. The
        // voices make their grains ahead, spread over the quanta, so the worst
        // quantum stays near the mean instead of holding a whole hop's 8 grains.
        using clock = std::chrono::steady_clock;
        std::vector<double> times;
        for (int i = 0; i < 4000; ++i) {
          const auto start = clock::now();
          keep_eight();
          synth.process(out.data(), 128);
          times.push_back(std::chrono::duration<double>(clock::now() - start).count());
        }
        std::sort(times.begin(), times.end());
        char line[200];
        std::snprintf(line, sizeof line,
                      "grains 48k quanta (%s, 8 voices + path): median %.1f us, 99th percentile "
                      "%.1f us, worst %.1f us of a 2667 us quantum\n",
                      source.c_str(), 1e6 * times[times.size() / 2],
                      1e6 * times[times.size() * 99 / 100], 1e6 * times.back());
        notes += line;
      }
      std::vector<float> grain(2048, 0.01f), mu(size_t(grains->latent()));
      row("grains: one grain encoded (beat-box onset)", time_per_call([&] {
            grains->encode_grain(grain.data(), mu.data(), nullptr);
            g_sink = mu[0];
          }),
          2048 / model_rate);
    }
  }

  // The pitched model (models/grains/instruments.tmbl, when shipped): 8 voices of
  // instruments at changing pitches (its c is longer: one-hot + 30 pitch-code values).
  {
    const std::string shipped = std::string(TIMBREL_SOURCE_DIR) + "/models/grains/instruments.tmbl";
    if (std::ifstream(shipped)) {
      auto loaded = models::GrainsModel::load_file(shipped);
      if (!loaded.model) {
        notes += "(" + shipped + ": " + loaded.error + ")\n";
      } else {
        auto& model = *loaded.model;
        engine::GrainSynth synth(model);
        synth.prepare(48000.0, 128);
        std::vector<float> out(128);
        int quantum = 0;
        const int every = int(model.samples() * 48000.0 / 22050.0 / 128.0 / 8.0);
        auto keep_eight = [&] {
          if (quantum++ % every == 0) {
            engine::GrainHit hit;
            hit.class_a = hit.class_b = quantum % model.classes();
            hit.pitch = float(48 + quantum % 36);
            hit.gain = 0.3f;
            synth.trigger(hit);
          }
        };
        for (int i = 0; i < 3000; ++i) {
          keep_eight();
          synth.process(out.data(), 128);
        }
        row("grains 48k quantum, instruments, 8 voices", time_per_call([&] {
              keep_eight();
              synth.process(out.data(), 128);
              g_sink = out[0];
            }),
            128.0 / 48000.0);
      }
    }
  }

  // Model steps: argv[1] is a folder with the benchmark graphs (build/bench-models, from
  // timbrel.golden.nn
  // --bench).
  const std::string models = argc > 1 ? argv[1] : "";
  for (const char* name : {"decoder_hop256", "decoder_hop"}) {
    if (models.empty()) break;
    auto loaded = nn::load_model_file(models + "/" + name + ".tmbl");
    if (!loaded.model) {
      std::printf("| %-44s | %s |\n", name, loaded.error.c_str());
      continue;
    }
    auto& graph = loaded.model->graph("main");
    std::vector<float> in(size_t(graph.input_size()), 0.1f), out(size_t(graph.output_size()));
    char label[64];
    std::snprintf(label, sizeof label, "model step %s (%d -> %d)", name, graph.input_size(),
                  graph.output_size());
    row(label, time_per_call([&] {
          graph.step(in.data(), out.data());
          g_sink = out[0];
        }),
        256 / model_rate);
  }

  if (!notes.empty()) std::printf("\n%s", notes.c_str());
  std::printf(
      "\nResampler quality (speexdsp quality 10; tones 100 Hz-9 kHz, aliases from Nyquist + 675 "
      "Hz)\n\n");
  std::printf("| %-18s | %17s | %20s | %16s |\n", "conversion", "passband ripple",
              "worst spurious/image", "worst alias");
  std::printf(
      "|--------------------|-------------------|----------------------|------------------|\n");
  for (auto [in_rate, out_rate] : {std::pair{44100, 22050}, std::pair{48000, 22050},
                                   std::pair{22050, 44100}, std::pair{22050, 48000}}) {
    const auto q = test::measure_resampler(in_rate, out_rate);
    char conversion[32], alias[32];
    std::snprintf(conversion, sizeof conversion, "%d -> %d", in_rate, out_rate);
    if (in_rate > out_rate)
      std::snprintf(alias, sizeof alias, "%.1f dB", q.worst_alias_db);
    else
      std::snprintf(alias, sizeof alias, "n/a");
    std::printf("| %-18s | %14.5f dB | %17.1f dB | %16s |\n", conversion, q.passband_ripple_db,
                q.worst_spurious_db, alias);
  }

  std::string switch_notes;
  model_switch_table(TIMBREL_SOURCE_DIR, &switch_notes);
  if (!switch_notes.empty()) std::printf("\n%s", switch_notes.c_str());
  return 0;
}
