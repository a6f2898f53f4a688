# CPU operator dependencies (BLAS choice, vector flags) for jet_core. Owned by the CPU ops.
#
# Vector code: the hot loops are compiled for both x86-64-v3 (AVX2/FMA) and the baseline and
# chosen at load time (JET_CLONES in native/src/cpu/simd.h), so the default build runs on every
# x86-64 machine. JET_NATIVE_ARCH=ON builds everything with -march=native instead (a binary for
# this machine only). -fopenmp-simd honours `#pragma omp simd` (vectorised reductions) without
# the OpenMP runtime.
option(JET_NATIVE_ARCH "Compile the engine with -march=native (not portable)" OFF)

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(jet_core PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fopenmp-simd>)
  # The operators never read errno or floating-point exception flags; without these two flags
  # the compiler keeps branches (clamps, selects) and sqrt calls that stop loops vectorising.
  # Results are unchanged (no reassociation, no fast-math).
  file(GLOB _jet_cpu_op_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/native/src/cpu/*.cpp)
  set_source_files_properties(${_jet_cpu_op_sources} PROPERTIES
    COMPILE_OPTIONS "-fno-math-errno;-fno-trapping-math")
  if(JET_NATIVE_ARCH)
    target_compile_options(jet_core PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
    target_compile_definitions(jet_core PRIVATE JET_NO_MULTIVERSION=1)
  endif()
endif()

# GEMMs with many rows (prefill): OpenBLAS when found (Debian: libopenblas-dev), else the
# built-in kernel (native/src/cpu/matmul.cpp). Decode (T <= 3) always uses the built-in GEMV.
#   JET_BLAS=AUTO      OpenBLAS if its CMake package is found, built-in otherwise (default)
#   JET_BLAS=OpenBLAS  require OpenBLAS (configure error if missing)
#   JET_BLAS=OFF       built-in only: libjet then depends on nothing but libc/libstdc++
# JET_BLAS_STATIC=ON links libopenblas.a into libjet (a self-contained library, ~25 MB larger,
# OpenBLAS symbols kept private) instead of depending on libopenblas.so.0 at run time.
set(JET_BLAS "AUTO" CACHE STRING "BLAS for CPU prefill GEMMs: AUTO, OpenBLAS or OFF")
set_property(CACHE JET_BLAS PROPERTY STRINGS AUTO OpenBLAS OFF)
option(JET_BLAS_STATIC "Link OpenBLAS statically into libjet" OFF)

set(JET_USING_OPENBLAS OFF)
if(NOT JET_BLAS STREQUAL "OFF")
  if(JET_BLAS STREQUAL "OpenBLAS")
    find_package(OpenBLAS CONFIG REQUIRED)
  else()
    find_package(OpenBLAS CONFIG QUIET)
  endif()
  if(OpenBLAS_FOUND)
    set(_jet_openblas_lib ${OpenBLAS_LIBRARIES})
    if(JET_BLAS_STATIC)
      list(GET OpenBLAS_LIBRARIES 0 _jet_openblas_so)
      string(REGEX REPLACE "\\.so$" ".a" _jet_openblas_lib "${_jet_openblas_so}")
      if(NOT EXISTS "${_jet_openblas_lib}")
        message(FATAL_ERROR "JET_BLAS_STATIC=ON but ${_jet_openblas_lib} does not exist")
      endif()
      target_link_options(jet_core INTERFACE "LINKER:--exclude-libs,libopenblas.a")
    endif()
    target_include_directories(jet_core SYSTEM PRIVATE ${OpenBLAS_INCLUDE_DIRS})
    target_link_libraries(jet_core PUBLIC ${_jet_openblas_lib} Threads::Threads)
    target_compile_definitions(jet_core PRIVATE JET_HAVE_OPENBLAS=1
      JET_OPENBLAS_VERSION="${OpenBLAS_VERSION}")
    set(JET_USING_OPENBLAS ON)
    message(STATUS "JetNative CPU GEMM: OpenBLAS ${OpenBLAS_VERSION} (${_jet_openblas_lib})")
  endif()
endif()
if(NOT JET_USING_OPENBLAS)
  message(STATUS "JetNative CPU GEMM: built-in kernel (JET_BLAS=${JET_BLAS})")
endif()
