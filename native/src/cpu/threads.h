// cpu/threads.h - a fixed pool of worker threads for the CPU operators.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace jet::cpu {

// Sets the number of threads: 0 = the default (the physical cores this process may use); values
// above max_reasonable_threads() are clamped to the usable CPUs with a warning through jet::log.
// Process-wide; call before use.
void set_num_threads(int n);
int num_threads();
// Runs fn(begin, end) over [0, n) split into at most num_threads() contiguous ranges, and waits.
// The calling thread takes ranges too; a range no running thread has claimed is taken by the
// first thread free, so a worker the OS has descheduled never stalls the job. Runs inline for
// n == 1, when called from inside a job, or while another caller's job holds the pool.
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)> &fn);

// The CPUs this process may use: logical CPUs in its affinity mask, the distinct physical cores
// among them, both capped by the cgroup CPU quota (cpu.max) when one is set.
struct CpuCounts {
    int logical = 1;
    int physical = 1;
};
CpuCounts usable_cpus();

// The pieces of usable_cpus(), for tests. `cpus` are CPU numbers; `sysfs_cpu_dir` holds
// cpuN/topology/{core_id,physical_package_id} (a CPU without them counts as its own core).
int count_physical_cores(const std::vector<int> &cpus, const std::string &sysfs_cpu_dir);
// CPUs allowed by a cgroup v2 cpu.max file ("max 100000" or "150000 100000" -> 2, rounded up);
// 0 when there is no limit or the file is missing or malformed.
int cgroup_cpu_limit(const std::string &cpu_max_path);

// Thread count for a request: 0 -> cpus.physical; a request above max_reasonable_threads(cpus)
// -> cpus.logical, with the reason in *warning (left empty otherwise).
int resolve_num_threads(int requested, const CpuCounts &cpus, std::string *warning);
// 4 threads per usable logical CPU, at most 256.
int max_reasonable_threads(const CpuCounts &cpus);

}  // namespace jet::cpu
