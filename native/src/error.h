// error.h - the one exception type inside the engine; api.cpp turns it into a jet_status and
// the thread-local message returned by jet_last_error().
#pragma once

#include <stdexcept>
#include <string>

#include "jet.h"

namespace jet {

class Error : public std::runtime_error {
public:
    Error(jet_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    jet_status status() const { return status_; }

private:
    jet_status status_;
};

// Logging through the callback set by jet_set_log_callback.
void log(jet_log_level level, const char *fmt, ...);

}  // namespace jet
