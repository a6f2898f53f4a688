// log_sink.h - where jet::log sends its lines (set by jet_set_log_callback; NULL = stderr).
#pragma once

#include "jet.h"

namespace jet {

void set_log_sink(jet_log_callback callback, void *user_data);

}  // namespace jet
