// timbrel_fuzz_replay TARGET PATH...: runs a fuzz target (targets.h) over
// every file given and every file in every folder given (the seed corpora
// and the regression files under tests/fuzz/): what a fuzz run found stays
// tested in every build, without clang or libFuzzer. Exit 0 when every file
// ran (a crash ends the process, as in the fuzzer).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "targets.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s model|midi|wav|curve PATH...\n", argv[0]);
    return 2;
  }
  const auto target = timbrel::fuzz::target(argv[1]);
  if (!target) {
    std::fprintf(stderr, "unknown target '%s'\n", argv[1]);
    return 2;
  }
  std::vector<fs::path> files;
  for (int i = 2; i < argc; ++i) {
    const fs::path path(argv[i]);
    if (fs::is_directory(path)) {
      for (const auto& entry : fs::recursive_directory_iterator(path))
        if (entry.is_regular_file() && entry.path().filename().string()[0] != '.')
          files.push_back(entry.path());
    } else if (fs::is_regular_file(path)) {
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    target(bytes.data(), bytes.size());
  }
  std::printf("%s: %zu files ran\n", argv[1], files.size());
  return files.empty() ? 1 : 0;
}
