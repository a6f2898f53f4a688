#!/usr/bin/env bash
# Installs the Debian packages JetNative's build and CI need (idempotent).
#   .ci/install-deps.sh          build + test dependencies
#   .ci/install-deps.sh --cuda   also the CUDA 11.8 toolkit and g++-11 (contrib/non-free)
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
pkgs=(cmake ninja-build g++ nlohmann-json3-dev libopenblas-dev libgtest-dev libbenchmark-dev python3-clang-14 libclang1-14 libclang-14-dev clang-14 libclang-rt-14-dev
      chromium chromium-driver) # the chat page's browser test (Selenium drives Debian's chromium)
if [ "${1:-}" = "--cuda" ]; then
  if [ ! -f /etc/apt/sources.list.d/jetnative-nonfree.sources ]; then
    $SUDO tee /etc/apt/sources.list.d/jetnative-nonfree.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    rm -f /tmp/.jet-apt-updated
  fi
  pkgs+=(nvidia-cuda-toolkit g++-11)
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ -f /tmp/.jet-apt-updated ] || { $SUDO apt-get update -q >/dev/null; touch /tmp/.jet-apt-updated; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
