// Loads a .tmbl model file (format: models/README.md) from a byte buffer: a
// file natively, a fetched ArrayBuffer in the page. Never throws: a bad file
// gives an error message naming the problem, so the caller keeps running.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "timbrel/nn/graph.h"

namespace timbrel::nn {

constexpr std::uint32_t kModelFileVersion = 1;

struct LoadResult;
struct LoadOptions;

class Model {
 public:
  ~Model();
  const std::string& family() const { return family_; }
  const std::string& name() const { return name_; }
  bool has_graph(const std::string& graph) const { return graphs_.count(graph) != 0; }
  Graph& graph(const std::string& graph) { return graphs_.at(graph); }
  const Graph& graph(const std::string& graph) const { return graphs_.at(graph); }
  std::vector<std::string> graph_names() const;

  // Metadata accessors (fallback when the key is absent or of another type).
  double number(const std::string& key, double fallback) const;
  std::string text(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> texts(const std::string& key) const;
  std::vector<float> numbers(const std::string& key) const;
  std::string metadata_json() const;

 private:
  friend LoadResult load_model(const std::uint8_t* bytes, std::size_t size,
                               const LoadOptions& options);
  Model();
  struct Metadata;
  std::string family_, name_;
  std::map<std::string, Graph> graphs_;
  std::unique_ptr<Metadata> metadata_;
};

struct LoadResult {
  std::unique_ptr<Model> model;  // null on error
  std::string error;             // empty on success
};

struct LoadOptions {
  // Fold Linear -> GRU pairs (Graph::fuse_linear_into_gru): same model, less
  // arithmetic per step; off to run the file's ops exactly as written.
  bool fuse = true;
};

LoadResult load_model(const std::uint8_t* bytes, std::size_t size, const LoadOptions& options = {});
LoadResult load_model_file(const std::string& path, const LoadOptions& options = {});

// CRC-32 (IEEE 802.3, as zlib's crc32) of a byte range.
std::uint32_t crc32(const std::uint8_t* bytes, std::size_t size);

}  // namespace timbrel::nn
