# CMake toolchain: win-x64 (jet.dll and the GoogleTest suite as .exe) cross-compiled on Linux
# with mingw-w64 (Debian: g++-mingw-w64-x86-64-posix, the POSIX-threads flavour that std::thread
# needs). build.ps1's `-Target win-x64` uses it:
#   cmake -S . -B build-win-x64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake
# libgcc, libstdc++ and winpthread are linked statically, so jet.dll and jet_tests.exe need
# nothing but Windows' own DLLs (KERNEL32, msvcrt, ...). The executables run under wine64 when
# it is installed (CMAKE_CROSSCOMPILING_EMULATOR: test discovery and ctest use it), in a wine
# prefix inside the build folder, quiet (WINEDEBUG=-all).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(JET_MINGW_PREFIX x86_64-w64-mingw32)

find_program(CMAKE_C_COMPILER NAMES ${JET_MINGW_PREFIX}-gcc-posix REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${JET_MINGW_PREFIX}-g++-posix REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${JET_MINGW_PREFIX}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${JET_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -static: libgcc, libstdc++ and libwinpthread from their .a files (no DLLs to ship beside).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
# GCC on Windows does not align the stack to 32 bytes for AVX spills (GCC bug 54412): the
# assembler turns aligned vector moves into unaligned ones so the AVX2 kernels cannot fault.
set(CMAKE_C_FLAGS_INIT "-Wa,-muse-unaligned-vector-move")
set(CMAKE_CXX_FLAGS_INIT "-Wa,-muse-unaligned-vector-move")

if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(JET_WINE64 NAMES wine64 PATHS /usr/lib/wine /usr/lib64/wine)
  if(JET_WINE64)
    set(CMAKE_CROSSCOMPILING_EMULATOR
      env WINEDEBUG=-all "WINEDLLOVERRIDES=mscoree,mshtml=" WINEPREFIX=${CMAKE_BINARY_DIR}/wineprefix
      ${JET_WINE64})
  endif()
endif()
