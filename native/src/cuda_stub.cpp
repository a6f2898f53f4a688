// cuda_stub.cpp - the CUDA factory of a build without CUDA (compiled only when JET_CUDA is OFF).
#include "backend.h"
#include "error.h"

namespace jet {

std::unique_ptr<Backend> make_cuda_backend(const Config &, std::shared_ptr<const Weights>, int) {
    throw Error(JET_ERR_DEVICE,
                "this build of JetNative has no CUDA backend (rebuild with -DJET_CUDA=ON), "
                "use the CPU device");
}

int cuda_device_count() { return 0; }

}  // namespace jet
