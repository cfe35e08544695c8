#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "signals.h"
#include "timbrel/dsp/yin.h"
#include "timbrel/models/vq_timbre.h"
#include "vq_golden.h"
#include "vq_test_model.h"

using namespace timbrel;
namespace fs = std::filesystem;
using models::TransferMode;
using models::VqTimbre;

namespace {

std::unique_ptr<VqTimbre> test_model(const test::VqTestModelOptions& options = {}) {
  return test::load_vq_test_model(options);
}

std::string validate_error(const nlohmann::json& header,
                           const std::map<std::string, test::TestTensor>& tensors) {
  const auto bytes = test::write_tmbl(header, tensors);
  auto loaded = nn::load_model(bytes.data(), bytes.size());
  if (!loaded.model) return "loader: " + loaded.error;
  return VqTimbre::validate(*loaded.model);
}

// f0 of every voiced 1024-sample frame (hop 256) of a 22050 Hz signal, from start.
std::vector<double> voiced_f0(const std::vector<float>& y, size_t start) {
  dsp::Yin yin({22050.0, 1024, 50.0, 2000.0, 0.15});
  std::vector<double> f0;
  for (size_t s = start; s + 1024 <= y.size(); s += 256) {
    const auto p = yin.estimate(y.data() + s);
    if (p.voiced) f0.push_back(p.f0_hz);
  }
  return f0;
}

double cents(double f, double reference) { return 1200.0 * std::log2(f / reference); }

double rms(const float* x, size_t n) {
  double e = 0.0;
  for (size_t i = 0; i < n; ++i) e += double(x[i]) * x[i];
  return std::sqrt(e / double(std::max<size_t>(n, 1)));
}

}  // namespace

TEST_CASE("VqTimbre reproduces the PyTorch golden renders (tests/golden/vq)", "[vq][golden]") {
  const fs::path dir = test::vq_golden_dir();
  if (!fs::is_directory(dir))
    FAIL("vq golden folder " << dir.string()
                             << " is missing: the PyTorch side writes it (model.tmbl, input.npy, "
                                "pitch.npy, out_pitch.npy, out_pitch_up1.npy, out_noise.npy, "
                                "meta.json); set TIMBREL_VQ_GOLDEN_DIR to check another folder");
  for (const char* file : {"model.tmbl", "input.npy", "pitch.npy", "meta.json"})
    if (!fs::exists(dir / file)) FAIL("vq golden folder " << dir.string() << " has no " << file);
  const auto meta = test::read_vq_golden_meta(dir / "meta.json");
  auto loaded = VqTimbre::load_file((dir / "model.tmbl").string());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  VqTimbre& model = *loaded.model;
  const auto x = test::read_npy_signal((dir / "input.npy").string());
  const auto pitch = test::read_vq_golden_pitch(dir / "pitch.npy");
  INFO("meta.json: noise seed " << meta.seed << ", tolerance " << meta.relative << " max|golden| + "
                                << meta.absolute);
  INFO("input " << x.size() << " samples, " << pitch.size() << " hops (render_hops would be "
                << VqTimbre::render_hops(x.size()) << ")");

  for (const auto& c : test::vq_golden_cases()) {
    if (!fs::exists(dir / c.file))
      FAIL("vq golden folder " << dir.string() << " has no " << c.file);
    const auto want = test::read_npy_signal((dir / c.file).string());
    VqTimbre::RenderOptions options;
    options.mode = c.mode;
    options.octaves = c.octaves;
    test::apply_vq_golden_render(meta, c.file, &options);
    options.pitch = pitch;
    std::vector<VqTimbre::RenderOptions::Hop> trace;
    options.trace = &trace;
    const auto got = model.render(x.data(), x.size(), options);
    REQUIRE(trace.size() == pitch.size());
    // Per-hop intermediates, where the golden folder has them: they say where
    // a difference starts.
    const std::string stem = fs::path(c.file).stem().string();  // out_pitch ...
    const fs::path gains = dir / ("gain" + stem.substr(3) + ".npy");
    if (fs::exists(gains)) {
      const auto want_gain = test::read_npy_signal(gains.string());
      REQUIRE(want_gain.size() == trace.size());
      double worst_gain = 0.0;
      size_t first_bad = trace.size();
      for (size_t t = 0; t < trace.size(); ++t) {
        const double d = std::fabs(double(trace[t].gain) - want_gain[t]);
        if (d > 1e-5 * (1.0 + std::fabs(want_gain[t])) && first_bad == trace.size()) first_bad = t;
        worst_gain = std::max(worst_gain, d);
      }
      INFO(gains.filename().string()
           << ": max |gain error| " << worst_gain << ", first hop off " << first_bad);
      CHECK(first_bad == trace.size());
    }
    REQUIRE(got.size() == want.size());
    double peak = 0.0, worst = 0.0;
    size_t worst_at = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      peak = std::max(peak, double(std::fabs(want[i])));
      const double error = std::fabs(double(got[i]) - double(want[i]));
      if (error > worst) worst = error, worst_at = i;
    }
    const double allowed = meta.absolute + meta.relative * peak;
    INFO(c.file << ": max |core - golden| = " << worst << " at sample " << worst_at << " (hop "
                << worst_at / 256 << "), max |golden| = " << peak << ", allowed " << allowed
                << " = " << meta.absolute << " + " << meta.relative << " max|golden|");
    CHECK(peak > 0.0);
    CHECK(worst <= allowed);
  }

  // Intermediates that do not depend on the render's settings.
  {
    VqTimbre::RenderOptions options;
    options.pitch = pitch;
    options.seed = meta.seed;
    std::vector<VqTimbre::RenderOptions::Hop> trace;
    options.trace = &trace;
    model.render(x.data(), x.size(), options);
    if (fs::exists(dir / "loudness.npy")) {
      const auto want = test::read_npy_signal((dir / "loudness.npy").string());
      REQUIRE(want.size() == trace.size());
      double worst = 0.0;
      for (size_t t = 0; t < trace.size(); ++t)
        worst = std::max(worst, double(std::fabs(trace[t].loudness - want[t])));
      INFO("loudness.npy: max |error| " << worst);
      CHECK(worst <= 1e-5);
    }
    if (fs::exists(dir / "codes.npy") && model.quantized()) {
      const auto want = test::read_npy((dir / "codes.npy").string());
      REQUIRE(want.values.size() == trace.size());
      size_t differ = 0, first = trace.size();
      for (size_t t = 0; t < trace.size(); ++t)
        if (trace[t].code != int(want.values[t])) {
          ++differ;
          first = std::min(first, t);
        }
      INFO("codes.npy: " << differ << " hops choose another code, the first at hop " << first);
      CHECK(differ == 0);
    }
  }

  // The same renders with the core's YIN instead of pitch.npy: the pitch track
  // should be the one Python computed (dsp_reference's YIN == the core's).
  const auto track = model.pitch_track(x.data(), x.size(), pitch.size());
  size_t voicing_differs = 0, f0_differs = 0;
  for (size_t t = 0; t < pitch.size(); ++t) {
    voicing_differs += track[t].voiced != pitch[t].voiced;
    if (track[t].voiced && pitch[t].voiced &&
        std::fabs(track[t].f0_hz - pitch[t].f0_hz) > 1e-3 * pitch[t].f0_hz)
      ++f0_differs;
  }
  INFO("hops whose voicing differs: " << voicing_differs << ", f0 differs by > 0.1 %: "
                                      << f0_differs << " of " << pitch.size());
  CHECK(voicing_differs <= pitch.size() / 100);
  CHECK(f0_differs <= pitch.size() / 100);
}

TEST_CASE("VqTimbre::validate names what is wrong with a model", "[vq]") {
  test::VqTestModelOptions o;
  const auto header = test::vq_test_header(o);
  const auto tensors = test::vq_test_tensors(o);
  CHECK(validate_error(header, tensors).empty());

  auto h = header;
  h["family"] = "test";
  CHECK_THAT(validate_error(h, tensors), Catch::Contains("not 'vq_timbre'"));
  h = header;
  h["metadata"]["sample_rate"] = 44100;
  CHECK_THAT(validate_error(h, tensors),
             Catch::Contains("sample_rate") && Catch::Contains("22050"));
  h = header;
  h["metadata"]["hop"] = 512;
  CHECK_THAT(validate_error(h, tensors), Catch::Contains("'hop' is 512"));
  h = header;
  h["metadata"].erase("synthesis_window");
  CHECK_THAT(validate_error(h, tensors), Catch::Contains("no 'synthesis_window'"));
  h = header;
  h["metadata"]["latent"] = 9;
  CHECK_THAT(validate_error(h, tensors),
             Catch::Contains("graph 'encoder'") && Catch::Contains("latent 9"));
  h = header;
  h["metadata"].erase("hidden");
  CHECK_THAT(validate_error(h, tensors), Catch::Contains("'hidden'"));
  h = header;
  h["metadata"]["codes"] = 32;
  CHECK_THAT(validate_error(h, tensors), Catch::Contains("codebook has 16 codes"));
  h = header;
  h["graphs"].erase("noise");
  auto t = tensors;
  t.erase("noise.weight");
  t.erase("noise.bias");
  CHECK_THAT(validate_error(h, t), Catch::Contains("no 'noise' graph"));
  h = header;
  h["graphs"].erase("quantizer");
  t = tensors;
  t.erase("quantizer.codebook");
  CHECK_THAT(validate_error(h, t), Catch::Contains("no 'quantizer' graph"));
  h["metadata"]["quantized"] = false;
  CHECK(validate_error(h, t).empty());  // the baseline auto-encoder
  h = header;
  h["metadata"]["quantized"] = false;
  CHECK_THAT(validate_error(h, tensors), Catch::Contains("has a 'quantizer' graph"));
  // Wrong head sizes: a harmonic filter of 513 bins (a window-1024 synthesis).
  h = header;
  t = tensors;
  t["harmonic.weight"].shape = {513, o.hidden};
  t["harmonic.weight"].data.resize(size_t(513 * o.hidden), 0.1f);
  t["harmonic.bias"].shape = {513};
  t["harmonic.bias"].data.resize(513, 0.0f);
  CHECK_THAT(validate_error(h, t), Catch::Contains("graph 'harmonic' maps 24 -> 513") &&
                                       Catch::Contains("expected 24 -> 257"));
  // The old single-filter layout (before harmonic/noise) is named as such.
  h = header;
  h["graphs"]["filter"] = h["graphs"]["harmonic"];
  h["graphs"].erase("harmonic");
  CHECK_THAT(validate_error(h, tensors), Catch::Contains("no 'harmonic' graph"));

  const std::vector<std::uint8_t> junk = {'n', 'o', 't', ' ', 'a', ' ', 'm', 'o', 'd',
                                          'e', 'l', '.', '.', '.', '.', '.', '.'};
  auto bad = VqTimbre::load(junk.data(), junk.size());
  CHECK_FALSE(bad.model);
  CHECK_THAT(bad.error, Catch::Contains("bad magic"));
  CHECK_THAT(VqTimbre::load_file("/nonexistent/violin.tmbl").error, Catch::Contains("cannot open"));
}

TEST_CASE("VqTimbre hops do not allocate, and render() is the hop stream without its delay",
          "[vq][realtime]") {
  test::VqTestModelOptions loud;
  loud.gain_bias = 0.0f;  // a model, not an engine: no output guard, any level
  auto model = test_model(loud);
  const auto x = test::harmonic_tone(220.0, 22050.0, 1.0, 4, 0.4);
  for (TransferMode mode : {TransferMode::kPitch, TransferMode::kNoise}) {
    VqTimbre::RenderOptions options;
    options.mode = mode;
    const auto offline = model->render(x.data(), x.size(), options);
    model->set_mode(mode);
    model->reset();
    std::vector<float> frame(1024, 0.0f), hop(256), streamed;
    streamed.reserve(x.size() + 1024);
    long allocations = 0;
    for (size_t t = 0; (t + 1) * 256 <= x.size(); ++t) {
      std::copy(frame.begin() + 256, frame.end(), frame.begin());
      std::copy(x.begin() + long(t * 256), x.begin() + long(t * 256 + 256), frame.end() - 256);
      test::AllocationCounter counter;
      model->process_hop(frame.data(), hop.data());
      allocations += counter.count();
      streamed.insert(streamed.end(), hop.begin(), hop.end());
    }
    CHECK(allocations == 0);
    double worst = 0.0;
    for (size_t i = 256; i < streamed.size(); ++i)
      worst = std::max(worst, double(std::fabs(streamed[i] - offline[i - 256])));
    INFO(models::transfer_mode_name(mode) << ": max |stream - render| " << worst);
    CHECK(worst == 0.0);
    CHECK(rms(offline.data(), offline.size()) > 1e-3);
  }
}

TEST_CASE("VqTimbre in pitch mode follows the input's f0, transposed by octaves", "[vq]") {
  auto model = test_model();
  for (double f0 : {220.0, 330.0}) {
    const auto x = test::harmonic_tone(f0, 22050.0, 1.5, 5, 0.4);
    for (int octaves : {0, 1, -1}) {
      VqTimbre::RenderOptions options;
      options.octaves = octaves;
      const auto y = model->render(x.data(), x.size(), options);
      const auto f = voiced_f0(y, 4096);
      const size_t frames = (y.size() - 4096 - 1024) / 256 + 1;
      const double expected = f0 * std::pow(2.0, octaves);
      INFO(f0 << " Hz input, octaves " << octaves << ": " << f.size() << " of " << frames
              << " output frames voiced");
      REQUIRE(f.size() >= frames * 9 / 10);
      double worst = 0.0;
      std::string detail;
      for (double v : f) {
        worst = std::max(worst, std::fabs(cents(v, expected)));
        if (std::fabs(cents(v, expected)) > 5) detail += std::to_string(v) + " ";
      }
      INFO("worst |f0 error| " << worst << " cents from " << expected << " Hz: " << detail);
      CHECK(worst < 5.0);
    }
  }
  // Noise mode: no harmonic excitation, so no pitch to find in the output.
  const auto x = test::harmonic_tone(220.0, 22050.0, 1.0, 5, 0.4);
  VqTimbre::RenderOptions noise;
  noise.mode = TransferMode::kNoise;
  const auto y = model->render(x.data(), x.size(), noise);
  const auto f = voiced_f0(y, 4096);
  CHECK(f.size() <= (y.size() - 4096) / 256 / 10);
  CHECK(rms(y.data(), y.size()) > 1e-4);
}

TEST_CASE("VqTimbre excitation: seed, silence, unvoiced input and the quantizer", "[vq]") {
  auto model = test_model();
  const auto x = test::harmonic_tone(220.0, 22050.0, 0.5, 3, 0.4);
  VqTimbre::RenderOptions options;
  options.mode = TransferMode::kNoise;
  const auto a = model->render(x.data(), x.size(), options);
  const auto b = model->render(x.data(), x.size(), options);
  CHECK(a == b);  // render() starts from reset(): deterministic
  options.seed = 12345;
  const auto c = model->render(x.data(), x.size(), options);
  CHECK(a != c);
  CHECK(model->seed() == VqTimbre::kDefaultSeed);  // render() restored the settings

  // Silence: finite; in pitch mode no harmonic part (voiced never), so the
  // output is the noise branch alone: the same as noise mode.
  const std::vector<float> silence(22050, 0.0f);
  const auto quiet_pitch = model->render(silence.data(), silence.size(), {});
  options = {};
  options.mode = TransferMode::kNoise;
  const auto quiet_noise = model->render(silence.data(), silence.size(), options);
  CHECK(std::all_of(quiet_pitch.begin(), quiet_pitch.end(),
                    [](float v) { return std::isfinite(v); }));
  CHECK(quiet_pitch == quiet_noise);

  // An external pitch that says "voiced" with no usable f0 counts as unvoiced.
  VqTimbre::RenderOptions odd;
  odd.pitch.assign(VqTimbre::render_hops(x.size()), dsp::PitchEstimate{0.0f, 1.0f, true});
  const auto y = model->render(x.data(), x.size(), odd);
  CHECK(std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); }));
  odd.pitch.assign(odd.pitch.size(), dsp::PitchEstimate{std::nanf(""), 1.0f, true});
  CHECK(model->render(x.data(), x.size(), odd) == y);

  CHECK(model->last_code() == -1);  // after render(): reset
  std::vector<float> frame(x.begin(), x.begin() + 1024), hop(256);
  model->process_hop(frame.data(), hop.data());
  CHECK(model->last_code() >= 0);
  CHECK(model->last_code() < 16);
  CHECK(std::isfinite(model->last_gain()));
  CHECK(model->last_loudness() ==
        Approx(20 * std::log10(rms(frame.data(), 1024)) / 50 + 1).margin(1e-5));

  test::VqTestModelOptions baseline;
  baseline.quantized = false;
  auto unquantized = test_model(baseline);
  CHECK_FALSE(unquantized->quantized());
  CHECK(unquantized->last_code() == -1);
  const auto u = unquantized->render(x.data(), x.size(), {});
  CHECK(rms(u.data(), u.size()) > 1e-3);

  const auto info = nlohmann::json::parse(model->info_json());
  CHECK(info["instrument"] == "violin");
  CHECK(info["name"] == "test-violin");
  CHECK(info["codes"] == 16);
  CHECK(info["latent"] == 8);
  CHECK(info["hidden"] == 24);
  CHECK(info["quantized"] == true);
  CHECK(info["f0_range_hz"].size() == 2);
  CHECK(info["training"]["steps"] == 0);
  CHECK(info["descriptor_table"] == false);
}

TEST_CASE("A one-hop YIN octave error does not change the excitation's level", "[vq]") {
  // A 262 Hz note whose hop 20 frame reads as 65 Hz (what YIN does on a
  // glide): heard as it is, that hop's excitation has four times the
  // harmonics, a click. Through the contract's tracker the hop keeps 262 Hz.
  auto model = test_model();
  const auto note = test::harmonic_tone(262.0, 22050.0, 1.0, 5, 0.4);
  const auto low = test::harmonic_tone(65.5, 22050.0, 0.1, 5, 0.4);
  constexpr int kHops = 40, kOutlier = 20;
  auto peaks = [&](bool raw_yin) {
    model->reset();
    dsp::Yin yin({22050.0, 1024, 50.0, 2000.0, 0.15});
    std::vector<float> hop(256);
    std::vector<double> peak;
    for (int t = 0; t < kHops; ++t) {
      const float* frame = t == kOutlier ? low.data() : note.data() + t * 256;
      if (raw_yin)
        model->process_hop(frame, yin.estimate(frame), hop.data());
      else
        model->process_hop(frame, hop.data());
      double p = 0.0;
      for (float v : hop) p = std::max(p, double(std::fabs(v)));
      peak.push_back(p);
    }
    return peak;
  };
  auto worst_jump_db = [&](const std::vector<double>& peak) {
    std::vector<double> steady(peak.begin() + 10, peak.begin() + kOutlier);
    std::sort(steady.begin(), steady.end());
    const double typical = steady[steady.size() / 2];
    double worst = 0.0;
    for (int t = kOutlier; t < kOutlier + 3; ++t) worst = std::max(worst, peak[t] / typical);
    return 20.0 * std::log10(worst);
  };
  const double held = worst_jump_db(peaks(false));
  const double raw = worst_jump_db(peaks(true));
  INFO("largest hop peak after the outlier, above the steady note: " << held << " dB held, " << raw
                                                                     << " dB with raw YIN");
  CHECK(held < 3.0);
  CHECK(raw > held + 3.0);  // the test sees the click it guards against
}

TEST_CASE("suggest_octaves: the median voiced f0 nearest the middle of the model's range", "[vq]") {
  auto model = test_model();  // f0_range_hz 196-1568 Hz: centre 554 Hz
  auto track = [](std::initializer_list<float> f0) {
    std::vector<dsp::PitchEstimate> t;
    for (float f : f0) t.push_back({f, 0.9f, f > 0.0f});
    return t;
  };
  CHECK(model->suggest_octaves(track({550.0f, 560.0f, 0.0f})) == 0);
  CHECK(model->suggest_octaves(track({120.0f, 140.0f, 130.0f, 0.0f})) == 2);  // 130 -> 520 Hz
  CHECK(model->suggest_octaves(track({2200.0f, 2300.0f})) == -2);
  CHECK(model->suggest_octaves(track({10.0f, 10.0f})) == 3);  // clamped
  CHECK(model->suggest_octaves(track({0.0f, 0.0f})) == 0);    // nothing voiced
  CHECK(model->suggest_octaves({}) == 0);
}
