// The exported dlsym. glibc's dlsym(RTLD_NEXT, ...) searches after the object its return address
// lies in, so a wrapper that called it would search after *this* library and hand another
// interposer its own definition back. For RTLD_NEXT the entry therefore jumps (not calls) into
// glibc's dlsym, which then sees the original caller's return address. That path must not
// allocate either: malloc interposers (leak tracers, libmemusage, sanitizers) look up the real
// malloc with dlsym(RTLD_NEXT) from inside their malloc. Every other handle goes to
// FlexaiDlsym (lookup_hooks.cc), which hands out our wrappers for libcuda and NVML.
#include <dlfcn.h>

#include "isolation/hook/hook_symbols.h"

extern "C" {

// glibc's dlsym for the jump; resolving it does not allocate (a successful dlvsym).
__attribute__((visibility("hidden"))) void* FlexaiRealDlsymForNext() {
  return reinterpret_cast<void*>(flexai::isolation::RealDlsym());
}

}  // extern "C"

#if defined(__x86_64__)
// RTLD_NEXT is ((void*)-1). rdi and rsi are kept across the resolve call; the stack is 16-byte
// aligned at the call (8 on entry, +16 for the two pushes, +8).
asm(R"(
    .pushsection .text
    .globl dlsym
    .type dlsym, @function
dlsym:
    .cfi_startproc
    endbr64
    cmpq $-1, %rdi
    jne FlexaiDlsym
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    pushq %rsi
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    call FlexaiRealDlsymForNext
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %rsi
    .cfi_adjust_cfa_offset -8
    popq %rdi
    .cfi_adjust_cfa_offset -8
    testq %rax, %rax
    je FlexaiDlsym
    jmp *%rax
    .cfi_endproc
    .size dlsym, .-dlsym
    .popsection
)");
#elif defined(__aarch64__)
// The return address is in x30 on entry; it is restored before the jump.
// `bti c` (hint #34) first: with branch protection the loader enforces landing pads, and calls
// through the PLT arrive with an indirect branch. A no-op on cores without BTI.
asm(R"(
    .pushsection .text
    .globl dlsym
    .type dlsym, %function
dlsym:
    .cfi_startproc
    hint #34
    cmn x0, #1
    b.ne FlexaiDlsym
    stp x29, x30, [sp, #-32]!
    .cfi_def_cfa_offset 32
    .cfi_offset 29, -32
    .cfi_offset 30, -24
    stp x0, x1, [sp, #16]
    bl FlexaiRealDlsymForNext
    mov x16, x0
    ldp x0, x1, [sp, #16]
    ldp x29, x30, [sp], #32
    .cfi_def_cfa_offset 0
    .cfi_restore 29
    .cfi_restore 30
    cbz x16, FlexaiDlsym
    br x16
    .cfi_endproc
    .size dlsym, .-dlsym
    .popsection
)");
#else
#error "libflexai-cuda.so needs a dlsym entry for this architecture (x86-64 and aarch64 exist)"
#endif
