#!/usr/bin/env bash
# One command from a fresh machine (Debian bookworm + .NET SDK 10): installs the Debian build
# dependencies, restores the local dotnet tools (PowerShell), then runs build.ps1.
#   ./build.sh demo     generate text with the embedded demo model
#   ./build.sh test     build everything and run the native and managed tests
#   ./build.sh <task> [build.ps1 options]   tasks: native native-test managed test pack demo
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v dotnet >/dev/null || { echo "error: the .NET SDK 10 (dotnet) is required: https://dot.net" >&2; exit 1; }
bash .ci/install-deps.sh ${JET_INSTALL_CUDA:+--cuda}
dotnet tool restore >/dev/null
exec dotnet pwsh -NoLogo -NoProfile -File build.ps1 "$@"
