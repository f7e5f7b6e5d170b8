#include "models/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace attnbench {

using nlohmann::json;

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

static int dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "F64") return 8;
  return 0;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  auto fail = [&](const std::string& what) { throw std::runtime_error(path + ": " + what); };
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(std::string("cannot stat: ") + std::strerror(errno));
  }
  size_ = (size_t)st.st_size;
  if (size_ < 8) {
    ::close(fd);
    fail("not a safetensors file: " + std::to_string(size_) + " bytes, shorter than the 8-byte header length");
  }
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) fail(std::string("cannot mmap: ") + std::strerror(errno));
  map_ = (const uint8_t*)m;

  try {
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | map_[i];
    if (header_len > size_ - 8)
      fail("corrupt header: header length " + std::to_string(header_len) + " exceeds the file size " + std::to_string(size_));
    data_ = map_ + 8 + header_len;
    const uint64_t data_size = size_ - 8 - header_len;
    json h;
    try {
      h = json::parse(map_ + 8, map_ + 8 + header_len);
    } catch (const std::exception& e) {
      fail(std::string("corrupt header: not valid JSON: ") + e.what());
    }
    if (!h.is_object()) fail("corrupt header: not a JSON object");
    for (auto it = h.begin(); it != h.end(); ++it) {
      if (it.key() == "__metadata__") continue;
      const json& t = it.value();
      const std::string where = "tensor \"" + it.key() + "\": ";
      if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
        fail(where + "entry needs dtype, shape and data_offsets");
      TensorInfo info;
      if (!t["dtype"].is_string()) fail(where + "dtype is not a string");
      info.dtype = t["dtype"].get<std::string>();
      if (!t["shape"].is_array()) fail(where + "shape is not an array");
      uint64_t numel = 1;
      for (const auto& d : t["shape"]) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(where + "shape has a bad dimension " + d.dump());
        info.shape.push_back(d.get<int64_t>());
        numel *= (uint64_t)info.shape.back();
      }
      const auto& off = t["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
        fail(where + "data_offsets must be two non-negative integers");
      info.begin = off[0].get<uint64_t>();
      info.end = off[1].get<uint64_t>();
      if (info.begin > info.end || info.end > data_size)
        fail(where + "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
             "] outside the data section of " + std::to_string(data_size) + " bytes (truncated file?)");
      const int esize = dtype_size(info.dtype);
      if (esize && info.end - info.begin != numel * esize)
        fail(where + "data_offsets span " + std::to_string(info.end - info.begin) + " bytes but shape " +
             shape_str(info.shape) + " of " + info.dtype + " needs " + std::to_string(numel * esize));
      tensors_[it.key()] = info;
    }
  } catch (...) {
    ::munmap((void*)map_, size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap((void*)map_, size_);
}

static float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: mant * 2^-24
      float f = std::ldexp((float)mant, -24);
      return sign ? -f : f;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name, const std::vector<int64_t>& expect_shape) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw std::runtime_error(path_ + ": missing tensor \"" + name + "\"");
  const TensorInfo& t = it->second;
  if (t.shape != expect_shape)
    throw std::runtime_error(path_ + ": tensor \"" + name + "\" has shape " + shape_str(t.shape) +
                             " but the config implies " + shape_str(expect_shape));
  const size_t n = (t.end - t.begin) / std::max(1, dtype_size(t.dtype));
  std::vector<float> out(n);
  const uint8_t* p = data_ + t.begin;
  if (t.dtype == "F32") {
    std::memcpy(out.data(), p, n * 4);
  } else if (t.dtype == "F64") {
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      out[i] = (float)d;
    }
  } else if (t.dtype == "F16" || t.dtype == "BF16") {
    const bool bf = t.dtype == "BF16";
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
      if (bf) {
        uint32_t bits = (uint32_t)h << 16;
        std::memcpy(&out[i], &bits, 4);
      } else {
        out[i] = half_to_float(h);
      }
    }
  } else {
    throw std::runtime_error(path_ + ": tensor \"" + name + "\" has unsupported dtype " + t.dtype +
                             " (F32, F16, BF16, F64 are read)");
  }
  return out;
}

}  // namespace attnbench
