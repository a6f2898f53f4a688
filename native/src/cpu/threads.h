// cpu/threads.h - a fixed pool of worker threads for the CPU operators.
#pragma once

#include <cstdint>
#include <functional>

namespace jet::cpu {

// Sets the number of threads (0 = all hardware threads). Process-wide; call before use.
void set_num_threads(int n);
int num_threads();
// Runs fn(begin, end) over [0, n) split into contiguous ranges, one per thread, and waits.
// Runs inline for small n or when called from inside a worker.
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)> &fn);

}  // namespace jet::cpu
