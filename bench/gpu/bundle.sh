#!/usr/bin/env bash
# Packs what the GPU checks need from a build on this machine into build-gpu/ (git-ignored), so
# that one device call runs them on a bare GPU machine, compiler or not:
# flexai-device-plugin with every shared library it needs beyond glibc and the C++ runtime,
# libflexai-cuda.so and the isolation probe.
# Then: run(command="bash bench/gpu/all.sh", carry=["build-gpu"], timeout_s=540).
#   bash bench/gpu/bundle.sh [BUILD_DIR]       (default: build)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=build-gpu
for f in "$build/bin/flexai-device-plugin" "$build/bin/gpu_isolation_probe" \
         "$build/lib/libflexai-cuda.so"; do
  [ -f "$f" ] || { echo "missing $f: build first (cmake --build $build)" >&2; exit 2; }
done
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
cp "$build/bin/flexai-device-plugin" "$build/bin/gpu_isolation_probe" "$out/bin/"
cp "$build/lib/libflexai-cuda.so" "$out/lib/"
# glibc and the C++ runtime stay behind: they must be the target's (this host's libstdc++ needs
# glibc 2.36; the binaries themselves need 2.34 and GLIBCXX_3.4.29, e.g. Ubuntu 22.04 or newer).
ldd "$build/bin/flexai-device-plugin" | awk '/=> \// { print $3 }' | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux* | \
      libstdc++.so.* | libgcc_s.so.*) continue ;;
  esac
  cp -L "$lib" "$out/lib/"
done
echo "$out: $(du -sh "$out" | cut -f1) ($(ls "$out/lib" | wc -l) libraries)"
