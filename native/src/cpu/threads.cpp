// cpu/threads.cpp - a fixed pool of worker threads behind parallel_for.
//
// One pool per process. parallel_for splits [0, n) into at most num_threads() contiguous
// ranges ("parts"). Parts are claimed, not assigned: the caller and every awake worker take the
// next unclaimed part from one atomic counter, so a worker that the OS has not scheduled (more
// threads than free cores, another busy process) leaves its part to the threads that are
// running instead of stalling the job until its next time slice.
//
// Waiting: a worker spins for a short, bounded time after a job (decode issues many short jobs
// back to back), then sleeps on a condition variable (a futex); when the pool has more threads
// than usable CPUs nobody spins at all, since a spinning thread would only take the CPU from the
// one doing the work. The caller waits for claimed parts the same way.
//
// A job submitted while the pool runs another caller's job, or from inside a job, runs inline
// on the calling thread: never a deadlock, never oversubscription.
#include "cpu/threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "error.h"
#include "platform.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JET_CPU_RELAX() _mm_pause()
#else
#define JET_CPU_RELAX() std::this_thread::yield()
#endif

namespace jet::cpu {
namespace {

using Fn = std::function<void(int64_t, int64_t)>;
using Clock = std::chrono::steady_clock;

// How long a thread spins for the next job or for the last parts before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(50);
constexpr int kMaxThreads = 256;

thread_local bool t_in_job = false;  // inside a worker, or a caller running its pool job

// Spins until pred() holds or `budget` has passed; returns pred().
template <class Pred>
bool spin_until(Pred pred, std::chrono::microseconds budget) {
    if (budget.count() <= 0) return pred();
    const auto deadline = Clock::now() + budget;
    for (int i = 1;; ++i) {
        if (pred()) return true;
        JET_CPU_RELAX();
        if ((i & 63) == 0 && Clock::now() >= deadline) return pred();
    }
}

int read_int(const std::string &path, int fallback) {
    std::ifstream f(path);
    int v;
    return (f >> v) ? v : fallback;
}

class Pool {
public:
    Pool(int n_threads, bool spin)
        : n_threads_(std::max(1, n_threads)), spin_(spin ? kSpin : std::chrono::microseconds(0)) {
        for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker(); });
    }
    ~Pool() {
        {
            std::lock_guard<std::mutex> lk(mu_);
            stop_ = true;
            generation_.fetch_add(1, std::memory_order_release);
        }
        cv_.notify_all();
        for (auto &t : workers_) t.join();
    }
    int size() const { return n_threads_; }

    // Returns false when the pool is busy (the caller then runs the job inline).
    bool run(int64_t n, const Fn &fn) {
        std::unique_lock<std::mutex> busy(busy_mu_, std::try_to_lock);
        if (!busy.owns_lock()) return false;
        const int parts = static_cast<int>(std::min<int64_t>(n, n_threads_));
        uint32_t tag;
        bool wake;
        {
            std::lock_guard<std::mutex> lk(mu_);
            tag = ++job_;
            fn_ = &fn;
            n_ = n;
            parts_ = parts;
            done_.store(0, std::memory_order_relaxed);
            claim_.store(uint64_t(tag) << 32, std::memory_order_release);
            generation_.fetch_add(1, std::memory_order_release);
            wake = sleepers_ > 0;
        }
        if (wake) cv_.notify_all();
        {
            struct InJob {
                InJob() { t_in_job = true; }
                ~InJob() { t_in_job = false; }
            } in_job;
            work(tag, fn, n, parts);
        }
        // Parts claimed by workers may still run: wait for them (spin first: parts are short).
        auto finished = [&] { return done_.load(std::memory_order_acquire) == parts; };
        if (!spin_until(finished, spin_)) {
            std::unique_lock<std::mutex> lk(mu_);
            done_cv_.wait(lk, finished);
        }
        return true;
    }

private:
    // Claims and runs parts of job `tag` until none is left. A claim succeeds only while the
    // counter still carries this job's tag, so a late worker never runs a part of a newer job
    // with an older job's function; and the caller returns only when every claimed part is done,
    // so `fn` outlives every part that was claimed.
    void work(uint32_t tag, const Fn &fn, int64_t n, int parts) {
        for (;;) {
            uint64_t v = claim_.load(std::memory_order_acquire);
            do {
                if (uint32_t(v >> 32) != tag || int(uint32_t(v)) >= parts) return;
            } while (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel,
                                                   std::memory_order_acquire));
            const int part = int(uint32_t(v));
            const int64_t begin = n * part / parts, end = n * (part + 1) / parts;
            if (begin < end) fn(begin, end);
            if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == parts) {
                std::lock_guard<std::mutex> lk(mu_);
                done_cv_.notify_all();
            }
        }
    }

    void worker() {
        t_in_job = true;
        uint64_t seen = 0;
        for (;;) {
            spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, spin_);
            const Fn *fn;
            int64_t n;
            int parts;
            uint32_t tag;
            {
                std::unique_lock<std::mutex> lk(mu_);
                if (!stop_ && generation_.load() == seen) {
                    ++sleepers_;
                    cv_.wait(lk, [&] { return stop_ || generation_.load() != seen; });
                    --sleepers_;
                }
                if (stop_) return;
                seen = generation_.load();
                fn = fn_;
                n = n_;
                parts = parts_;
                tag = job_;
            }
            work(tag, *fn, n, parts);
        }
    }

    const int n_threads_;
    const std::chrono::microseconds spin_;
    std::vector<std::thread> workers_;
    std::mutex busy_mu_;  // held by the one caller whose job the pool runs
    std::mutex mu_;       // guards the job description, sleepers_ and stop_
    std::condition_variable cv_, done_cv_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<uint64_t> claim_{0};  // job tag << 32 | next unclaimed part
    std::atomic<int> done_{0};        // parts finished
    int sleepers_ = 0;
    bool stop_ = false;
    uint32_t job_ = 0;
    const Fn *fn_ = nullptr;
    int64_t n_ = 0;
    int parts_ = 0;
};

std::mutex g_pool_mu;
std::shared_ptr<Pool> g_pool;
int g_requested = 0;

int resolved_locked(const CpuCounts &cpus) {
    std::string warning;
    const int n = resolve_num_threads(g_requested, cpus, &warning);
    if (!warning.empty()) jet::log(JET_LOG_WARN, "%s", warning.c_str());
    return n;
}

std::shared_ptr<Pool> pool() {
    std::lock_guard<std::mutex> lk(g_pool_mu);
    if (!g_pool) {
        const CpuCounts cpus = usable_cpus();
        const int n = resolved_locked(cpus);
        g_pool = std::make_shared<Pool>(n, n <= cpus.logical);
    }
    return g_pool;
}

}  // namespace

int count_physical_cores(const std::vector<int> &cpus, const std::string &sysfs_cpu_dir) {
    std::set<std::pair<int, int>> cores;
    int unknown = 0;
    for (int cpu : cpus) {
        const std::string topo = sysfs_cpu_dir + "/cpu" + std::to_string(cpu) + "/topology/";
        const int core = read_int(topo + "core_id", -1);
        const int package = read_int(topo + "physical_package_id", 0);
        if (core < 0)
            ++unknown;
        else
            cores.emplace(package, core);
    }
    return std::max(1, static_cast<int>(cores.size()) + unknown);
}

int cgroup_cpu_limit(const std::string &cpu_max_path) {
    std::ifstream f(cpu_max_path);
    std::string quota;
    long long period = 0;
    if (!(f >> quota >> period) || quota == "max" || period <= 0) return 0;
    long long q = 0;
    try {
        size_t used = 0;
        q = std::stoll(quota, &used);
        if (used != quota.size() || q <= 0) return 0;
    } catch (const std::exception &) {
        return 0;
    }
    return static_cast<int>(std::max(1LL, (q + period - 1) / period));
}

CpuCounts usable_cpus() {
    std::vector<int> cpus = platform::affinity_cpus();
    if (cpus.empty()) {
        const int n = std::max(1u, std::thread::hardware_concurrency());
        for (int i = 0; i < n; ++i) cpus.push_back(i);
    }
    CpuCounts c;
    c.logical = static_cast<int>(cpus.size());
    c.physical = platform::physical_cores(cpus);
    if (c.physical <= 0) c.physical = count_physical_cores(cpus, "/sys/devices/system/cpu");
    if (const int quota = cgroup_cpu_limit("/sys/fs/cgroup/cpu.max"); quota > 0) {
        c.logical = std::min(c.logical, quota);
        c.physical = std::min(c.physical, quota);
    }
    c.physical = std::max(1, std::min(c.physical, c.logical));
    return c;
}

int max_reasonable_threads(const CpuCounts &cpus) {
    return std::min(kMaxThreads, 4 * std::max(1, cpus.logical));
}

int resolve_num_threads(int requested, const CpuCounts &cpus, std::string *warning) {
    if (warning) warning->clear();
    if (requested <= 0) return std::max(1, cpus.physical);
    const int limit = max_reasonable_threads(cpus);
    if (requested <= limit) return requested;
    const int n = std::max(1, std::min(cpus.logical, kMaxThreads));
    if (warning)
        *warning = std::to_string(requested) + " CPU threads requested, but this process may use " +
                   std::to_string(cpus.logical) + " CPUs (more than " + std::to_string(limit) +
                   " threads only slows decoding down): using " + std::to_string(n);
    return n;
}

void set_num_threads(int n) {
    std::shared_ptr<Pool> old;
    {
        std::lock_guard<std::mutex> lk(g_pool_mu);
        g_requested = n < 0 ? 0 : n;
        const CpuCounts cpus = usable_cpus();
        const int want = resolved_locked(cpus);
        if (g_pool && g_pool->size() == want) return;
        old = std::move(g_pool);  // joined below, once no caller holds it
        g_pool = std::make_shared<Pool>(want, want <= cpus.logical);
    }
    old.reset();
}

int num_threads() { return pool()->size(); }

void parallel_for(int64_t n, const Fn &fn) {
    if (n <= 0) return;
    if (n == 1 || t_in_job) {
        fn(0, n);
        return;
    }
    std::shared_ptr<Pool> p = pool();
    if (p->size() == 1 || !p->run(n, fn)) fn(0, n);
}

}  // namespace jet::cpu
