// A minimal safetensors reader: 8-byte little-endian header length, JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}}, then the raw data. Tensors are converted to
// fp32 on request. The file is memory-mapped; every offset is checked against the file size.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace attnbench {

struct TensorInfo {
  std::string dtype;           // "F32", "F16", "BF16", "F64"
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // byte offsets from the start of the data section
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws naming the file and the fault
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  // The tensor converted to fp32; throws if it is absent or its shape differs from `expect_shape`.
  std::vector<float> read_f32(const std::string& name, const std::vector<int64_t>& expect_shape) const;

 private:
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::map<std::string, TensorInfo> tensors_;
};

std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace attnbench
