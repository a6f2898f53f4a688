// Tests for cpu/threads.cpp: every index is visited exactly once, ranges are contiguous,
// nested and concurrent calls complete, the pool can be resized, a stalled worker does not stall
// the job, and the thread count is resolved from the CPUs (physical cores, cgroup quota, clamp).
// The speed under oversubscription is measured by native/bench/threads_bench.sh, not here.
#include "cpu/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log_sink.h"

namespace {

void expect_covers_once(int64_t n) {
    std::vector<std::atomic<int>> hits(n);
    for (auto &h : hits) h = 0;
    jet::cpu::parallel_for(n, [&](int64_t b, int64_t e) {
        ASSERT_LE(0, b);
        ASSERT_LT(b, e);
        ASSERT_LE(e, n);
        for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
}

TEST(Threads, CoversEveryIndexOnce) {
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 100003}) expect_covers_once(n);
}

TEST(Threads, SplitsIntoAtMostNumThreadsRanges) {
    std::atomic<int> calls{0};
    jet::cpu::parallel_for(1000, [&](int64_t, int64_t) { calls++; });
    EXPECT_GE(calls.load(), 1);
    EXPECT_LE(calls.load(), jet::cpu::num_threads());
}

TEST(Threads, ResizesAndRestores) {
    const int n = jet::cpu::num_threads();
    EXPECT_GE(n, 1);
    jet::cpu::set_num_threads(3);
    EXPECT_EQ(jet::cpu::num_threads(), 3);
    std::atomic<int> calls{0};
    jet::cpu::parallel_for(30, [&](int64_t, int64_t) { calls++; });
    EXPECT_EQ(calls.load(), 3);
    expect_covers_once(12345);
    jet::cpu::set_num_threads(1);
    EXPECT_EQ(jet::cpu::num_threads(), 1);
    expect_covers_once(100);
    jet::cpu::set_num_threads(0);  // the physical cores
    EXPECT_EQ(jet::cpu::num_threads(), jet::cpu::usable_cpus().physical);
    jet::cpu::set_num_threads(n);
}

TEST(Threads, NestedCallsRunInline) {
    std::atomic<int64_t> sum{0};
    jet::cpu::parallel_for(8, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
            jet::cpu::parallel_for(10, [&](int64_t b2, int64_t e2) { sum += e2 - b2; });
    });
    EXPECT_EQ(sum.load(), 80);
}

TEST(Threads, ConcurrentCallersAllComplete) {
    std::vector<std::thread> callers;
    std::atomic<int64_t> total{0};
    for (int c = 0; c < 4; ++c)
        callers.emplace_back([&] {
            for (int r = 0; r < 200; ++r)
                jet::cpu::parallel_for(97, [&](int64_t b, int64_t e) { total += e - b; });
        });
    for (auto &t : callers) t.join();
    EXPECT_EQ(total.load(), 4 * 200 * 97);
}

// More threads than CPUs: the parts of workers that are not running are taken by the threads
// that are, so every job completes and covers each index once.
TEST(Threads, OversubscribedPoolCompletesEveryJob) {
    const int n = jet::cpu::num_threads();
    jet::cpu::set_num_threads(4 * jet::cpu::usable_cpus().logical);
    for (int r = 0; r < 2000; ++r) expect_covers_once(64);
    jet::cpu::set_num_threads(n);
}

// A part that blocks (as a descheduled thread would) leaves the other parts to other threads:
// the caller does not wait for the blocked one before taking the remaining parts.
TEST(Threads, PartsAreClaimedNotAssigned) {
    const int n = jet::cpu::num_threads();
    jet::cpu::set_num_threads(4);
    std::atomic<int> parts{0};
    std::vector<std::thread::id> owners(4);
    jet::cpu::parallel_for(4, [&](int64_t b, int64_t) {
        owners[b] = std::this_thread::get_id();
        ++parts;
        // Part 0 is the first claimed (claims go in index order). Keyed on the part, not on which
        // part starts first: a thread that claimed part 1 can start before the one holding part
        // 0, and the test then blamed the pool for the sleeper's neighbour (CI, under ASan).
        if (b == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    });
    EXPECT_EQ(parts.load(), 4);
    int distinct_from_first = 0;
    for (int i = 1; i < 4; ++i) distinct_from_first += owners[i] != owners[0];
    EXPECT_EQ(distinct_from_first, 3) << "the thread stuck in one part ran another part";
    jet::cpu::set_num_threads(n);
}

class TempDir {
public:
    TempDir() {
        path_ = std::filesystem::temp_directory_path() /
                ("jet_threads_test_" + std::to_string(std::random_device()()) + "_" +
                 std::to_string(counter_++));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string write(const std::string &rel, const std::string &text) const {
        const auto p = path_ / rel;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p) << text;
        return p.string();
    }
    std::string str() const { return path_.string(); }

private:
    static inline int counter_ = 0;
    std::filesystem::path path_;
};

TEST(Threads, CountsPhysicalCoresFromTopology) {
    TempDir sys;
    // 2 packages x 2 cores x 2 SMT siblings: cpuN -> (package N/4, core (N/2)%2).
    for (int cpu = 0; cpu < 8; ++cpu) {
        const std::string topo = "cpu" + std::to_string(cpu) + "/topology/";
        sys.write(topo + "core_id", std::to_string((cpu / 2) % 2) + "\n");
        sys.write(topo + "physical_package_id", std::to_string(cpu / 4) + "\n");
    }
    EXPECT_EQ(jet::cpu::count_physical_cores({0, 1, 2, 3, 4, 5, 6, 7}, sys.str()), 4);
    EXPECT_EQ(jet::cpu::count_physical_cores({0, 1}, sys.str()), 1);  // siblings of one core
    EXPECT_EQ(jet::cpu::count_physical_cores({0, 2, 4}, sys.str()), 3);
    // CPUs without topology files count as cores of their own.
    EXPECT_EQ(jet::cpu::count_physical_cores({0, 1, 20, 21}, sys.str()), 3);
}

TEST(Threads, ReadsTheCgroupQuota) {
    TempDir dir;
    EXPECT_EQ(jet::cpu::cgroup_cpu_limit(dir.write("a", "max 100000\n")), 0);
    EXPECT_EQ(jet::cpu::cgroup_cpu_limit(dir.write("b", "200000 100000\n")), 2);
    EXPECT_EQ(jet::cpu::cgroup_cpu_limit(dir.write("c", "150000 100000\n")), 2);
    EXPECT_EQ(jet::cpu::cgroup_cpu_limit(dir.write("d", "50000 100000\n")), 1);
    EXPECT_EQ(jet::cpu::cgroup_cpu_limit(dir.write("e", "garbage\n")), 0);
    EXPECT_EQ(jet::cpu::cgroup_cpu_limit(dir.str() + "/missing"), 0);
}

TEST(Threads, DefaultIsThePhysicalCores) {
    std::string warning = "stale";
    EXPECT_EQ(jet::cpu::resolve_num_threads(0, {16, 8}, &warning), 8);
    EXPECT_TRUE(warning.empty());
    EXPECT_EQ(jet::cpu::resolve_num_threads(0, {2, 2}, &warning), 2);
    const auto cpus = jet::cpu::usable_cpus();
    EXPECT_GE(cpus.physical, 1);
    EXPECT_LE(cpus.physical, cpus.logical);
}

TEST(Threads, ClampsAbsurdRequestsWithAWarning) {
    std::string warning;
    EXPECT_EQ(jet::cpu::resolve_num_threads(8, {2, 2}, &warning), 8);  // 4x: allowed
    EXPECT_TRUE(warning.empty());
    EXPECT_EQ(jet::cpu::resolve_num_threads(9, {2, 2}, &warning), 2);
    EXPECT_NE(warning.find("9 CPU threads requested"), std::string::npos) << warning;
    EXPECT_EQ(jet::cpu::resolve_num_threads(1000, {2, 2}, &warning), 2);
    EXPECT_NE(warning.find("using 2"), std::string::npos) << warning;
    EXPECT_EQ(jet::cpu::max_reasonable_threads({128, 64}), 256);
    EXPECT_EQ(jet::cpu::resolve_num_threads(300, {128, 64}, &warning), 128);
    EXPECT_FALSE(warning.empty());
}

struct LogCapture {
    static void sink(int32_t level, const char *message, void *user) {
        auto *self = static_cast<LogCapture *>(user);
        self->levels.push_back(level);
        self->lines.emplace_back(message);
    }
    std::vector<int32_t> levels;
    std::vector<std::string> lines;
};

TEST(Threads, ClampWarningGoesToTheLogSink) {
    const int n = jet::cpu::num_threads();
    LogCapture log;
    jet::set_log_sink(&LogCapture::sink, &log);
    jet::cpu::set_num_threads(100000);
    jet::set_log_sink(nullptr, nullptr);
    EXPECT_EQ(jet::cpu::num_threads(), jet::cpu::usable_cpus().logical);
    ASSERT_EQ(log.lines.size(), 1u);
    EXPECT_EQ(log.levels[0], JET_LOG_WARN);
    EXPECT_NE(log.lines[0].find("100000 CPU threads requested"), std::string::npos) << log.lines[0];
    jet::cpu::set_num_threads(n);
}

}  // namespace
