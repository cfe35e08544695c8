// Descriptor-based synthesis: the code table (models/code_analysis.h), code
// selection and streaming (models/descriptor_synth.h), the device-rate player
// (engine/draw_player.h), and the golden render of tests/golden/draw (written
// by `python -m timbrel.golden --only draw` through the native tool).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "timbrel/dsp/frame_analysis.h"
#include "timbrel/engine/draw_player.h"
#include "timbrel/io/wav.h"
#include "timbrel/models/code_analysis.h"
#include "timbrel/models/descriptor_synth.h"
#include "vq_test_model.h"

using namespace timbrel;
namespace fs = std::filesystem;
using models::CodeAnalysis;
using models::CodeDescriptors;
using models::CodeSelector;
using models::Descriptor;
using models::DescriptorSynth;
using models::DrawCurves;
using models::DrawTargets;
using models::TransferMode;
using models::VqTimbre;

namespace {

fs::path draw_golden_dir() { return fs::path(TIMBREL_GOLDEN_DIR) / "draw"; }

std::unique_ptr<VqTimbre> load_vq(const std::vector<std::uint8_t>& bytes) {
  auto loaded = VqTimbre::load(bytes.data(), bytes.size());
  INFO(loaded.error);
  REQUIRE(loaded.model);
  return std::move(loaded.model);
}

std::unique_ptr<DescriptorSynth> draw_golden_synth() {
  const fs::path file = draw_golden_dir() / "model.tmbl";
  if (!fs::exists(file))
    FAIL(file.string() << " is missing: `PYTHONPATH=scripts /usr/bin/python3 -m "
                          "timbrel.golden --only draw` writes it");
  auto loaded = DescriptorSynth::load_file(file.string());
  INFO(loaded.error);
  REQUIRE(loaded.synth);
  return std::move(loaded.synth);
}

// K codes whose descriptors are all `fill` except the ones set afterwards.
CodeDescriptors flat_table(int codes, float fill = 0.0f) {
  CodeDescriptors t;
  for (auto& column : t.values) column.assign(size_t(codes), fill);
  t.voiced_share.assign(size_t(codes), 1.0f);
  return t;
}

// A table for a K-code model where code k has centroid 1000 + 100 k Hz and
// every other descriptor the same value (so only the centroid chooses).
CodeAnalysis ladder_table(int codes) {
  CodeAnalysis a;
  a.reference.f0_hz = 300.0;
  a.pitch = flat_table(codes, 1.0f);
  for (int k = 0; k < codes; ++k) a.pitch[Descriptor::kCentroid][size_t(k)] = 1000.0f + 100.0f * k;
  a.noise = a.pitch;
  return a;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = double(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Core descriptors of every 1024-sample frame (hop 256) of a 22050 Hz
// signal: frame m covers [m 256, m 256 + 1024), its centre at m 256 + 512.
struct Measured {
  std::vector<double> time_s, centroid_hz, f0_hz;
  std::vector<bool> voiced;
};
Measured measure(const std::vector<float>& y) {
  Measured m;
  for (const auto& f : dsp::analyse_frames(y.data(), y.size(), 22050.0)) {
    m.time_s.push_back(f.time_s);
    m.centroid_hz.push_back(f.descriptors.centroid_hz);
    m.f0_hz.push_back(f.pitch.f0_hz);
    m.voiced.push_back(f.pitch.voiced);
  }
  return m;
}

// A vq_test_model header with a descriptor table in its metadata.
std::vector<std::uint8_t> model_with_table(const nlohmann::json& table) {
  test::VqTestModelOptions o;
  auto header = test::vq_test_header(o);
  header["metadata"]["descriptor_table"] = table;
  return test::write_tmbl(header, test::vq_test_tensors(o));
}

}  // namespace

TEST_CASE("CodeSelector: nearest code by weighted, normalised distance", "[draw][selection]") {
  CodeDescriptors t = flat_table(5);
  t[Descriptor::kCentroid] = {1000, 2000, 3000, 4000, 5000};
  t[Descriptor::kBandwidth] = {500, 400, 300, 200, 100};
  const CodeSelector s(t);
  REQUIRE(s.codes() == 5);
  // Scale: the 5th-95th percentile spread (numpy's linear interpolation).
  CHECK(s.scale(Descriptor::kCentroid) == Approx(3600.0));
  CHECK(s.scale(Descriptor::kBandwidth) == Approx(360.0));
  CHECK(s.range(Descriptor::kCentroid).min == 1000.0f);
  CHECK(s.range(Descriptor::kCentroid).max == 5000.0f);
  CHECK(s.scale(Descriptor::kFlatness) == 1.0f);  // all equal: 1, no division by zero

  DrawTargets target;
  target.set(Descriptor::kCentroid, 2900.0f);
  CHECK(s.nearest(target.value.data(), target.weight.data()) == 2);
  // One descriptor: D = |difference| / scale.
  CHECK(s.distance(2, target.value.data(), target.weight.data()) == Approx(100.0 / 3600.0));
  CHECK(s.distance(0, target.value.data(), target.weight.data()) == Approx(1900.0 / 3600.0));

  // Two descriptors: D = sqrt(sum w (diff / scale)^2 / sum w); check against brute force.
  target.set(Descriptor::kCentroid, 2500.0f, 1.0f);
  target.set(Descriptor::kBandwidth, 100.0f, 1.0f);
  auto brute = [&](const DrawTargets& tt) {
    int best = 0;
    double best_d = 1e300;
    for (int k = 0; k < 5; ++k) {
      const double dc = (tt.value[0] - t[Descriptor::kCentroid][size_t(k)]) / 3600.0;
      const double db = (tt.value[1] - t[Descriptor::kBandwidth][size_t(k)]) / 360.0;
      const double d = std::sqrt((tt.weight[0] * dc * dc + tt.weight[1] * db * db) /
                                 (tt.weight[0] + tt.weight[1]));
      CHECK(s.distance(k, tt.value.data(), tt.weight.data()) == Approx(d));
      if (d < best_d) best_d = d, best = k;
    }
    return best;
  };
  CHECK(brute(target) == 3);
  CHECK(s.nearest(target.value.data(), target.weight.data()) == 3);
  // The weights decide: bandwidth almost ignored -> the centroid's tie
  // between codes 1 and 2 goes to the one nearer in bandwidth (2).
  target.set(Descriptor::kBandwidth, 100.0f, 0.01f);
  CHECK(brute(target) == 2);
  CHECK(s.nearest(target.value.data(), target.weight.data()) == 2);
  // Bandwidth dominant -> code 4.
  target.set(Descriptor::kCentroid, 2500.0f, 0.01f);
  target.set(Descriptor::kBandwidth, 100.0f, 1.0f);
  CHECK(s.nearest(target.value.data(), target.weight.data()) == 4);
}

TEST_CASE("CodeSelector: a code far under the median code is silence, on no spectral axis",
          "[draw][selection]") {
  // The alto sax's case: its brightest codes decode near -80 dBFS while the
  // typical code is at -37. Above -90 dB they used to count, so drawing
  // brightness up went silent.
  CodeDescriptors t = flat_table(6);
  t[Descriptor::kCentroid] = {1000, 1200, 1400, 1600, 2600, 2800};
  t[Descriptor::kLoudness] = {-36, -37, -35, -38, -80, -75};
  const CodeSelector s(t);
  CHECK(s.range(Descriptor::kCentroid).max == 1600.0f);  // codes 4, 5: silent
  // The loudness axis stops at kLoudnessAxisFloorDb (-57 dB), over silent codes or not.
  CHECK(s.range(Descriptor::kLoudness).min == models::kLoudnessAxisFloorDb);
  CHECK(s.range(Descriptor::kLoudness).max == -35.0f);
  DrawTargets bright;
  bright.set(Descriptor::kCentroid, 2700.0f);
  CHECK(s.nearest(bright.value.data(), bright.weight.data()) == 3);
  // Within 30 dB of the median: audible.
  t[Descriptor::kLoudness] = {-36, -37, -35, -38, -60, -64};
  CHECK(CodeSelector(t).range(Descriptor::kCentroid).max == 2800.0f);
  // Loudness targets still reach every code: a target under the axis picks the quietest.
  DrawTargets quiet;
  quiet.set(Descriptor::kLoudness, -70.0f);
  CHECK(CodeSelector(t).nearest(quiet.value.data(), quiet.weight.data()) == 5);
  // A model whose every code lies under the floor keeps its own range.
  t[Descriptor::kLoudness] = {-66, -67, -65, -68, -70, -74};
  CHECK(CodeSelector(t).range(Descriptor::kLoudness).min == -74.0f);
  CHECK(CodeSelector(t).range(Descriptor::kLoudness).max == -65.0f);
}

TEST_CASE("CodeSelector: ties go to the lowest index, hysteresis keeps a code within its margin",
          "[draw][selection]") {
  CodeDescriptors t = flat_table(5);
  t[Descriptor::kCentroid] = {1000, 2000, 3000, 4000, 5000};
  const CodeSelector s(t);
  DrawTargets target;
  target.set(Descriptor::kCentroid, 2500.0f);  // exactly between codes 1 and 2
  float distance = -1;
  CHECK(s.nearest(target.value.data(), target.weight.data(), &distance) == 1);
  CHECK(distance == Approx(500.0 / 3600.0));

  CodeDescriptors twins = flat_table(4);
  twins[Descriptor::kCentroid] = {3000, 2000, 2000, 1000};  // codes 1 and 2 identical
  const CodeSelector s2(twins);
  target.set(Descriptor::kCentroid, 2100.0f);
  CHECK(s2.nearest(target.value.data(), target.weight.data()) == 1);

  // Nothing drawn: every code at distance 0 -> code 0.
  DrawTargets none;
  CHECK(s.nearest(none.value.data(), none.weight.data(), &distance) == 0);
  CHECK(distance == 0.0f);

  // Hysteresis: current code 1 (2000 Hz), target 2550 Hz: code 2 is nearer by
  // (550 - 450) / 3600 = 0.0278 of the range.
  target.set(Descriptor::kCentroid, 2550.0f);
  const float* v = target.value.data();
  const float* w = target.weight.data();
  CHECK(s.choose(v, w, -1, 0.05f) == 2);  // no current code: the nearest
  CHECK(s.choose(v, w, 1, 0.0f) == 2);    // no margin: the nearest
  CHECK(s.choose(v, w, 1, 0.02f) == 2);   // better by more than the margin: switch
  CHECK(s.choose(v, w, 1, 0.05f) == 1);   // within the margin: keep
  CHECK(s.choose(v, w, 0, 0.05f) == 2);   // code 0 is far (0.153 worse): switch
  CHECK(s.choose(v, w, 2, 0.05f) == 2);   // already the nearest
  CHECK(s.choose(v, w, 99, 0.05f) == 2);  // an invalid current code: the nearest
}

TEST_CASE("DescriptorSynth: smoothing and hysteresis of the chosen codes", "[draw][selection]") {
  const auto bytes = test::vq_test_model_bytes();  // 16 codes
  DescriptorSynth synth(load_vq(bytes), ladder_table(16));
  // A step from 1000 Hz (code 0) to 2500 Hz (code 15) at hop 10.
  DrawCurves curves;
  curves.hops = 40;
  auto& c = curves.curve(Descriptor::kCentroid);
  for (size_t t = 0; t < curves.hops; ++t) c.push_back(t < 10 ? 1000.0f : 2500.0f);

  std::vector<int> codes;
  models::DrawSettings settings;
  synth.set_settings(settings);
  synth.render(curves, &codes);
  REQUIRE(codes.size() == 40);
  for (size_t t = 0; t < 40; ++t) CHECK(codes[t] == (t < 10 ? 0 : 15));

  // One-pole smoothing, time constant 4 hops: s += (1 - e^(-1/4)) (x - s).
  settings.smoothing_hops = 4.0f;
  synth.set_settings(settings);
  synth.render(curves, &codes);
  const double follow = 1.0 - std::exp(-1.0 / 4.0);
  double smoothed = 1000.0;
  for (size_t t = 0; t < 40; ++t) {
    if (t > 0) smoothed += follow * (c[t] - smoothed);
    const int expected = std::clamp(int(std::floor((smoothed - 1000.0) / 100.0 + 0.5)), 0, 15);
    INFO("hop " << t << ": smoothed target " << smoothed);
    // Away from the exact midpoints between codes, the nearest code is the rounded one.
    if (std::fabs(std::fmod(smoothed - 1000.0, 100.0) - 50.0) > 1.0) CHECK(codes[t] == expected);
  }
  CHECK(codes[10] > 0);
  CHECK(codes[10] < 15);  // glides instead of jumping
  CHECK(std::is_sorted(codes.begin(), codes.end()));
  CHECK(codes.back() == 15);

  // Hysteresis on a slow ramp: fewer code changes, each code kept while the
  // target is within the margin of its neighbour.
  DrawCurves ramp;
  ramp.hops = 200;
  for (size_t t = 0; t < ramp.hops; ++t)
    ramp.curve(Descriptor::kCentroid).push_back(1000.0f + 1500.0f * float(t) / 199.0f);
  auto changes = [](const std::vector<int>& k) {
    int n = 0;
    for (size_t t = 1; t < k.size(); ++t) n += k[t] != k[t - 1];
    return n;
  };
  settings = {};
  synth.set_settings(settings);
  synth.render(ramp, &codes);
  CHECK(changes(codes) == 15);
  settings.hysteresis = 0.5f;  // half the 5-95 % range (1350 Hz): 675 Hz
  synth.set_settings(settings);
  synth.render(ramp, &codes);
  CHECK(changes(codes) >= 1);
  CHECK(changes(codes) <= 3);
  CHECK(codes.front() == 0);
}

TEST_CASE("DescriptorSynth streams without allocating; render is the stream without its delay",
          "[draw][realtime]") {
  auto synth = draw_golden_synth();
  DrawCurves curves;
  curves.hops = 60;
  for (size_t t = 0; t < curves.hops; ++t) {
    curves.curve(Descriptor::kCentroid).push_back(1500.0f + 30.0f * float(t));
    curves.curve(Descriptor::kF0).push_back(300.0f + 2.0f * float(t));
    curves.gain.push_back(t < 30 ? 1.0f : 0.5f);
  }
  for (TransferMode mode : {TransferMode::kPitch, TransferMode::kNoise}) {
    models::DrawSettings settings;
    settings.mode = mode;
    settings.smoothing_hops = 2.0f;
    settings.hysteresis = 0.05f;
    synth->set_settings(settings);
    const auto offline = synth->render(curves);
    synth->reset();
    std::vector<float> hop(256), streamed;
    streamed.reserve((curves.hops + 1) * 256);
    long allocations = 0;
    for (size_t t = 0; t <= curves.hops; ++t) {
      const DrawTargets targets = curves.at(std::min(t, curves.hops - 1));
      test::AllocationCounter counter;
      synth->process_hop(targets, hop.data());
      allocations += counter.count();
      streamed.insert(streamed.end(), hop.begin(), hop.end());
    }
    {
      test::AllocationCounter counter;
      synth->process_code_hop(3, 0.8f, hop.data());
      synth->set_settings(settings);
      allocations += counter.count();
    }
    CHECK(allocations == 0);
    REQUIRE(offline.size() == curves.hops * 256);
    double worst = 0.0;
    for (size_t i = 0; i < offline.size(); ++i)
      worst = std::max(worst, double(std::fabs(streamed[i + 256] - offline[i])));
    INFO(models::transfer_mode_name(mode) << ": max |stream - render| " << worst);
    CHECK(worst == 0.0);

    // In pieces (a Worker's progress bar) = in one go.
    std::vector<float> pieces(offline.size());
    synth->begin_render();
    int calls = 1;
    while (!synth->render_some(curves, 7, pieces.data())) ++calls;
    CHECK(calls == int((curves.hops + 1 + 6) / 7));
    CHECK(pieces == offline);
  }
}

TEST_CASE("Code analysis: deterministic, K entries per descriptor, stored and checked",
          "[draw][analysis]") {
  const auto bytes = test::vq_test_model_bytes();
  auto model = load_vq(bytes);
  const CodeAnalysis a = models::analyse_codes(*model);
  const CodeAnalysis b = models::analyse_codes(*model);
  CHECK(a.to_json() == b.to_json());
  CHECK(a.codes() == 16);
  for (const auto* mode : {&a.pitch, &a.noise}) {
    for (const auto& column : mode->values) CHECK(column.size() == 16);
    CHECK(mode->voiced_share.size() == 16);
  }
  // Reference: the geometric centre of f0_range_hz [196, 1568], loud 0.3.
  CHECK(a.reference.f0_hz == Approx(std::sqrt(196.0 * 1568.0)).margin(0.01));
  CHECK(a.reference.loudness == Approx(0.3));
  for (float v : a.pitch[Descriptor::kF0]) CHECK(v == Approx(a.reference.f0_hz).epsilon(0.01));
  for (float v : a.pitch.voiced_share) CHECK(v == 1.0f);
  for (float v : a.noise.voiced_share) CHECK(v == 0.0f);  // no harmonic excitation: no pitch
  for (float v : a.pitch[Descriptor::kLoudness]) CHECK(v > -100.0f);
  CHECK(model->mode() == TransferMode::kPitch);  // the model's settings are restored
  CHECK(model->hops() == 0);

  // JSON round trip; the table in a model's metadata is read back.
  CodeAnalysis parsed;
  REQUIRE(CodeAnalysis::from_json(a.to_json(), 16, &parsed) == "");
  CHECK(parsed.to_json() == a.to_json());
  const auto with_table = model_with_table(nlohmann::json::parse(a.to_json()));
  auto stored_model = load_vq(with_table);
  bool present = false;
  CodeAnalysis stored;
  CHECK(CodeAnalysis::from_model(*stored_model, &stored, &present) == "");
  CHECK(present);
  CHECK(stored.to_json() == a.to_json());
  CHECK(nlohmann::json::parse(stored_model->info_json())["descriptor_table"] == true);
  // The transfer engine does not care about the table.
  CHECK(VqTimbre::validate(stored_model->model()) == "");

  // Without a table.
  CHECK_FALSE(CodeAnalysis::from_model(*model, &stored, &present).empty());
  CHECK_FALSE(present);
  auto missing = DescriptorSynth::load(bytes.data(), bytes.size());
  CHECK_FALSE(missing.synth);
  CHECK_THAT(missing.error, Catch::Contains("has no descriptor table") &&
                                Catch::Contains("python3 -m timbrel.export.code_table"));
  auto analysed = DescriptorSynth::load(bytes.data(), bytes.size(), true);
  INFO(analysed.error);
  REQUIRE(analysed.synth);
  CHECK(analysed.synth->table().to_json() == a.to_json());
  auto from_stored = DescriptorSynth::load(with_table.data(), with_table.size());
  REQUIRE(from_stored.synth);

  // A table of the wrong length, or with a hole, is refused with a clear message.
  auto short_table = nlohmann::json::parse(a.to_json());
  short_table["pitch"]["centroid_hz"].erase(0);
  const auto bad = model_with_table(short_table);
  auto refused = DescriptorSynth::load(bad.data(), bad.size());
  CHECK_FALSE(refused.synth);
  CHECK_THAT(refused.error, Catch::Contains("descriptor_table.pitch.centroid_hz has 15 entries, "
                                            "the model has 16 codes"));
  auto holey = nlohmann::json::parse(a.to_json());
  holey["noise"].erase("rolloff_hz");
  CHECK(CodeAnalysis::from_json(holey.dump(), 16, &parsed) ==
        "descriptor_table.noise has no 'rolloff_hz'");
  holey = nlohmann::json::parse(a.to_json());
  holey["noise"]["flatness"][3] = "loud";
  CHECK(CodeAnalysis::from_json(holey.dump(), 16, &parsed) ==
        "descriptor_table.noise.flatness[3] is not a finite number");
  CHECK_THAT(CodeAnalysis::from_json("[1, 2]", 16, &parsed), Catch::Contains("not a JSON object"));
  CHECK_THROWS_WITH(DescriptorSynth(load_vq(bytes), ladder_table(12)),
                    Catch::Contains("the table describes 12 codes"));

  // An unquantized model has nothing to analyse.
  test::VqTestModelOptions baseline;
  baseline.quantized = false;
  auto plain = load_vq(test::vq_test_model_bytes(baseline));
  CHECK_THROWS_WITH(models::analyse_codes(*plain), Catch::Contains("not quantized"));

  // The 2D map of the codebook: finite, within [-1, 1], deterministic.
  const auto xy = models::codebook_projection(*model);
  REQUIRE(xy.size() == 32);
  for (float v : xy) CHECK((std::isfinite(v) && std::fabs(v) <= 1.0f));
  CHECK(xy == models::codebook_projection(*model));
  float largest = 0.0f;
  for (float v : xy) largest = std::max(largest, std::fabs(v));
  CHECK(largest == 1.0f);
}

TEST_CASE("Descriptor names and ranges", "[draw]") {
  Descriptor d;
  CHECK(models::parse_descriptor("centroid", &d));
  CHECK(d == Descriptor::kCentroid);
  CHECK(models::parse_descriptor("loudness_db", &d));
  CHECK(d == Descriptor::kLoudness);
  CHECK_FALSE(models::parse_descriptor("brightness", &d));
  for (Descriptor x : models::kAllDescriptors) {
    Descriptor back;
    CHECK(models::parse_descriptor(models::descriptor_name(x), &back));
    CHECK(back == x);
  }
  auto synth = draw_golden_synth();
  const auto& table = synth->table();
  for (TransferMode mode : {TransferMode::kPitch, TransferMode::kNoise}) {
    const auto centroid = table.mode(mode)[Descriptor::kCentroid];
    const auto r = synth->range(Descriptor::kCentroid, mode);
    CHECK(r.min == *std::min_element(centroid.begin(), centroid.end()));
    CHECK(r.max == *std::max_element(centroid.begin(), centroid.end()));
  }
  // f0 in pitch mode: f0_range_hz [200, 800] widened by an octave, within 50-2000 Hz.
  CHECK(synth->range(Descriptor::kF0).min == 100.0f);
  CHECK(synth->range(Descriptor::kF0).max == 1600.0f);
}

TEST_CASE("Rising centroid target -> rising measured centroid (thesis's violin demo)",
          "[draw][quality]") {
  // Thesis lines ~11250-11330: "we can control a VQ-VAE model of violin with an
  // increasing centroid target. The decoded audio has a consistent spectrogram
  // and synthesized centroid." Here on tests/golden/draw/model.tmbl, whose codes
  // span a centroid range by design (trained models are checked by
  // `python -m timbrel.eval.draw_quality`).
  auto synth = draw_golden_synth();
  const auto& centroid = synth->table().pitch[Descriptor::kCentroid];
  std::vector<float> sorted = centroid;
  std::sort(sorted.begin(), sorted.end());
  const float low = sorted[sorted.size() / 20], high = sorted[sorted.size() * 19 / 20];
  INFO("table centroid " << sorted.front() << " .. " << sorted.back() << " Hz");
  REQUIRE(high > 1.5f * low);  // the table spans a range worth drawing

  for (bool with_f0 : {false, true}) {
    DrawCurves curves;
    curves.hops = 259;  // 3 s
    for (size_t t = 0; t < curves.hops; ++t) {
      const float share = float(t) / float(curves.hops - 1);
      curves.curve(Descriptor::kCentroid).push_back(low + (high - low) * share);
      if (with_f0) curves.curve(Descriptor::kF0).push_back(250.0f + 200.0f * share);
    }
    models::DrawSettings settings;
    settings.hysteresis = 0.02f;
    synth->set_settings(settings);
    const auto y = synth->render(curves);
    const Measured m = measure(y);
    std::vector<double> target, got;
    double f0_error_cents = 0.0;
    int voiced = 0;
    for (size_t i = 0; i < m.time_s.size(); ++i) {
      if (m.time_s[i] < 0.1 || m.time_s[i] > 2.9) continue;
      const double share =
          std::clamp(m.time_s[i] / (double(curves.hops - 1) * 256 / 22050), 0.0, 1.0);
      target.push_back(low + (high - low) * share);
      got.push_back(m.centroid_hz[i]);
      if (with_f0 && m.voiced[i]) {
        f0_error_cents += std::fabs(1200.0 * std::log2(m.f0_hz[i] / (250.0 + 200.0 * share)));
        ++voiced;
      }
    }
    const double r = pearson(target, got);
    INFO((with_f0 ? "with" : "without")
         << " a drawn f0: centroid r = " << r << " over " << target.size() << " frames");
    CHECK(r >= 0.9);
    if (with_f0) {
      INFO("mean |f0 error| " << f0_error_cents / std::max(voiced, 1) << " cents over " << voiced
                              << " voiced frames");
      CHECK(voiced >= int(target.size()) * 9 / 10);
      CHECK(f0_error_cents / voiced < 20.0);
    }
  }
}

TEST_CASE("Draw golden (tests/golden/draw): the stored table and the native render",
          "[draw][golden]") {
  const fs::path dir = draw_golden_dir();
  auto synth = draw_golden_synth();
  const auto meta = nlohmann::json::parse(std::ifstream(dir / "meta.json"), nullptr, false);
  REQUIRE(meta.is_object());

  // The stored table is what the analysis gives today (rounded as stored).
  auto fresh_model = VqTimbre::load_file((dir / "model.tmbl").string());
  REQUIRE(fresh_model.model);
  const CodeAnalysis fresh = models::analyse_codes(*fresh_model.model);
  for (TransferMode mode : {TransferMode::kPitch, TransferMode::kNoise})
    for (Descriptor d : models::kAllDescriptors)
      for (int k = 0; k < fresh.codes(); ++k) {
        const float want = synth->table().mode(mode)[d][size_t(k)];
        const float got = fresh.mode(mode)[d][size_t(k)];
        INFO(models::transfer_mode_name(mode) << " " << models::descriptor_key(d) << "[" << k
                                              << "]: stored " << want << ", analysed " << got);
        CHECK(std::fabs(got - want) <= 1e-3f * std::fabs(want) + 0.02f);
      }

  // The render of centroid.csv (one value per hop) with the generator's settings.
  std::ifstream csv(dir / "centroid.csv");
  DrawCurves curves;
  for (std::string line; std::getline(csv, line);)
    if (!line.empty()) curves.curve(Descriptor::kCentroid).push_back(std::stof(line));
  const int samples = meta["draw"]["samples"].get<int>();
  curves.hops = size_t((samples + 255) / 256);
  REQUIRE(curves.hops == curves.curve(Descriptor::kCentroid).size());
  models::DrawSettings settings;
  settings.hysteresis = 0.02f;
  settings.smoothing_hops = 1.0f;
  synth->set_settings(settings);
  std::vector<int> codes;
  auto y = synth->render(curves, &codes);
  y.resize(size_t(samples));

  const auto want = io::read_wav((dir / "out.wav").string());
  REQUIRE(want.samples.size() == y.size());
  std::ifstream code_file(dir / "codes.csv");
  std::string line;
  std::getline(code_file, line);  // header
  std::vector<int> want_codes;
  while (std::getline(code_file, line))
    if (!line.empty()) want_codes.push_back(std::stoi(line.substr(line.rfind(',') + 1)));
  CHECK(codes == want_codes);
  double peak = 0.0, worst = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    peak = std::max(peak, double(std::fabs(want.samples[i])));
    worst = std::max(worst, double(std::fabs(y[i] - want.samples[i])));
  }
  const double tolerance = meta["tolerance"]["rel_to_peak"].get<double>() * peak +
                           meta["tolerance"]["abs"].get<double>();
  INFO("max |native - golden| " << worst << ", tolerance " << tolerance << " (peak " << peak
                                << ")");
  CHECK(worst <= tolerance);
}

TEST_CASE("DrawPlayer: loops, picks up a redrawn curve on the next pass, holds codes",
          "[draw][player][realtime]") {
  engine::DrawPlayerConfig config;
  config.device_rate = 22050.0;
  config.max_block = 256;
  config.max_hops = 64;
  engine::DrawPlayer player(config);
  auto synth = draw_golden_synth();
  const auto& centroid = synth->table().pitch[Descriptor::kCentroid];
  const int darkest = int(std::min_element(centroid.begin(), centroid.end()) - centroid.begin());
  const int brightest = int(std::max_element(centroid.begin(), centroid.end()) - centroid.begin());
  const float dark = centroid[size_t(darkest)], bright = centroid[size_t(brightest)];
  player.set_synth(std::move(synth));

  auto draw = [&](float value) {
    auto& p = player.pending();
    p.hops = 20;
    p.curve(Descriptor::kCentroid).assign(20, value);
    return player.commit();
  };
  CHECK(draw(dark) == "");
  player.set_loop(true);
  player.play();
  CHECK(player.state() == engine::DrawPlayer::State::kPlaying);
  std::vector<float> block(256);
  std::vector<int> codes;
  long allocations = 0;
  for (int b = 0; b < 50; ++b) {
    test::AllocationCounter counter;
    if (b == 5) {  // redrawn during the first pass: heard from the second
      auto& p = player.pending();
      p.curve(Descriptor::kCentroid).assign(20, bright);
      player.commit();
    }
    player.process(block.data(), 256);
    allocations += counter.count();
    codes.push_back(player.synth()->last_code());
  }
  CHECK(allocations == 0);
  CHECK(player.passes() == 2);
  for (int b = 0; b < 20; ++b) CHECK(codes[size_t(b)] == codes[0]);
  for (int b = 20; b < 40; ++b) CHECK(codes[size_t(b)] == codes[20]);
  const auto& table = player.synth()->table().pitch[Descriptor::kCentroid];
  CHECK(table[size_t(codes[0])] < table[size_t(codes[20])]);
  CHECK(player.playing().curve(Descriptor::kCentroid)[0] == bright);
  CHECK(player.pending().curve(Descriptor::kCentroid)[0] == bright);  // a copy to edit further

  // Too long a curve is refused and changes nothing.
  player.pending().hops = 65;
  CHECK_FALSE(player.commit().empty());
  player.pending().hops = 20;

  // Auditioning: hold a code; stop fades out to silence.
  {
    test::AllocationCounter counter;
    player.play_code(darkest);
    player.process(block.data(), 256);
    player.play_code(brightest);
    player.process(block.data(), 256);
    CHECK(counter.count() == 0);
  }
  CHECK(player.synth()->last_code() == brightest);
  CHECK(player.state() == engine::DrawPlayer::State::kHoldingCode);
  player.stop();
  for (int b = 0; b < 4; ++b) player.process(block.data(), 256);
  CHECK(player.state() == engine::DrawPlayer::State::kStopped);
  CHECK(std::all_of(block.begin(), block.end(), [](float v) { return v == 0.0f; }));

  // Played once (no loop): stops after one pass.
  player.set_loop(false);
  player.play();
  for (int b = 0; b < 30; ++b) player.process(block.data(), 256);
  CHECK(player.passes() == 1);
  CHECK(player.state() == engine::DrawPlayer::State::kStopped);
}

TEST_CASE("DrawPlayer at 48 kHz: the stream at the device rate, without allocating",
          "[draw][player][realtime]") {
  CHECK(engine::DrawPlayer::validate({44100.5, 128, 100}) != "");
  CHECK(engine::DrawPlayer::validate({48000.0, 0, 100}) != "");
  engine::DrawPlayer player({48000.0, 128, 200});
  std::vector<float> block(128, 1.0f);
  player.process(block.data(), 128);  // no model: silence
  CHECK(std::all_of(block.begin(), block.end(), [](float v) { return v == 0.0f; }));
  player.set_synth(draw_golden_synth());
  auto& p = player.pending();
  p.hops = 100;
  for (size_t t = 0; t < 100; ++t) p.curve(Descriptor::kCentroid).push_back(1500.0f + 20.0f * t);
  REQUIRE(player.commit() == "");
  player.set_loop(true);
  player.play();
  double energy = 0.0;
  long allocations = 0;
  bool finite = true;
  for (int b = 0; b < 2000; ++b) {  // 5.3 s: two passes and a half
    test::AllocationCounter counter;
    player.process(block.data(), 128);
    allocations += counter.count();
    for (float v : block) {
      finite = finite && std::isfinite(v);
      energy += double(v) * v;
    }
  }
  CHECK(allocations == 0);
  CHECK(finite);
  CHECK(energy > 1.0);
  CHECK(player.passes() >= 2);
}
