// defines: rope_inv_freq
// The rotary embedding's inverse frequencies [head_dim / 2], as HF transformers computes them (fp32):
// default: 1 / theta^(2i / D); llama3: long wavelengths stretched by `factor`, smoothed in between.
#pragma once
#include <cmath>
#include <vector>

#include "models/model_config.h"

namespace attnbench {

inline std::vector<float> rope_inv_freq(const ModelConfig& c) {
  const int D = c.head_dim;
  std::vector<float> inv(D / 2);
  for (int i = 0; i < D / 2; ++i) {
    const float exponent = (float)(2 * i) / (float)D;  // torch.arange(0, D, 2).float() / D
    inv[i] = (float)(1.0 / std::pow((double)c.rope.theta, (double)exponent));
  }
  if (c.rope.type == "llama3") {
    const double pi = 3.14159265358979323846;
    const double old_len = c.rope.original_max_position;
    const double low_wavelen = old_len / c.rope.low_freq_factor;
    const double high_wavelen = old_len / c.rope.high_freq_factor;
    for (float& f : inv) {
      const double wavelen = 2 * pi / f;
      if (wavelen < high_wavelen) continue;                       // high frequency: kept
      if (wavelen > low_wavelen) { f = (float)(f / c.rope.factor); continue; }  // low: stretched
      const double smooth = (old_len / wavelen - c.rope.low_freq_factor) / (c.rope.high_freq_factor - c.rope.low_freq_factor);
      f = (float)((1 - smooth) * f / c.rope.factor + smooth * f);
    }
  }
  return inv;
}

}  // namespace attnbench
