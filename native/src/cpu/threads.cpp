// cpu/threads.cpp - a fixed pool of worker threads behind parallel_for.
//
// One pool per process. parallel_for splits [0, n) into at most num_threads() contiguous
// ranges; the calling thread runs the first range itself and the workers run the rest. Workers
// spin briefly after finishing a job (decode issues many short jobs back to back), then sleep on
// a condition variable. A job submitted while the pool is busy with another caller's job, or
// from inside a worker, runs inline on the calling thread: never a deadlock, never
// oversubscription.
#include "cpu/threads.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JET_CPU_RELAX() _mm_pause()
#else
#define JET_CPU_RELAX() std::this_thread::yield()
#endif

namespace jet::cpu {
namespace {

thread_local bool t_in_worker = false;

int hardware_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

class Pool {
public:
    explicit Pool(int n_threads) : n_threads_(std::max(1, n_threads)) {
        for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
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
    bool run(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
        std::unique_lock<std::mutex> busy(busy_mu_, std::try_to_lock);
        if (!busy.owns_lock()) return false;
        const int parts = static_cast<int>(std::min<int64_t>(n, n_threads_));
        {
            std::lock_guard<std::mutex> lk(mu_);
            fn_ = &fn;
            n_ = n;
            parts_ = parts;
            pending_.store(parts - 1, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_release);
        }
        cv_.notify_all();
        run_part(0, fn, n, parts);
        // Wait for the workers that have a part (spin first: parts are usually short).
        for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
            if (spin < 20000) {
                JET_CPU_RELAX();
            } else {
                std::unique_lock<std::mutex> lk(mu_);
                done_cv_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
            }
        }
        return true;
    }

private:
    static void run_part(int part, const std::function<void(int64_t, int64_t)> &fn, int64_t n,
                         int parts) {
        const int64_t begin = n * part / parts, end = n * (part + 1) / parts;
        if (begin < end) fn(begin, end);
    }

    void worker(int index) {
        t_in_worker = true;
        uint64_t seen = 0;
        for (;;) {
            // Spin a little for the next job, then sleep.
            uint64_t gen = generation_.load(std::memory_order_acquire);
            for (int spin = 0; gen == seen && spin < 20000; ++spin) {
                JET_CPU_RELAX();
                gen = generation_.load(std::memory_order_acquire);
            }
            const std::function<void(int64_t, int64_t)> *fn;
            int64_t n;
            int parts;
            {
                std::unique_lock<std::mutex> lk(mu_);
                cv_.wait(lk, [&] { return stop_ || generation_.load() != seen; });
                if (stop_) return;
                seen = generation_.load();
                fn = fn_;
                n = n_;
                parts = parts_;
            }
            if (index < parts) {
                run_part(index, *fn, n, parts);
                if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                    std::lock_guard<std::mutex> lk(mu_);
                    done_cv_.notify_all();
                }
            }
        }
    }

    const int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex busy_mu_;  // held by the one caller whose job the pool runs
    std::mutex mu_;
    std::condition_variable cv_, done_cv_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    bool stop_ = false;
    const std::function<void(int64_t, int64_t)> *fn_ = nullptr;
    int64_t n_ = 0;
    int parts_ = 0;
};

std::mutex g_pool_mu;
std::shared_ptr<Pool> g_pool;
int g_requested = 0;

std::shared_ptr<Pool> pool() {
    std::lock_guard<std::mutex> lk(g_pool_mu);
    if (!g_pool)
        g_pool = std::make_shared<Pool>(g_requested > 0 ? g_requested : hardware_threads());
    return g_pool;
}

}  // namespace

void set_num_threads(int n) {
    std::shared_ptr<Pool> old;
    {
        std::lock_guard<std::mutex> lk(g_pool_mu);
        g_requested = n < 0 ? 0 : n;
        const int want = g_requested > 0 ? g_requested : hardware_threads();
        if (g_pool && g_pool->size() == want) return;
        old = std::move(g_pool);  // joined below, once no caller holds it
    }
    old.reset();
}

int num_threads() { return pool()->size(); }

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
    if (n <= 0) return;
    if (n == 1 || t_in_worker) {
        fn(0, n);
        return;
    }
    std::shared_ptr<Pool> p = pool();
    if (p->size() == 1 || !p->run(n, fn)) fn(0, n);
}

}  // namespace jet::cpu
