// Backend registry: name -> factory + status, per device and phase. Storage is function-local
// statics so registrations from other files' static initialisers never see it uninitialised.
#include "attn/registry.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "core/device_status.h"

namespace attnbench {

namespace {

struct Entry {
  PrefillFactory prefill;
  DecodeFactory decode;
  StatusFn status;
};
using Key = std::pair<int, std::string>;  // (device, name)

std::map<Key, Entry>& prefill_table() {
  static std::map<Key, Entry> t;
  return t;
}
std::map<Key, Entry>& decode_table() {
  static std::map<Key, Entry> t;
  return t;
}
std::map<std::pair<Key, int>, std::string>& not_built() {
  static std::map<std::pair<Key, int>, std::string> t;
  return t;
}

// Every name the project knows, per device, in the order `ready` lists them.
const char* const kCpuNames[] = {"naive", "fused", "flashattn", "cudnn", "flashinfer", "flashinfer_sm90"};
const char* const kCudaNames[] = {"naive", "fused", "flashattn", "cudnn", "flashinfer", "flashinfer_sm90"};
bool cpu_capable(const std::string& name) { return name == "naive" || name == "fused"; }

std::map<Key, Entry>& table_for(AttnPhase phase) { return phase == AttnPhase::Prefill ? prefill_table() : decode_table(); }

std::string strip_unavailable(const std::string& s) {
  const std::string p = "unavailable: ";
  return s.compare(0, p.size(), p) == 0 ? s.substr(p.size()) : s;
}

// CMake passes why an optional backend was skipped (set by cmake/optional_backends.cmake).
std::string build_reason(const std::string& name) {
#ifdef ATTNBENCH_NOT_BUILT_FLASHATTN
  if (name == "flashattn") return ATTNBENCH_NOT_BUILT_FLASHATTN;
#endif
#ifdef ATTNBENCH_NOT_BUILT_CUDNN
  if (name == "cudnn") return ATTNBENCH_NOT_BUILT_CUDNN;
#endif
#ifdef ATTNBENCH_NOT_BUILT_FLASHINFER
  if (name == "flashinfer") return ATTNBENCH_NOT_BUILT_FLASHINFER;
#endif
#ifdef ATTNBENCH_NOT_BUILT_FLASHINFER_SM90
  if (name == "flashinfer_sm90") return ATTNBENCH_NOT_BUILT_FLASHINFER_SM90;
#endif
  (void)name;
  return "";
}

std::string status_of(const std::string& name, Device device, AttnPhase phase, const AttnDims* dims) {
  auto& t = table_for(phase);
  auto it = t.find({(int)device, name});
  if (it != t.end()) return it->second.status ? it->second.status(dims) : "ok";
  auto nb = not_built().find({{(int)device, name}, (int)phase});
  if (nb != not_built().end()) return "unavailable: " + nb->second;
  if (device == Device::CPU) return cpu_capable(name) ? "unavailable: not built" : "unavailable: CUDA only";
  const std::string cuda = cuda_device_status();
  if (cuda != "ok") return "unavailable: " + strip_unavailable(cuda);
  const std::string why = build_reason(name);
  return "unavailable: " + (why.empty() ? std::string("not built into this binary") : why);
}

std::vector<std::string> names_for(Device device, AttnPhase phase) {
  std::vector<std::string> names;
  if (device == Device::CPU)
    names.assign(std::begin(kCpuNames), std::end(kCpuNames));
  else
    names.assign(std::begin(kCudaNames), std::end(kCudaNames));
  for (const auto& kv : table_for(phase))  // registered but not in the known list: a new backend
    if (kv.first.first == (int)device && std::find(names.begin(), names.end(), kv.first.second) == names.end())
      names.push_back(kv.first.second);
  return names;
}

[[noreturn]] void refuse(const std::string& name, Device device, AttnPhase phase, const AttnDims& dims) {
  const char* phase_name = phase == AttnPhase::Prefill ? "prefill" : "decode";
  const char* dev_name = device == Device::CPU ? "cpu" : "cuda";
  std::string avail;
  for (const auto& n : names_for(device, phase))
    if (status_of(n, device, phase, &dims) == "ok") avail += (avail.empty() ? "" : ", ") + n;
  std::string why = status_of(name, device, phase, &dims);
  if (std::find(std::begin(kCudaNames), std::end(kCudaNames), name) == std::end(kCudaNames) &&
      !table_for(phase).count({(int)device, name}))
    why = "unknown backend";
  throw std::runtime_error(std::string(phase_name) + " attention backend \"" + name + "\" on " + dev_name + ": " + why +
                           " (available: " + (avail.empty() ? "none" : avail) + ")");
}

}  // namespace

bool register_prefill(const char* name, Device device, PrefillFactory factory, StatusFn status) {
  prefill_table()[{(int)device, name}] = Entry{std::move(factory), nullptr, std::move(status)};
  return true;
}

bool register_decode(const char* name, Device device, DecodeFactory factory, StatusFn status) {
  decode_table()[{(int)device, name}] = Entry{nullptr, std::move(factory), std::move(status)};
  return true;
}

void note_not_built(const char* name, Device device, AttnPhase phase, const std::string& reason) {
  not_built()[{{(int)device, name}, (int)phase}] = reason;
}

std::vector<BackendStatus> list_backends(Device device, AttnPhase phase) {
  std::vector<BackendStatus> out;
  for (const auto& n : names_for(device, phase)) out.push_back({n, status_of(n, device, phase, nullptr)});
  return out;
}

std::unique_ptr<PrefillAttn> make_prefill_attn(const std::string& name, Device device, const AttnDims& dims) {
  auto it = prefill_table().find({(int)device, name});
  if (it == prefill_table().end() || status_of(name, device, AttnPhase::Prefill, &dims) != "ok")
    refuse(name, device, AttnPhase::Prefill, dims);
  return it->second.prefill(dims);
}

std::unique_ptr<DecodeAttn> make_decode_attn(const std::string& name, Device device, const AttnDims& dims) {
  auto it = decode_table().find({(int)device, name});
  if (it == decode_table().end() || status_of(name, device, AttnPhase::Decode, &dims) != "ok")
    refuse(name, device, AttnPhase::Decode, dims);
  return it->second.decode(dims);
}

}  // namespace attnbench
