// xLSTM's mLSTM cell (Beck et al. 2024, section 2.3, eq. 15-16) as one compiled loop per (sequence, head): the
// head's d x d memory C, normaliser n and stabiliser m stay in cache for the whole sequence. Loaded by
// seqarena/models/compiled_mlstm.py, which documents the shapes; `recurrent` in mlstm.py is the naive twin the tests
// hold it to, gradients through the stabiliser included.
//
//   m_t = max(log f_t + m_{t-1}, i_t)     F_t = exp(log f_t + m_{t-1} - m_t)     W_t = exp(i_t - m_t)
//   C_t = F_t C_{t-1} + W_t k_t v_t^T     n_t = F_t n_{t-1} + W_t k_t
//   h_t = C_t^T q_t / (max(|q_t . n_t|, exp(-max(m_t, -cap))) + eps)
//
// forward keeps (C, n, m) entering every CHUNK positions; backward rebuilds each chunk's states from them and runs
// the adjoints of C, n and m backwards through the chunk.
#include <torch/extension.h>

#include "kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace {

constexpr int64_t CHUNK = 64;

struct Cell {
    int64_t items, length, dim, chunks;
    float eps, log_bound_cap;
};

Cell cell_of(const torch::Tensor& q, double eps, double log_bound_cap) {
    return {q.size(0) * q.size(1), q.size(2), q.size(3), (q.size(2) + CHUNK - 1) / CHUNK, static_cast<float>(eps),
            static_cast<float>(log_bound_cap)};
}

// one position forward: updates C (d x d), n (d) and m in place, writes h (d); returns nothing else
void advance(const Cell& c, const float* q, const float* k, const float* v, float log_f, float i, float* C, float* n,
             float& m) {
    const float m_new = std::max(log_f + m, i);
    const float forget = std::exp(log_f + m - m_new), write = std::exp(i - m_new);
    for (int64_t d = 0; d < c.dim; ++d) {
        const float kd = write * k[d];
        float* row = C + d * c.dim;
        for (int64_t e = 0; e < c.dim; ++e) row[e] = forget * row[e] + kd * v[e];
        n[d] = forget * n[d] + kd;
    }
    m = m_new;
}

// h_t from the state after position t; returns the denominator's parts through `numerator`, `denominator`, `bound`
void read(const Cell& c, const float* q, const float* C, const float* n, float m, float* numerator,
          float& denominator, float& bound) {
    std::fill_n(numerator, c.dim, 0.0f);
    denominator = 0.0f;
    for (int64_t d = 0; d < c.dim; ++d) {
        const float* row = C + d * c.dim;
        for (int64_t e = 0; e < c.dim; ++e) numerator[e] += q[d] * row[e];
        denominator += q[d] * n[d];
    }
    bound = std::exp(-std::max(m, -c.log_bound_cap));
}

}  // namespace

// q, k, v (B, H, T, d); log_f, i (B, H, T). Returns h (B, H, T, d) and (C, n, m) entering every CHUNK positions:
// (B, H, chunks, d, d), (B, H, chunks, d), (B, H, chunks).
std::vector<torch::Tensor> mlstm_forward(torch::Tensor q, torch::Tensor k, torch::Tensor v, torch::Tensor log_f,
                                         torch::Tensor i, double eps, double log_bound_cap) {
    check_inputs({q, k, v, log_f, i}, "the compiled mLSTM scan");
    const Cell c = cell_of(q, eps, log_bound_cap);
    auto h = torch::empty_like(v);
    auto kept_C = torch::empty({q.size(0), q.size(1), c.chunks, c.dim, c.dim}, q.options());
    auto kept_n = torch::empty({q.size(0), q.size(1), c.chunks, c.dim}, q.options());
    auto kept_m = torch::empty({q.size(0), q.size(1), c.chunks}, q.options());
    const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>(),
                *fp = log_f.data_ptr<float>(), *ip = i.data_ptr<float>();
    float *hp = h.data_ptr<float>(), *Cp = kept_C.data_ptr<float>(), *np_ = kept_n.data_ptr<float>(),
          *mp = kept_m.data_ptr<float>();
    at::parallel_for(0, c.items, 1, [&](int64_t begin, int64_t end) {
        const FlushSubnormals flushed;
        std::vector<float> C(c.dim * c.dim), n(c.dim), numerator(c.dim);
        for (int64_t item = begin; item < end; ++item) {
            std::fill(C.begin(), C.end(), 0.0f);
            std::fill(n.begin(), n.end(), 0.0f);
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t t = 0; t < c.length; ++t) {
                if (t % CHUNK == 0) {
                    const int64_t chunk = item * c.chunks + t / CHUNK;
                    std::copy(C.begin(), C.end(), Cp + chunk * c.dim * c.dim);
                    std::copy(n.begin(), n.end(), np_ + chunk * c.dim);
                    mp[chunk] = m;
                }
                const int64_t row = (item * c.length + t) * c.dim, gate = item * c.length + t;
                advance(c, qp + row, kp + row, vp + row, fp[gate], ip[gate], C.data(), n.data(), m);
                float denominator, bound;
                read(c, qp + row, C.data(), n.data(), m, numerator.data(), denominator, bound);
                const float scale = 1.0f / (std::max(std::abs(denominator), bound) + c.eps);
                for (int64_t e = 0; e < c.dim; ++e) hp[row + e] = numerator[e] * scale;
            }
        }
    });
    return {h, kept_C, kept_n, kept_m};
}

// grad_h (B, H, T, d), the forward's inputs and kept states -> dL/dq, dL/dk, dL/dv, dL/dlog_f, dL/di.
std::vector<torch::Tensor> mlstm_backward(torch::Tensor grad_h, torch::Tensor q, torch::Tensor k, torch::Tensor v,
                                          torch::Tensor log_f, torch::Tensor i, torch::Tensor kept_C,
                                          torch::Tensor kept_n, torch::Tensor kept_m, double eps,
                                          double log_bound_cap) {
    check_inputs({grad_h, q, k, v, log_f, i, kept_C, kept_n, kept_m}, "the compiled mLSTM scan");
    const Cell c = cell_of(q, eps, log_bound_cap);
    auto grad_q = torch::empty_like(q), grad_k = torch::empty_like(k), grad_v = torch::empty_like(v);
    auto grad_log_f = torch::empty_like(log_f), grad_i = torch::empty_like(i);
    const float *gp = grad_h.data_ptr<float>(), *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(),
                *vp = v.data_ptr<float>(), *fp = log_f.data_ptr<float>(), *ip = i.data_ptr<float>(),
                *Cp = kept_C.data_ptr<float>(), *np_ = kept_n.data_ptr<float>(), *mp = kept_m.data_ptr<float>();
    float *gqp = grad_q.data_ptr<float>(), *gkp = grad_k.data_ptr<float>(), *gvp = grad_v.data_ptr<float>(),
          *gfp = grad_log_f.data_ptr<float>(), *gip = grad_i.data_ptr<float>();
    at::parallel_for(0, c.items, 1, [&](int64_t begin, int64_t end) {
        const FlushSubnormals flushed;
        const int64_t plane = c.dim * c.dim;
        // a chunk's states, row t - start + 1 for position t (row 0: the state entering the chunk)
        std::vector<float> Cs((CHUNK + 1) * plane), ns((CHUNK + 1) * c.dim), ms(CHUNK + 1);
        // the adjoints carried from position t + 1: F_{t+1} dL/dC_{t+1}, F_{t+1} dL/dn_{t+1}, and dL/dm_t through
        // m_{t+1}'s first argument
        std::vector<float> QC(plane), Qn(c.dim), numerator(c.dim), dnum(c.dim), Gv(c.dim), dv(c.dim);
        for (int64_t item = begin; item < end; ++item) {
            std::fill(QC.begin(), QC.end(), 0.0f);
            std::fill(Qn.begin(), Qn.end(), 0.0f);
            float dm_next = 0.0f;
            for (int64_t chunk = c.chunks - 1; chunk >= 0; --chunk) {
                const int64_t start = chunk * CHUNK, stop = std::min(start + CHUNK, c.length);
                const int64_t kept = item * c.chunks + chunk;
                std::copy_n(Cp + kept * plane, plane, Cs.begin());
                std::copy_n(np_ + kept * c.dim, c.dim, ns.begin());
                ms[0] = mp[kept];
                for (int64_t t = start; t < stop; ++t) {
                    const int64_t row = (item * c.length + t) * c.dim, gate = item * c.length + t, at = t - start;
                    std::copy_n(&Cs[at * plane], plane, &Cs[(at + 1) * plane]);
                    std::copy_n(&ns[at * c.dim], c.dim, &ns[(at + 1) * c.dim]);
                    ms[at + 1] = ms[at];
                    advance(c, qp + row, kp + row, vp + row, fp[gate], ip[gate], &Cs[(at + 1) * plane],
                            &ns[(at + 1) * c.dim], ms[at + 1]);
                }
                for (int64_t t = stop - 1; t >= start; --t) {
                    const int64_t row = (item * c.length + t) * c.dim, gate = item * c.length + t, at = t - start;
                    const float *qt = qp + row, *kt = kp + row, *vt = vp + row, *g = gp + row;
                    const float *C = &Cs[(at + 1) * plane], *C_prev = &Cs[at * plane];
                    const float *n = &ns[(at + 1) * c.dim], *n_prev = &ns[at * c.dim];
                    const float m = ms[at + 1], m_prev = ms[at], log_f = fp[gate], i = ip[gate];
                    const float carried = log_f + m_prev;
                    const float forget = std::exp(carried - m), write = std::exp(i - m);
                    float denominator, bound;
                    read(c, qt, C, n, m, numerator.data(), denominator, bound);
                    const float size = std::abs(denominator), D = std::max(size, bound) + c.eps;
                    // h = numerator / D: dL/dnumerator = g / D, dL/dD = -g . numerator / D^2
                    float dD = 0.0f;
                    for (int64_t e = 0; e < c.dim; ++e) {
                        dnum[e] = g[e] / D;
                        dD -= g[e] * numerator[e] / (D * D);
                    }
                    // torch.maximum splits a tie's gradient in halves, as the naive twin's autograd does
                    const float to_size = size > bound ? dD : (size < bound ? 0.0f : 0.5f * dD);
                    const float to_bound = dD - to_size;
                    const float sign = denominator > 0.0f ? 1.0f : (denominator < 0.0f ? -1.0f : 0.0f);
                    const float dden = to_size * sign;
                    // dL/dm_t: through the bound exp(-max(m, -cap)) (clamp passes the gradient at m >= -cap) and
                    // through m_{t+1} = max(log f_{t+1} + m_t, ...)
                    float dm = dm_next + (m >= -c.log_bound_cap ? -bound * to_bound : 0.0f);
                    float dforget = 0.0f, dwrite = 0.0f;
                    std::fill(dv.begin(), dv.end(), 0.0f);
                    for (int64_t d = 0; d < c.dim; ++d) {
                        const float* C_row = C + d * c.dim;
                        const float* C_prev_row = C_prev + d * c.dim;
                        float* QC_row = &QC[d * c.dim];
                        const float Gn = dden * qt[d] + Qn[d];
                        float dq = dden * n[d], Gv_d = Gn, from_C = 0.0f;
#pragma omp simd reduction(+ : dq, Gv_d, from_C)
                        for (int64_t e = 0; e < c.dim; ++e) {
                            const float G = qt[d] * dnum[e] + QC_row[e];
                            dq += C_row[e] * dnum[e];
                            Gv_d += G * vt[e];
                            from_C += G * C_prev_row[e];
                            dv[e] += kt[d] * G;
                            QC_row[e] = forget * G;
                        }
                        gqp[row + d] = dq;
                        Gv[d] = Gv_d;
                        dforget += from_C + Gn * n_prev[d];
                        dwrite += kt[d] * Gv_d;
                        Qn[d] = forget * Gn;
                    }
                    for (int64_t d = 0; d < c.dim; ++d) gkp[row + d] = write * Gv[d];
                    for (int64_t e = 0; e < c.dim; ++e) gvp[row + e] = write * dv[e];
                    // F = exp(carried - m), W = exp(i - m)
                    float dcarried = dforget * forget, di = dwrite * write;
                    dm -= dforget * forget + dwrite * write;
                    // m = max(carried, i), ties halved
                    if (carried > i) {
                        dcarried += dm;
                    } else if (carried < i) {
                        di += dm;
                    } else {
                        dcarried += 0.5f * dm;
                        di += 0.5f * dm;
                    }
                    gfp[gate] = dcarried;
                    gip[gate] = di;
                    dm_next = dcarried;
                }
            }
        }
    });
    return {grad_q, grad_k, grad_v, grad_log_f, grad_i};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &mlstm_forward, "the mLSTM cell's outputs and its chunks' entering states");
    m.def("backward", &mlstm_backward, "the mLSTM cell's gradients");
}
