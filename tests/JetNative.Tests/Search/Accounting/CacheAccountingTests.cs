using JetNative.Search.Accounting;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Search.Accounting;

/// <summary>The engine's cache bytes (jet_config_cache_bytes) against hand-computed values (docs/model.md section 6) and against a loaded model.</summary>
public sealed class CacheAccountingTests
{
    private const long MiB = 1024 * 1024;
    private static readonly ModelShape Jet2B = ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B);

    [Fact]
    public void Jet2B_at_64K_on_CUDA()
    {
        JetCacheBreakdown c = CacheAccounting.PerSequence(Jet2B, 65536, JetDevice.Cuda);
        // attn: 2 layers x 65536 tokens x (K+V) x 2 KV heads x 128 x 2 B = 128 MiB
        Assert.Equal(128 * MiB, c.AttentionKv);
        // swa: 2 layers x 1152 rows x 1024 B = 2.25 MiB
        Assert.Equal(2 * 1152 * 1024L, c.SlidingWindowKv);
        // jet: 24 x 12 heads x 96 x 256 x 4 B = 24 x 1.125 MiB = 27 MiB
        Assert.Equal(27 * MiB, c.JetState);
        // conv: 24 x value_dim 3072 x W 4 x 4 B = 24 x 48 KiB
        Assert.Equal(24 * 3072 * 4 * 4L, c.JetConv);
        Assert.Equal(166_068_224L, c.Total); // 158.375 MiB
    }

    [Fact]
    public void Qwen3_1_7B_full_attention_at_64K_is_7168_MiB()
    {
        // 28 layers x 65536 x (K+V) x 8 x 128 x 2 B
        Assert.Equal(7168 * MiB, FullAttentionShape.Qwen3_1_7B.KvBytes(65536));
    }

    [Fact]
    public void Full_attention_of_the_same_dims_as_the_2B()
    {
        long same = CacheAccounting.PerSequence(Jet2B.WithFullAttention(), 65536, JetDevice.Cuda).Total;
        Assert.Equal(1792 * MiB, same); // 28 x 65536 x 1024 B
        // The JetBlock state does not grow: at 64K the 2B needs 11x less than its full-attention twin.
        Assert.InRange(same / (double)CacheAccounting.PerSequence(Jet2B, 65536, JetDevice.Cuda).Total, 11.0, 11.5);
    }

    [Fact]
    public void Sliding_window_buffers_are_capped_by_the_context()
    {
        JetCacheBreakdown shortCtx = CacheAccounting.PerSequence(Jet2B, 1000, JetDevice.Cuda);
        Assert.Equal(2 * 1000 * 1024L, shortCtx.SlidingWindowKv);
        Assert.Equal(2 * 1000 * 1024L, shortCtx.AttentionKv);
        JetCacheBreakdown longCtx = CacheAccounting.PerSequence(Jet2B, 100_000, JetDevice.Cuda);
        Assert.Equal(2 * 1152 * 1024L, longCtx.SlidingWindowKv);
        Assert.Equal(shortCtx.JetTotal, longCtx.JetTotal);
    }

    [Fact]
    public void Cpu_doubles_the_kv_but_not_the_states()
    {
        JetCacheBreakdown cuda = CacheAccounting.PerSequence(Jet2B, 4096, JetDevice.Cuda);
        JetCacheBreakdown cpu = CacheAccounting.PerSequence(Jet2B, 4096, JetDevice.Cpu);
        Assert.Equal(2 * cuda.AttentionKv, cpu.AttentionKv);
        Assert.Equal(2 * cuda.SlidingWindowKv, cpu.SlidingWindowKv);
        Assert.Equal(cuda.JetTotal, cpu.JetTotal);
    }

    [Fact]
    public void Largest_batch_that_fits()
    {
        // 80 GiB, 4 GiB of weights, 1 GiB reserve, 158.375 MiB a sequence: floor(75 GiB / 158.375 MiB) = 484
        Assert.Equal(484, CacheAccounting.MaxBatch(166_068_224L, 80L << 30, 4L << 30, 1L << 30));
        Assert.Equal(10, CacheAccounting.MaxBatch(7168 * MiB, 80L << 30, 4L << 30, 1L << 30)); // Qwen3-1.7B-shaped at 64K
        Assert.Equal(0, CacheAccounting.MaxBatch(100, 1000, 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => CacheAccounting.MaxBatch(0, 1000, 0));
    }

    [Fact]
    public void Bad_context_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CacheAccounting.PerSequence(Jet2B, 0, JetDevice.Cuda));
        Assert.Throws<ArgumentOutOfRangeException>(() => FullAttentionShape.Qwen3_1_7B.KvBytes(-1));
    }

    [Theory]
    [MemberData(nameof(TestModels.GoldenNames), MemberType = typeof(TestModels))]
    public void Agrees_with_the_engines_cache_bytes(string name)
    {
        string folder = TestModels.RequireFolder(name);
        JetModel model = TestModels.Get(name);
        ModelShape shape = ModelShape.FromConfigJson(File.ReadAllText(Path.Combine(folder, "config.json")));
        foreach (long ctx in new long[] { 1, 7, 23, 24, 25, 32, 33, 100, 1000, 2048 })
            Assert.Equal(model.CacheBytes(ctx), CacheAccounting.PerSequence(shape, ctx, model.Info.Device).Total);
        Assert.Equal(model.Info.ParameterCount, shape.ParameterCount);
    }
}
