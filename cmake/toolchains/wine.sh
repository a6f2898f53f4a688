#!/usr/bin/env bash
# wine.sh init|start|stop PREFIX - the wine64 prefix that runs the win-x64 tests (build.ps1
# -Target win-x64; the toolchain's CMAKE_CROSSCOMPILING_EMULATOR uses the same PREFIX).
#   init   creates PREFIX if it has no system.reg yet (wine's first start) and prints how long
#   start  keeps one wineserver running, with wine's services started with no terminal attached:
#          otherwise every test process starts a wineserver and services that inherit its
#          output pipe, and ctest waits seconds per test for them to exit
#   stop   ends that wineserver and every wine process of PREFIX
set -euo pipefail
cmd=${1:?usage: wine.sh init|start|stop PREFIX} prefix=${2:?usage: wine.sh init|start|stop PREFIX}
wine=$(command -v wine64 || true)
[ -n "$wine" ] || wine=/usr/lib/wine/wine64
[ -x "$wine" ] || { echo "error: wine64 is not installed (Debian: wine64)" >&2; exit 1; }
wineserver=$(dirname "$(readlink -f "$wine")")/wineserver
[ -x "$wineserver" ] || wineserver=$(command -v wineserver)
export WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
case $cmd in
  init)
    [ -f "$prefix/system.reg" ] && exit 0
    t0=$(date +%s%N)
    "$wine" wineboot -i </dev/null >/dev/null 2>&1
    "$wineserver" -w
    ms=$((($(date +%s%N) - t0) / 1000000))
    printf "wine's first start (a fresh prefix in %s): %d.%01d s\n" "$prefix" $((ms / 1000)) $((ms % 1000 / 100))
    ;;
  start)
    "$wineserver" -p </dev/null >/dev/null 2>&1
    "$wine" wineboot </dev/null >/dev/null 2>&1
    ;;
  stop)
    "$wineserver" -k 2>/dev/null || true
    "$wineserver" -w 2>/dev/null || true
    ;;
  *) echo "error: unknown command '$cmd' (init, start or stop)" >&2; exit 1 ;;
esac
