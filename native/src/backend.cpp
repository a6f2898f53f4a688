// backend.cpp - the non-pure parts of backend.h.
#include "backend.h"

#include "error.h"

namespace jet {

void Cache::check_cancel() const {
    if (cancel && cancel->load(std::memory_order_relaxed))
        throw Error(JET_ERR_CANCELLED, "cancelled by jet_session_cancel");
}

int64_t Backend::cache_bytes(int64_t, int64_t *) const {
    throw Error(JET_ERR_UNSUPPORTED, "this backend does not report its cache size");
}

}  // namespace jet
