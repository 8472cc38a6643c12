// What the compiled kernels (selective_scan.cpp, gated_linear_scan.cpp, matrix_memory_scan.cpp) share.
#pragma once

#include <torch/extension.h>

#include <vector>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

// Numbers below float's smallest normal (1.2e-38) taken as 0 while a thread runs (x86's FTZ and DAZ bits, restored
// after). A state or adjoint that decays passes through the subnormals on its way to 0, and each subnormal operand
// costs an x86 core about a hundred cycles: a causal Mamba's backward ran 8x slower on them.
class FlushSubnormals {
#if defined(__x86_64__)
    unsigned int saved_ = _mm_getcsr();

  public:
    FlushSubnormals() { _mm_setcsr(saved_ | 0x8040); }
    ~FlushSubnormals() { _mm_setcsr(saved_); }
#endif
};

inline void check_inputs(const std::vector<torch::Tensor>& tensors, const char* kernel) {
    for (const auto& tensor : tensors) {
        TORCH_CHECK(tensor.scalar_type() == torch::kFloat32 && tensor.is_contiguous() && tensor.device().is_cpu(),
                    kernel, " takes contiguous float32 CPU tensors");
    }
}
