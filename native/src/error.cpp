// error.cpp - engine logging through the callback set by jet_set_log_callback.
#include "error.h"

#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "log_sink.h"

namespace jet {

namespace {
std::mutex g_log_mutex;
jet_log_callback g_log_callback = nullptr;
void *g_log_user_data = nullptr;
}  // namespace

void set_log_sink(jet_log_callback callback, void *user_data) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_log_callback = callback;
    g_log_user_data = user_data;
}

void log(jet_log_level level, const char *fmt, ...) {
    char buf[1024];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (g_log_callback) {
        g_log_callback(static_cast<int32_t>(level), buf, g_log_user_data);
    } else if (level >= JET_LOG_WARN) {
        std::fprintf(stderr, "jet: %s: %s\n", level == JET_LOG_WARN ? "warning" : "error", buf);
    }
}

}  // namespace jet
