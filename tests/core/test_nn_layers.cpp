#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "allocation_counter.h"
#include "npy.h"
#include "signals.h"
#include "timbrel/nn/graph.h"
#include "timbrel/nn/layers.h"
#include "timbrel/nn/model_file.h"

using namespace timbrel;
namespace fs = std::filesystem;

namespace {

const fs::path kGoldenDir = fs::path(TIMBREL_GOLDEN_DIR) / "nn";
// Parity tolerance against PyTorch (float32 both sides): |a - b| <= kAbs + kRel |b|.
constexpr double kAbs = 1e-5, kRel = 1e-5;

nn::Sequence to_sequence(const test::NpyArray& a) {
  nn::Sequence s(int(a.rows()), int(a.columns()));
  for (size_t i = 0; i < a.values.size(); ++i) s.data[i] = float(a.values[i]);
  return s;
}

double worst_excess(const nn::Sequence& got, const test::NpyArray& want) {
  double worst = 0.0;
  for (size_t i = 0; i < want.values.size(); ++i) {
    const double allowed = kAbs + kRel * std::fabs(want.values[i]);
    worst = std::max(worst, std::fabs(double(got.data[i]) - want.values[i]) / allowed);
  }
  return worst;  // <= 1 passes
}

// Runs a graph step by step from reset, collecting the steps that produce output.
nn::Sequence stream(nn::Graph& graph, const nn::Sequence& in, long* allocations) {
  graph.reset();
  std::vector<float> out(size_t(graph.output_size()));
  nn::Sequence result(0, graph.output_size());
  for (int t = 0; t < in.frames; ++t) {
    test::AllocationCounter counter;
    const bool produced = graph.step(in.frame(t), out.data());
    *allocations += counter.count();
    if (produced) {
      result.data.insert(result.data.end(), out.begin(), out.end());
      ++result.frames;
    }
  }
  return result;
}

}  // namespace

TEST_CASE("Every golden graph matches PyTorch offline and, where it streams, step by step",
          "[nn][golden]") {
  REQUIRE(fs::is_directory(kGoldenDir));
  int graphs_checked = 0;
  for (const auto& entry : fs::directory_iterator(kGoldenDir)) {
    if (entry.path().extension() != ".tmbl") continue;
    const std::string case_name = entry.path().stem().string();
    auto loaded = nn::load_model_file(entry.path().string());
    INFO(case_name << ": " << loaded.error);
    REQUIRE(loaded.error.empty());
    for (const auto& graph_name : loaded.model->graph_names()) {
      const auto prefix = kGoldenDir / (case_name + "." + graph_name);
      if (!fs::exists(prefix.string() + ".input.npy")) continue;
      const auto input = test::read_npy(prefix.string() + ".input.npy");
      const auto want = test::read_npy(prefix.string() + ".output.npy");
      auto& graph = loaded.model->graph(graph_name);
      const auto got = graph.forward(to_sequence(input));
      INFO(case_name << "." << graph_name);
      REQUIRE(size_t(got.frames) == want.rows());
      REQUIRE(size_t(got.channels) == want.columns());
      CHECK(worst_excess(got, want) <= 1.0);
      if (graph.streams()) {
        long allocations = 0;
        const auto streamed = stream(graph, to_sequence(input), &allocations);
        CHECK(allocations == 0);
        REQUIRE(streamed.frames == got.frames);
        double worst = 0.0;
        for (size_t i = 0; i < got.data.size(); ++i)
          worst = std::max(worst, double(std::fabs(streamed.data[i] - got.data[i])));
        CHECK(worst <= 1e-6);
      }
      ++graphs_checked;
    }
  }
  CHECK(graphs_checked >= 10);
}

TEST_CASE("Streaming convolution equals the offline one for causal padding", "[nn][conv]") {
  for (auto [kernel, stride, dilation] :
       {std::tuple{3, 1, 1}, std::tuple{4, 1, 2}, std::tuple{3, 2, 1}, std::tuple{5, 3, 2}}) {
    nn::Conv1d::Shape shape{3, 4, kernel, stride, dilation, (kernel - 1) * dilation, 0};
    const auto w = test::white_noise(size_t(kernel * 4 * 3), 0.3, unsigned(kernel + 10 * stride));
    const auto b = test::white_noise(4, 0.1, 99);
    nn::Conv1d conv(shape, w, b);
    nn::Sequence x(29, 3);
    x.data = test::white_noise(x.data.size(), 1.0, 5);
    const auto offline = conv.forward(x);
    std::vector<float> out(4);
    std::vector<float> streamed;
    long allocations = 0;
    for (int t = 0; t < x.frames; ++t) {
      test::AllocationCounter counter;
      const bool produced = conv.step(x.frame(t), out.data());
      allocations += counter.count();
      if (produced) streamed.insert(streamed.end(), out.begin(), out.end());
    }
    INFO("kernel " << kernel << " stride " << stride << " dilation " << dilation);
    CHECK(allocations == 0);
    REQUIRE(streamed.size() == offline.data.size());
    for (size_t i = 0; i < streamed.size(); ++i)
      CHECK(streamed[i] == Approx(offline.data[i]).margin(1e-6));
  }
}

TEST_CASE("Vector quantiser breaks ties towards the lowest index", "[nn][vq]") {
  nn::VectorQuantizer vq(3, 2, {1.0f, 0.0f, -1.0f, 0.0f, 0.0f, 5.0f});
  const float midpoint[2] = {0.0f, 0.0f};  // equidistant from codes 0 and 1
  float out[2];
  vq.step(midpoint, out);
  CHECK(vq.last_index() == 0);
  const float near_two[2] = {0.1f, 4.0f};
  vq.step(near_two, out);
  CHECK(vq.last_index() == 2);
  CHECK(out[1] == 5.0f);
}

TEST_CASE("Unflatten turns one frame of F x C values into F frames, the inverse of flatten",
          "[nn][unflatten]") {
  nn::Unflatten unflatten(3, 2);
  CHECK(unflatten.input_size() == 6);
  CHECK(unflatten.output_size() == 2);
  CHECK_FALSE(unflatten.streams());
  nn::Sequence one(1, 6);
  one.data = {1, 2, 3, 4, 5, 6};
  const auto frames = unflatten.forward(one);
  REQUIRE(frames.frames == 3);
  REQUIRE(frames.channels == 2);
  CHECK(frames.data == std::vector<float>{1, 2, 3, 4, 5, 6});  // row-major, time outer
  CHECK(frames.frame(2)[0] == 5.0f);
  CHECK(nn::Flatten(3, 2).forward(frames).data == one.data);
  float out[2] = {0, 0};
  CHECK_FALSE(unflatten.step(one.data.data(), out));  // offline only
  nn::Sequence two(2, 6);
  CHECK_THROWS_WITH(unflatten.forward(two),
                    Catch::Contains("unflatten expects 1 frame of 6 values, got 2 x 6"));
}

TEST_CASE("A graph with an unflatten runs offline and does not stream", "[nn][unflatten]") {
  nn::Graph graph;
  // Linear 2 -> 6 (y = [x0, x1, 2 x0, 2 x1, 3 x0, 3 x1]), unflatten to 3 x 2, Linear 2 -> 1 (sum).
  graph.add(std::make_unique<nn::Linear>(
      2, 6, std::vector<float>{1, 0, 0, 1, 2, 0, 0, 2, 3, 0, 0, 3}, std::vector<float>{}));
  graph.add(std::make_unique<nn::Unflatten>(3, 2));
  graph.add(std::make_unique<nn::Linear>(2, 1, std::vector<float>{1, 1}, std::vector<float>{}));
  CHECK_FALSE(graph.streams());
  nn::Sequence x(1, 2);
  x.data = {1.0f, 0.5f};
  const auto y = graph.forward(x);
  REQUIRE(y.frames == 3);
  REQUIRE(y.channels == 1);
  CHECK(y.data == std::vector<float>{1.5f, 3.0f, 4.5f});
}

namespace {

std::unique_ptr<nn::Linear> linear(int in, int out, std::vector<float> w, std::vector<float> b) {
  return std::make_unique<nn::Linear>(in, out, std::move(w), std::move(b));
}

std::vector<std::unique_ptr<nn::Layer>> layers_of(std::unique_ptr<nn::Layer> a,
                                                  std::unique_ptr<nn::Layer> b = nullptr,
                                                  std::unique_ptr<nn::Layer> c = nullptr) {
  std::vector<std::unique_ptr<nn::Layer>> out;
  for (auto* l : {&a, &b, &c})
    if (*l) out.push_back(std::move(*l));
  return out;
}

// Linear 2 -> 3, ReLU, Linear 3 -> 2: y = x + W2 relu(W1 x + b1) + b2.
nn::Residual hand_residual() {
  return nn::Residual(layers_of(linear(2, 3, {1, 0, 0, 1, 1, 1}, {0, 0, -1}),
                                std::make_unique<nn::Activation>(nn::ActivationKind::kRelu, 3),
                                linear(3, 2, {1, 0, 1, 0, 2, 0}, {0.5f, 0})));
}

std::vector<float> noise(size_t n, double scale, unsigned seed) {
  return test::white_noise(n, scale, seed);
}

}  // namespace

TEST_CASE("Residual adds its body's output to its input, frame by frame", "[nn][residual]") {
  nn::Residual residual = hand_residual();
  CHECK(residual.kind() == "residual");
  CHECK(residual.input_size() == 2);
  CHECK(residual.output_size() == 2);
  CHECK(residual.streams());
  REQUIRE(residual.body_size() == 3);
  CHECK(residual.body(1).kind() == "relu");
  // x = [1, 2]: W1 x + b1 = [1, 2, 2], relu the same, W2 h + b2 = [3.5, 4]; y = [4.5, 6].
  // x = [-1, 0.5]: [-1, 0.5, -1.5] -> relu [0, 0.5, 0] -> [0.5, 1]; y = [-0.5, 1.5].
  const float x[2][2] = {{1.0f, 2.0f}, {-1.0f, 0.5f}};
  const float want[2][2] = {{4.5f, 6.0f}, {-0.5f, 1.5f}};
  for (int t = 0; t < 2; ++t) {
    float y[2] = {0, 0};
    REQUIRE(residual.step(x[t], y));
    CHECK(y[0] == want[t][0]);
    CHECK(y[1] == want[t][1]);
    float same[2] = {x[t][0], x[t][1]};  // in == out: the sum reads the input before writing
    REQUIRE(residual.step(same, same));
    CHECK(same[0] == want[t][0]);
    CHECK(same[1] == want[t][1]);
  }
  nn::Sequence seq(2, 2);
  seq.data = {1.0f, 2.0f, -1.0f, 0.5f};
  const auto y = residual.forward(seq);
  REQUIRE(y.frames == 2);
  REQUIRE(y.channels == 2);
  CHECK(y.data == std::vector<float>{4.5f, 6.0f, -0.5f, 1.5f});
  CHECK_THROWS_WITH(residual.forward(nn::Sequence(1, 3)),
                    Catch::Contains("residual expects 2 channels, got 3"));
}

TEST_CASE("A graph with residuals streams without allocating, as it runs offline",
          "[nn][residual][realtime]") {
  nn::Graph graph;
  graph.add(linear(4, 6, noise(24, 0.4, 1), noise(6, 0.1, 2)));
  {  // LayerNorm, Linear 6 -> 12, tanh, Linear 12 -> 6 (a pre-norm MLP block)
    std::vector<std::unique_ptr<nn::Layer>> body;
    body.push_back(std::make_unique<nn::LayerNorm>(6, 1e-5f, noise(6, 0.3, 3), noise(6, 0.1, 4)));
    body.push_back(linear(6, 12, noise(72, 0.3, 5), noise(12, 0.1, 6)));
    body.push_back(std::make_unique<nn::Activation>(nn::ActivationKind::kTanh, 12));
    body.push_back(linear(12, 6, noise(72, 0.3, 7), noise(6, 0.1, 8)));
    graph.add(std::make_unique<nn::Residual>(std::move(body)));
  }
  graph.add(std::make_unique<nn::Residual>(
      layers_of(std::make_unique<nn::Activation>(nn::ActivationKind::kElu, 6, 0.7f),
                linear(6, 6, noise(36, 0.3, 9), {}))));
  graph.add(std::make_unique<nn::Gru>(6, 5, noise(90, 0.3, 10), noise(75, 0.3, 11),
                                      noise(15, 0.1, 12), noise(15, 0.1, 13)));
  REQUIRE(graph.streams());
  // A layer without a bias stores zeros, counted: Linear 6 -> 6 holds 36 + 6.
  CHECK(graph.parameters() == 30 + (12 + 84 + 78) + 42 + (90 + 75 + 30));
  nn::Sequence x(33, 4);
  x.data = noise(x.data.size(), 1.0, 14);
  const auto offline = graph.forward(x);
  long allocations = 0;
  stream(graph, x, &allocations);  // warm: the second run is the one compared
  allocations = 0;
  const auto streamed = stream(graph, x, &allocations);
  CHECK(allocations == 0);
  REQUIRE(streamed.frames == offline.frames);
  REQUIRE(streamed.data.size() == offline.data.size());
  double worst = 0.0;
  for (size_t i = 0; i < offline.data.size(); ++i)
    worst = std::max(worst, double(std::fabs(streamed.data[i] - offline.data[i])));
  CHECK(worst <= 1e-6);
}

TEST_CASE("A residual body must be frame-wise, non-empty, bounded and keep its width",
          "[nn][residual]") {
  CHECK_THROWS_WITH(nn::Residual({}), Catch::Contains("residual body is empty"));
  CHECK_THROWS_WITH(nn::Residual(layers_of(linear(2, 3, std::vector<float>(6, 0.1f), {}))),
                    Catch::Contains("residual body gives 3 values for an input of 2: y = x + "
                                    "body(x) needs the same width"));
  CHECK_THROWS_WITH(nn::Residual(layers_of(std::make_unique<nn::Gru>(
                        2, 2, std::vector<float>(12, 0.1f), std::vector<float>(12, 0.1f),
                        std::vector<float>{}, std::vector<float>{}))),
                    Catch::Contains("residual body op 0: 'gru' is not allowed in a residual body"));
  CHECK_THROWS_WITH(nn::Residual(layers_of(std::make_unique<nn::Residual>(hand_residual()))),
                    Catch::Contains("'residual' is not allowed in a residual body"));
  CHECK_THROWS_WITH(
      nn::Residual(layers_of(linear(2, 3, std::vector<float>(6, 0.1f), {}),
                             std::make_unique<nn::Activation>(nn::ActivationKind::kRelu, 2))),
      Catch::Contains("residual body op 1: relu expects 2 inputs but the op before gives 3"));
  std::vector<std::unique_ptr<nn::Layer>> long_body;
  for (int i = 0; i < 17; ++i)
    long_body.push_back(std::make_unique<nn::Activation>(nn::ActivationKind::kTanh, 2));
  CHECK_THROWS_WITH(nn::Residual(std::move(long_body)),
                    Catch::Contains("residual body of 17 ops exceeds the limit of 16"));
}
