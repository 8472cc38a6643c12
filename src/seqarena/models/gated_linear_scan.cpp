// Gated linear attention's recurrence (Yang et al. 2023, eq. 3-4) as one compiled loop per (sequence, head): the
// head's d_k x d_v state stays in cache for the whole sequence. Loaded by seqarena/models/compiled_gla.py, which
// documents the shapes; `recurrent` in gla.py is the naive twin the tests hold it to.
//
//   S_t = diag(alpha_t) S_{t-1} + k_t^T v_t        o_t = q_t S_t
//
// forward keeps the state entering every CHUNK positions; backward rebuilds each chunk's states from it and runs the
// adjoint G_t = q_t^T do_t + diag(alpha_{t+1}) G_{t+1} (G = dL/dS_t) backwards through the chunk.
#include <torch/extension.h>

#include "kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

constexpr int64_t CHUNK = 64;

}  // namespace

// q, k, log_alpha (B, H, T, d_k); v (B, H, T, d_v). Returns o (B, H, T, d_v) and the state entering every CHUNK
// positions (B, H, chunks, d_k, d_v).
std::vector<torch::Tensor> gla_forward(torch::Tensor q, torch::Tensor k, torch::Tensor v, torch::Tensor log_alpha) {
    check_inputs({q, k, v, log_alpha}, "the compiled gated linear scan");
    const int64_t items = q.size(0) * q.size(1), length = q.size(2), dk = q.size(3), dv = v.size(3);
    const int64_t chunks = (length + CHUNK - 1) / CHUNK;
    auto o = torch::empty_like(v);
    auto entering = torch::empty({q.size(0), q.size(1), chunks, dk, dv}, v.options());
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>(),
                *lp = log_alpha.data_ptr<float>();
    float *op = o.data_ptr<float>(), *ep = entering.data_ptr<float>();
    at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
        const FlushSubnormals flushed;
        std::vector<float> S(dk * dv);
        for (int64_t item = begin; item < end; ++item) {
            std::fill(S.begin(), S.end(), 0.0f);
            for (int64_t t = 0; t < length; ++t) {
                if (t % CHUNK == 0) std::copy(S.begin(), S.end(), ep + (item * chunks + t / CHUNK) * dk * dv);
                const int64_t key_row = (item * length + t) * dk, value_row = (item * length + t) * dv;
                float* out = op + value_row;
                std::fill_n(out, dv, 0.0f);
                for (int64_t i = 0; i < dk; ++i) {
                    const float a = std::exp(lp[key_row + i]), ki = kp[key_row + i], qi = qp[key_row + i];
                    float* Si = &S[i * dv];
                    for (int64_t j = 0; j < dv; ++j) {
                        Si[j] = a * Si[j] + ki * vp[value_row + j];
                        out[j] += qi * Si[j];
                    }
                }
            }
        }
    });
    return {o, entering};
}

// grad_o (B, H, T, d_v) and the forward's inputs and kept states -> dL/dq, dL/dk, dL/dv, dL/dlog_alpha.
std::vector<torch::Tensor> gla_backward(torch::Tensor grad_o, torch::Tensor q, torch::Tensor k, torch::Tensor v,
                                        torch::Tensor log_alpha, torch::Tensor entering) {
    check_inputs({grad_o, q, k, v, log_alpha, entering}, "the compiled gated linear scan");
    const int64_t items = q.size(0) * q.size(1), length = q.size(2), dk = q.size(3), dv = v.size(3);
    const int64_t chunks = (length + CHUNK - 1) / CHUNK, plane = dk * dv;
    auto grad_q = torch::empty_like(q), grad_k = torch::empty_like(k), grad_v = torch::empty_like(v);
    auto grad_log_alpha = torch::empty_like(log_alpha);
    const float *gp = grad_o.data_ptr<float>(), *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(),
                *vp = v.data_ptr<float>(), *lp = log_alpha.data_ptr<float>(), *ep = entering.data_ptr<float>();
    float *gqp = grad_q.data_ptr<float>(), *gkp = grad_k.data_ptr<float>(), *gvp = grad_v.data_ptr<float>(),
          *glp = grad_log_alpha.data_ptr<float>();
    at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
        const FlushSubnormals flushed;
        // a chunk's states, row t - start + 1 for position t (row 0: the state entering the chunk)
        std::vector<float> states((CHUNK + 1) * plane), Q(plane), decay(dk);
        for (int64_t item = begin; item < end; ++item) {
            // Q = diag(alpha_{t+1}) G_{t+1}: dL/dS_t through S_{t+1}, zero after the last position
            std::fill(Q.begin(), Q.end(), 0.0f);
            for (int64_t chunk = chunks - 1; chunk >= 0; --chunk) {
                const int64_t start = chunk * CHUNK, stop = std::min(start + CHUNK, length);
                std::copy_n(ep + (item * chunks + chunk) * plane, plane, states.begin());
                for (int64_t t = start; t < stop; ++t) {
                    const int64_t key_row = (item * length + t) * dk, value_row = (item * length + t) * dv;
                    const float* previous = &states[(t - start) * plane];
                    float* next = &states[(t - start + 1) * plane];
                    for (int64_t i = 0; i < dk; ++i) {
                        const float a = std::exp(lp[key_row + i]), ki = kp[key_row + i];
                        for (int64_t j = 0; j < dv; ++j)
                            next[i * dv + j] = a * previous[i * dv + j] + ki * vp[value_row + j];
                    }
                }
                for (int64_t t = stop - 1; t >= start; --t) {
                    const int64_t key_row = (item * length + t) * dk, value_row = (item * length + t) * dv;
                    const float *S = &states[(t - start + 1) * plane], *previous = &states[(t - start) * plane];
                    const float* g = gp + value_row;
                    float* gv = gvp + value_row;
                    std::fill_n(gv, dv, 0.0f);
                    for (int64_t i = 0; i < dk; ++i) {
                        const float a = std::exp(lp[key_row + i]), qi = qp[key_row + i], ki = kp[key_row + i];
                        float dq = 0.0f, dk_i = 0.0f, da = 0.0f;
                        for (int64_t j = 0; j < dv; ++j) {
                            const float G = qi * g[j] + Q[i * dv + j];
                            dq += S[i * dv + j] * g[j];
                            dk_i += G * vp[value_row + j];
                            da += G * previous[i * dv + j];
                            gv[j] += G * ki;
                            Q[i * dv + j] = a * G;
                        }
                        gqp[key_row + i] = dq;
                        gkp[key_row + i] = dk_i;
                        // dL/dlog alpha = alpha dL/dalpha, dL/dalpha_t = sum_j G_t S_{t-1}
                        glp[key_row + i] = a * da;
                    }
                }
            }
        }
    });
    return {grad_q, grad_k, grad_v, grad_log_alpha};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &gla_forward, "the gated linear scan's outputs and its chunks' entering states");
    m.def("backward", &gla_backward, "the gated linear scan's gradients");
}
