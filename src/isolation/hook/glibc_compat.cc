// Keeps libflexai-cuda.so loadable with glibc 2.34+ although it is built against a newer glibc:
// the statically linked libstdc++ and unwinder refer to arc4random (glibc 2.36) and
// _dl_find_object (2.35). These hidden definitions satisfy those references inside the library,
// so the dynamic linker never looks for the new symbols. A library that cannot be preloaded would
// let the container run without isolation, which is why this matters.
#include <dlfcn.h>
#include <link.h>
#include <sys/random.h>

#include <cstdint>
#include <cstring>

#define FLEXAI_HIDDEN __attribute__((visibility("hidden")))

extern "C" {

FLEXAI_HIDDEN std::uint32_t arc4random() {
  std::uint32_t value = 0;
  while (getrandom(&value, sizeof(value), 0) != sizeof(value)) {
  }
  return value;
}

#ifdef DLFO_STRUCT_HAS_EH_DBASE
namespace {

struct Search {
  std::uintptr_t pc;
  dl_find_object* result;
  bool found;
};

int FindObject(dl_phdr_info* info, std::size_t, void* data) {
  auto* search = static_cast<Search*>(data);
  std::uintptr_t start = ~std::uintptr_t{0}, end = 0;
  bool contains = false;
  const void* eh_frame = nullptr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    std::uintptr_t begin = info->dlpi_addr + segment.p_vaddr;
    if (segment.p_type == PT_LOAD) {
      start = begin < start ? begin : start;
      end = begin + segment.p_memsz > end ? begin + segment.p_memsz : end;
      contains |= search->pc >= begin && search->pc < begin + segment.p_memsz;
    } else if (segment.p_type == PT_GNU_EH_FRAME) {
      eh_frame = reinterpret_cast<const void*>(begin);
    }
  }
  if (!contains) return 0;
  std::memset(search->result, 0, sizeof(*search->result));
  search->result->dlfo_map_start = reinterpret_cast<void*>(start);
  search->result->dlfo_map_end = reinterpret_cast<void*>(end);
  search->result->dlfo_eh_frame = const_cast<void*>(eh_frame);
  search->found = true;
  return 1;
}

}  // namespace

// Same contract as glibc's: describe the loaded object containing `pc`, 0 on success.
FLEXAI_HIDDEN int _dl_find_object(void* pc, dl_find_object* result) {
  Search search{reinterpret_cast<std::uintptr_t>(pc), result, false};
  dl_iterate_phdr(&FindObject, &search);
  return search.found ? 0 : -1;
}
#endif

}  // extern "C"
