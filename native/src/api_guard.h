// api_guard.h - what every C ABI entry point shares (api.cpp, config_api.cpp): the thread's last
// error message and guard(), which turns every exception into a jet_status and that message.
#pragma once

#include <new>
#include <stdexcept>
#include <string>

#include "error.h"
#include "jet.h"

namespace jet::api {

// The message jet_last_error() returns: one per thread, shared by every translation unit.
// Defined once in api.cpp (not `inline`: mingw-w64 emits the TLS init function of an inline
// thread_local in every unit, and jet.dll then fails to link with duplicate definitions).
extern thread_local std::string t_last_error;

[[noreturn]] inline void invalid(const std::string &msg) {
    throw Error(JET_ERR_INVALID_ARGUMENT, msg);
}

// Stores the thread's last error; never throws (an allocation failure keeps a static text).
inline void set_error(const char *fn, const char *what, const char *prefix = "") noexcept {
    try {
        t_last_error = std::string(fn) + ": " + prefix + what;
    } catch (...) {
        try {
            t_last_error = "out of memory";
        } catch (...) {
        }
    }
}

// Runs f, turning every exception into a status and the thread's last error.
template <class F>
jet_status guard(const char *fn, F &&f) noexcept {
    try {
        f();
        return JET_OK;
    } catch (const Error &e) {
        set_error(fn, e.what());
        return e.status();
    } catch (const std::bad_alloc &) {
        set_error(fn, "out of memory");
        return JET_ERR_OUT_OF_MEMORY;
    } catch (const std::length_error &e) {
        set_error(fn, e.what(), "out of memory: ");
        return JET_ERR_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        set_error(fn, e.what(), "internal error: ");
        return JET_ERR_INTERNAL;
    } catch (...) {
        set_error(fn, "unknown exception", "internal error: ");
        return JET_ERR_INTERNAL;
    }
}

}  // namespace jet::api
