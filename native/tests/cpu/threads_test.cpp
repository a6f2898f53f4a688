// Tests for cpu/threads.cpp: every index is visited exactly once, ranges are contiguous,
// nested and concurrent calls complete, and the pool can be resized.
#include "cpu/threads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

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
    jet::cpu::set_num_threads(0);  // all hardware threads
    EXPECT_GE(jet::cpu::num_threads(), 1);
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

}  // namespace
