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

# The full-model GPU benchmark (native/bench/cuda/model_bench.cpp): no Google Benchmark needed,
# so it is built with every CUDA build (the GPU machine has no benchmark package).
add_executable(jet_model_bench ${PROJECT_SOURCE_DIR}/native/bench/cuda/model_bench.cpp)
target_link_libraries(jet_model_bench PRIVATE jet_core)
