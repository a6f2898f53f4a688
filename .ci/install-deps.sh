#!/usr/bin/env bash
# Installs the Debian packages JetNative's build and CI need (idempotent).
#   .ci/install-deps.sh          build + test dependencies
#   .ci/install-deps.sh --cuda   also the CUDA 11.8 toolkit and g++-11, from Debian's contrib and
#                                non-free components: when they are missing, these are added to
#                                the Components of the apt sources the machine already has (no
#                                mirror address is written anywhere).
# JET_APT_SOURCES (tests): the sources files to edit instead of the machine's.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
pkgs=(cmake ninja-build g++ nlohmann-json3-dev libopenblas-dev libgtest-dev libbenchmark-dev python3-clang-14 libclang1-14 libclang-14-dev clang-14 libclang-rt-14-dev
      chromium chromium-driver  # the chat page's browser test (Selenium drives Debian's chromium)
      # win-x64: jet.dll cross-built with mingw-w64, its tests run under wine64; GoogleTest for
      # Windows is compiled from Debian's sources (googletest: /usr/src/googletest)
      g++-mingw-w64-x86-64-posix wine64 googletest)
cuda_pkgs=(nvidia-cuda-toolkit g++-11)

# add_components FILE: appends contrib and non-free to every source of FILE that has main
# (deb822 `Components:` lines in *.sources, `deb ...` lines in *.list); prints whether it changed.
add_components() {
  local file=$1 tmp
  tmp=$(mktemp)
  if [[ "$file" == *.sources ]]; then
    awk '/^Components:/ && / main( |$)/ { n = split("contrib non-free", want, " ");
           for (i = 1; i <= n; i++) if ($0 !~ (" " want[i] "( |$)")) $0 = $0 " " want[i] } { print }' "$file" >"$tmp"
  else
    awk '/^[ \t]*deb(-src)?[ \t]/ && / main( |$)/ { n = split("contrib non-free", want, " ");
           for (i = 1; i <= n; i++) if ($0 !~ (" " want[i] "( |$)")) $0 = $0 " " want[i] } { print }' "$file" >"$tmp"
  fi
  if cmp -s "$file" "$tmp"; then
    rm -f "$tmp"
  else
    $SUDO cp "$tmp" "$file"
    rm -f "$tmp"
    echo "install-deps: enabled contrib non-free in $file"
    rm -f /tmp/.jet-apt-updated
  fi
}

enable_contrib_non_free() {
  local files=() f
  if [ -n "${JET_APT_SOURCES:-}" ]; then
    read -r -a files <<<"$JET_APT_SOURCES"
  else
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] && files+=("$f")
    done
  fi
  [ ${#files[@]} -gt 0 ] || { echo "error: no apt sources found to enable contrib non-free in" >&2; return 1; }
  for f in "${files[@]}"; do add_components "$f"; done
}

if [ "${1:-}" = "--cuda" ]; then
  cuda_missing=0
  for p in "${cuda_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || cuda_missing=1; done
  [ "$cuda_missing" -eq 0 ] || enable_contrib_non_free
  pkgs+=("${cuda_pkgs[@]}")
elif [ "${1:-}" = "--enable-contrib-non-free" ]; then
  enable_contrib_non_free  # used by the CI's own test of this script
  exit 0
fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ -f /tmp/.jet-apt-updated ] || { $SUDO apt-get update -q >/dev/null; touch /tmp/.jet-apt-updated; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
