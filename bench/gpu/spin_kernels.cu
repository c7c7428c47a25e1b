// The probe's kernels in CUDA C++, compiled to PTX by bench/gpu/isolation.sh when nvcc exists
// (otherwise the hand-written PTX in spin_kernels.ptx.inc is used). Keep names and parameters equal.
extern "C" __global__ void spin(unsigned long long iterations, float* out) {
  float value = 1.0f;
  for (unsigned long long i = 0; i < iterations; ++i) value = fmaf(value, 0.99999988f, 1e-4f);
  if (out != nullptr) *out = value;
}

extern "C" __global__ void empty() {}
