// Mamba's selective scan (Gu & Dao 2023, Algorithm 2) as one compiled loop per (sequence, block of channels), the
// CPU counterpart of the paper's fused kernel: the state h (N x channels) stays in cache for the whole sequence instead
// of passing through memory once per elementwise op. Loaded by seqarena/models/compiled_scan.py, which documents the
// shapes; `sequential_scan` in mamba.py is the naive twin the tests hold it to.
//
//   h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t        y_t = C_t . h_t
//
// forward keeps the state entering every CHUNK positions; backward rebuilds each chunk's states from it and runs the
// adjoint G_t = C_t g_t + a_{t+1} G_{t+1} (G = dL/dh_t) backwards through the chunk.
#include <torch/extension.h>

#include "kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

constexpr int64_t CHUNK = 64;
// channels per work item: one or two vector registers wide, and enough items to share among the threads
constexpr int64_t CHANNEL_BLOCK = 32;

// exp(x) for x <= 0 as plain arithmetic the compiler vectorises (std::exp in a loop is a scalar call):
// x = k ln2 + r with |r| <= ln2 / 2, exp(r) by its degree-6 Taylor polynomial (relative error below 2e-7), 2^k
// put into the exponent bits. Below -87 (exp < 1.6e-38, float's smallest normal) it returns 0.
inline float exp_nonpositive(float x) {
    const float clamped = std::max(x, -87.0f);
    const float k = std::floor(clamped * 1.44269504f + 0.5f);
    const float r = clamped - k * 0.693145752f - k * 1.42860677e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const float scale = __builtin_bit_cast(float, (static_cast<int32_t>(k) + 127) << 23);
    return x < -87.0f ? 0.0f : p * scale;
}

struct Shapes {
    int64_t batch, length, channels, states, blocks, chunks;
};

Shapes shapes_of(const torch::Tensor& delta, const torch::Tensor& B) {
    const int64_t length = delta.size(1), channels = delta.size(2);
    return {delta.size(0), length, channels, B.size(2), (channels + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK,
            (length + CHUNK - 1) / CHUNK};
}

}  // namespace

// delta, u (batch, T, E); B, C (batch, T, N); A_t (N, E). Returns y (batch, T, E) and the state entering every
// CHUNK positions (batch, chunks, N, E).
std::vector<torch::Tensor> scan_forward(torch::Tensor delta, torch::Tensor u, torch::Tensor B, torch::Tensor C,
                                        torch::Tensor A_t) {
    check_inputs({delta, u, B, C, A_t}, "the compiled selective scan");
    const Shapes s = shapes_of(delta, B);
    auto y = torch::empty_like(u);
    auto entering = torch::empty({s.batch, s.chunks, s.states, s.channels}, u.options());
    const float *dp = delta.data_ptr<float>(), *up = u.data_ptr<float>(), *Bp = B.data_ptr<float>(),
                *Cp = C.data_ptr<float>(), *Ap = A_t.data_ptr<float>();
    float *yp = y.data_ptr<float>(), *hp = entering.data_ptr<float>();
    at::parallel_for(0, s.batch * s.blocks, 1, [&](int64_t begin, int64_t end) {
        const FlushSubnormals flushed;
        std::vector<float> h(s.states * CHANNEL_BLOCK), du(CHANNEL_BLOCK), out(CHANNEL_BLOCK);
        for (int64_t item = begin; item < end; ++item) {
            const int64_t b = item / s.blocks, e0 = item % s.blocks * CHANNEL_BLOCK;
            const int64_t width = std::min(CHANNEL_BLOCK, s.channels - e0);
            std::fill(h.begin(), h.end(), 0.0f);
            for (int64_t t = 0; t < s.length; ++t) {
                if (t % CHUNK == 0) {
                    float* kept = hp + ((b * s.chunks + t / CHUNK) * s.states) * s.channels + e0;
                    for (int64_t n = 0; n < s.states; ++n)
                        std::copy_n(&h[n * CHANNEL_BLOCK], width, kept + n * s.channels);
                }
                const int64_t row = (b * s.length + t) * s.channels + e0;
                const float *d = dp + row, *x = up + row;
                for (int64_t e = 0; e < width; ++e) {
                    du[e] = d[e] * x[e];
                    out[e] = 0.0f;
                }
                for (int64_t n = 0; n < s.states; ++n) {
                    const float Bn = Bp[(b * s.length + t) * s.states + n], Cn = Cp[(b * s.length + t) * s.states + n];
                    const float* A = Ap + n * s.channels + e0;
                    float* hn = &h[n * CHANNEL_BLOCK];
                    for (int64_t e = 0; e < width; ++e) {
                        hn[e] = exp_nonpositive(d[e] * A[e]) * hn[e] + Bn * du[e];
                        out[e] += Cn * hn[e];
                    }
                }
                std::copy_n(out.data(), width, yp + row);
            }
        }
    });
    return {y, entering};
}

// grad_y (batch, T, E) and the forward's inputs and kept states -> dL/d(delta, u), the per-block parts of dL/dB and
// dL/dC (blocks, batch, T, N) and the per-sequence parts of dL/dA_t (batch, N, E), which the caller sums: each work
// item writes only its own part, so no two threads add into one number.
std::vector<torch::Tensor> scan_backward(torch::Tensor grad_y, torch::Tensor delta, torch::Tensor u, torch::Tensor B,
                                         torch::Tensor C, torch::Tensor A_t, torch::Tensor entering) {
    check_inputs({grad_y, delta, u, B, C, A_t, entering}, "the compiled selective scan");
    const Shapes s = shapes_of(delta, B);
    auto grad_delta = torch::empty_like(delta), grad_u = torch::empty_like(u);
    auto grad_B = torch::zeros({s.blocks, s.batch, s.length, s.states}, B.options());
    auto grad_C = torch::zeros_like(grad_B);
    auto grad_A = torch::zeros({s.batch, s.states, s.channels}, A_t.options());
    const float *gp = grad_y.data_ptr<float>(), *dp = delta.data_ptr<float>(), *up = u.data_ptr<float>(),
                *Bp = B.data_ptr<float>(), *Cp = C.data_ptr<float>(), *Ap = A_t.data_ptr<float>(),
                *hp = entering.data_ptr<float>();
    float *gdp = grad_delta.data_ptr<float>(), *gup = grad_u.data_ptr<float>(), *gBp = grad_B.data_ptr<float>(),
          *gCp = grad_C.data_ptr<float>(), *gAp = grad_A.data_ptr<float>();
    at::parallel_for(0, s.batch * s.blocks, 1, [&](int64_t begin, int64_t end) {
        const FlushSubnormals flushed;
        const int64_t plane = s.states * CHANNEL_BLOCK;
        // states and decays of one chunk, row t - start + 1 for position t (row 0: the state entering the chunk)
        std::vector<float> states((CHUNK + 1) * plane), decays(CHUNK * plane), Q(plane), dA(plane);
        std::vector<float> du(CHANNEL_BLOCK), gdelta(CHANNEL_BLOCK), ginput(CHANNEL_BLOCK);
        for (int64_t item = begin; item < end; ++item) {
            const int64_t b = item / s.blocks, block = item % s.blocks, e0 = block * CHANNEL_BLOCK;
            const int64_t width = std::min(CHANNEL_BLOCK, s.channels - e0);
            // Q = a_{t+1} G_{t+1}: dL/dh_t through h_{t+1}, zero after the last position
            std::fill(Q.begin(), Q.end(), 0.0f);
            std::fill(dA.begin(), dA.end(), 0.0f);
            for (int64_t chunk = s.chunks - 1; chunk >= 0; --chunk) {
                const int64_t start = chunk * CHUNK, stop = std::min(start + CHUNK, s.length);
                const float* kept = hp + ((b * s.chunks + chunk) * s.states) * s.channels + e0;
                for (int64_t n = 0; n < s.states; ++n)
                    std::copy_n(kept + n * s.channels, width, &states[n * CHANNEL_BLOCK]);
                for (int64_t t = start; t < stop; ++t) {
                    const int64_t row = (b * s.length + t) * s.channels + e0, i = t - start;
                    const float *d = dp + row, *x = up + row;
                    for (int64_t n = 0; n < s.states; ++n) {
                        const float Bn = Bp[(b * s.length + t) * s.states + n];
                        const float* A = Ap + n * s.channels + e0;
                        const float* previous = &states[i * plane + n * CHANNEL_BLOCK];
                        float *next = &states[(i + 1) * plane + n * CHANNEL_BLOCK], *a = &decays[i * plane + n * CHANNEL_BLOCK];
                        for (int64_t e = 0; e < width; ++e) {
                            a[e] = exp_nonpositive(d[e] * A[e]);
                            next[e] = a[e] * previous[e] + Bn * d[e] * x[e];
                        }
                    }
                }
                for (int64_t t = stop - 1; t >= start; --t) {
                    const int64_t row = (b * s.length + t) * s.channels + e0, i = t - start;
                    const int64_t token = b * s.length + t;
                    const float *d = dp + row, *x = up + row, *g = gp + row;
                    for (int64_t e = 0; e < width; ++e) {
                        du[e] = d[e] * x[e];
                        gdelta[e] = 0.0f;
                        ginput[e] = 0.0f;
                    }
                    float* gB = gBp + (block * s.batch * s.length + token) * s.states;
                    float* gC = gCp + (block * s.batch * s.length + token) * s.states;
                    for (int64_t n = 0; n < s.states; ++n) {
                        const float Bn = Bp[token * s.states + n], Cn = Cp[token * s.states + n];
                        const float* A = Ap + n * s.channels + e0;
                        const float* h = &states[(i + 1) * plane + n * CHANNEL_BLOCK];
                        const float* previous = &states[i * plane + n * CHANNEL_BLOCK];
                        const float* a = &decays[i * plane + n * CHANNEL_BLOCK];
                        float* q = &Q[n * CHANNEL_BLOCK];
                        float* dAn = &dA[n * CHANNEL_BLOCK];
                        float sum_B = 0.0f, sum_C = 0.0f;
#pragma omp simd reduction(+ : sum_B, sum_C)
                        for (int64_t e = 0; e < width; ++e) {
                            const float G = Cn * g[e] + q[e];
                            // dL/d(delta_t A) = G_t a_t h_{t-1}
                            const float log_a = G * a[e] * previous[e];
                            gdelta[e] += log_a * A[e];
                            dAn[e] += log_a * d[e];
                            ginput[e] += G * Bn;
                            sum_B += G * du[e];
                            sum_C += g[e] * h[e];
                            q[e] = a[e] * G;
                        }
                        gB[n] += sum_B;
                        gC[n] += sum_C;
                    }
                    for (int64_t e = 0; e < width; ++e) {
                        // dL/d(delta_t u_t) = B_t . G_t, shared by delta and u
                        gdp[row + e] = gdelta[e] + ginput[e] * x[e];
                        gup[row + e] = ginput[e] * d[e];
                    }
                }
            }
            float* gA = gAp + b * s.states * s.channels + e0;
            for (int64_t n = 0; n < s.states; ++n)
                std::copy_n(&dA[n * CHANNEL_BLOCK], width, gA + n * s.channels);
        }
    });
    return {grad_delta, grad_u, grad_B, grad_C, grad_A};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &scan_forward, "the selective scan's outputs and its chunks' entering states");
    m.def("backward", &scan_backward, "the selective scan's gradients");
}
