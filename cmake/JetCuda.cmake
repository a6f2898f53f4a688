# The CUDA backend (native/src/cuda/). Included only with -DJET_CUDA=ON, and then a missing or
# broken CUDA toolchain is a configure error, never a silent CPU-only build.
# nvcc 11.8 (CI) needs -DCMAKE_CUDA_HOST_COMPILER=g++-11; the GPU machine has nvcc 13.
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "JET_CUDA=ON but no CUDA compiler was enabled")
endif()
find_package(CUDAToolkit REQUIRED)
file(GLOB JET_CUDA_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/native/src/cuda/*.cu
  ${PROJECT_SOURCE_DIR}/native/src/cuda/*.cpp)
target_sources(jet_core PRIVATE ${JET_CUDA_SOURCES})
target_compile_definitions(jet_core PUBLIC JET_HAVE_CUDA=1)
target_link_libraries(jet_core PUBLIC CUDA::cudart_static CUDA::cublas CUDA::cublasLt)
set_target_properties(jet_core PROPERTIES CUDA_SEPARABLE_COMPILATION OFF)
target_compile_options(jet_core PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo>)

# Hopper: the wgmma kernels (attention_prefill_sm90.cu) need the arch-specific target sm_90a,
# which nvcc has from 12.0. With such an nvcc, architecture 90 in the list is built as 90a
# (runs on the same sm_90 devices) unless JET_CUDA_SM90A is OFF; JET_CUDA_SM90A=1 then tells
# the host code that the sm_90a kernels exist. nvcc 11.8 (CI) keeps 90 and the mma.sync paths.
option(JET_CUDA_SM90A "Build CUDA architecture 90 as 90a (wgmma kernels) when nvcc >= 12" ON)
get_target_property(_jet_cuda_archs jet_core CUDA_ARCHITECTURES)
if(JET_CUDA_SM90A AND CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0 AND _jet_cuda_archs)
  list(TRANSFORM _jet_cuda_archs REPLACE "^90($|-)" "90a\\1")
  set_property(TARGET jet_core PROPERTY CUDA_ARCHITECTURES ${_jet_cuda_archs})
endif()
if(_jet_cuda_archs MATCHES "(^|;)90a")
  target_compile_definitions(jet_core PRIVATE JET_CUDA_SM90A=1)
endif()
message(STATUS "JetNative CUDA architectures: ${_jet_cuda_archs} (nvcc ${CMAKE_CUDA_COMPILER_VERSION})")

# The full-model GPU benchmark (native/bench/cuda/model_bench.cpp): no Google Benchmark needed,
# so it is built with every CUDA build (the GPU machine has no benchmark package). Its hooks into
# the backend (bench_hooks.cu: decode graph replay timing, per-op breakdown, copy bandwidth) are
# compiled here only, never into libjet.
add_executable(jet_model_bench ${PROJECT_SOURCE_DIR}/native/bench/cuda/model_bench.cpp
  ${PROJECT_SOURCE_DIR}/native/bench/cuda/bench_hooks.cu)
target_link_libraries(jet_model_bench PRIVATE jet_core)
