using System.Text.Json;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests;

public sealed class JetModelTests
{
    [Theory]
    [MemberData(nameof(TestModels.GoldenNames), MemberType = typeof(TestModels))]
    public void InfoMatchesTheConfig(string name)
    {
        JetModel model = TestModels.Get(name);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(model.Folder!, "config.json")));
        JsonElement c = config.RootElement;
        JetModelInfo info = model.Info;
        Assert.Equal(JetDevice.Cpu, info.Device);
        Assert.Equal(c.GetProperty("vocab_size").GetInt32(), info.VocabSize);
        Assert.Equal(c.GetProperty("hidden_size").GetInt32(), info.HiddenSize);
        Assert.Equal(c.GetProperty("num_hidden_layers").GetInt32(), info.NumLayers);
        Assert.Equal(c.GetProperty("intermediate_size").GetInt32(), info.IntermediateSize);
        Assert.Equal(c.GetProperty("num_attention_heads").GetInt32(), info.NumAttentionHeads);
        Assert.Equal(c.GetProperty("num_key_value_heads").GetInt32(), info.NumKeyValueHeads);
        Assert.Equal(c.GetProperty("max_position_embeddings").GetInt32(), info.MaxPositionEmbeddings);
        Assert.Equal(c.GetProperty("eos_token_id").GetInt32(), info.EosTokenId);
        Assert.Equal(c.GetProperty("tie_word_embeddings").GetBoolean(), info.TieWordEmbeddings);
        JsonElement jet = c.GetProperty("efficient_attention_config").GetProperty("jet");
        Assert.Equal(jet.GetProperty("num_heads").GetInt32(), info.JetNumHeads);
        Assert.Equal(jet.GetProperty("head_dim").GetInt32(), info.JetHeadKDim);
        Assert.Equal(c.GetProperty("efficient_attention_config").GetProperty("swa").GetProperty("window_size").GetInt32(),
            info.SlidingWindow);

        JetLayerType[] expected = c.GetProperty("layer_types").EnumerateArray()
            .Select(e => e.GetString() switch
            {
                "attn" => JetLayerType.Attn,
                "swa" => JetLayerType.Swa,
                "jet" => JetLayerType.Jet,
                var other => throw new InvalidDataException(other),
            }).ToArray();
        Assert.Equal(expected, info.Layers);
        Assert.Equal(expected.Count(t => t == JetLayerType.Attn), info.AttentionLayerCount);
        Assert.Equal(expected.Count(t => t == JetLayerType.Swa), info.SlidingWindowLayerCount);
        Assert.Equal(expected.Count(t => t == JetLayerType.Jet), info.JetLayerCount);
        Assert.True(info.ParameterCount > 0);
        Assert.True(info.WeightBytes >= info.ParameterCount * 2);
    }

    [Fact]
    public void AModelWithoutTokenizerFilesHasNoTokenizer()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        Assert.Null(model.Tokenizer);
        Assert.Throws<InvalidOperationException>(() => model.AsChatClient());
    }

    [Fact]
    public void ARandomCheckpointLoadsAsTheRandomModelOfItsSeed()
    {
        string config = File.ReadAllText(Path.Combine(TestModels.RequireFolder("tiny-jet-b"), "config.json"));
        using var temp = new TempFolder();
        string folder = Path.Combine(temp.Path, "random");
        JetModel.WriteRandomCheckpoint(config, folder, seed: 5, maxShardBytes: 100_000);
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors.index.json")));
        Assert.True(Directory.GetFiles(folder, "model-*-of-*.safetensors").Length > 1);
        int[] prompt = [3, 1, 4, 1, 5, 9, 2, 6];
        var options = new JetModelOptions { Threads = 2 };
        float[] Logits(JetModel m)
        {
            using JetSession s = m.CreateSession();
            return s.Prefill(prompt).ToArray();
        }
        using JetModel loaded = JetModel.Load(folder, options);
        using JetModel random = JetModel.CreateRandom(config, seed: 5, options);
        Assert.Equal(Logits(random), Logits(loaded));
        Assert.Equal(random.Info.ParameterCount, loaded.Info.ParameterCount);

        var e = Assert.Throws<JetException>(() => JetModel.WriteRandomCheckpoint("{}", folder));
        Assert.Equal(JetStatus.Format, e.Status);
        File.WriteAllText(Path.Combine(temp.Path, "file"), "x");
        e = Assert.Throws<JetException>(() => JetModel.WriteRandomCheckpoint(config, Path.Combine(temp.Path, "file", "sub")));
        Assert.Equal(JetStatus.Io, e.Status);
        Assert.Contains("file", e.NativeMessage);
    }

    [Fact]
    public void TheDemoModelHasItsTokenizer()
    {
        JetModel model = TestModels.Get("demo");
        Assert.NotNull(model.Tokenizer);
        Assert.Equal(model.Info.VocabSize, model.Tokenizer!.VocabSize);
    }

    [Fact]
    public void CacheBytesGrowWithContextOnlyThroughAttention()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        long at256 = model.CacheBytes(256);
        long at512 = model.CacheBytes(512);
        long at1024 = model.CacheBytes(1024);
        Assert.True(at256 > 0);
        Assert.True(at512 > at256);
        // Linear in the context once the sliding windows are full: the same step twice.
        Assert.Equal(at1024 - at512, 2 * (at512 - at256));
        var e = Assert.Throws<JetException>(() => model.CacheBytes(-1));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
    }

    [Fact]
    public void SessionCacheBytesAgreeWithTheModelsArithmetic()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession one = model.CreateSession(new JetSessionOptions { Context = 512 });
        using JetSession two = model.CreateSession(new JetSessionOptions { Context = 512, Sequences = 2 });
        Assert.Equal(model.CacheBytes(512), one.CacheBytes);
        Assert.Equal(2 * model.CacheBytes(512), two.CacheBytes);
        Assert.True(one.CacheBytesPerToken > 0);
        Assert.Equal(512, one.Context);
    }

    [Fact]
    public void RandomModelsFollowTheirSeed()
    {
        using JetModel a = TestModels.Random(seed: 1);
        using JetModel b = TestModels.Random(seed: 1);
        using JetModel c = TestModels.Random(seed: 2);
        Assert.Null(a.Folder);
        int[] prompt = [5, 6, 7, 8];
        float[] la, lb, lc;
        using (JetSession s = a.CreateSession(new JetSessionOptions { Context = 16 })) la = s.Prefill(prompt).ToArray();
        using (JetSession s = b.CreateSession(new JetSessionOptions { Context = 16 })) lb = s.Prefill(prompt).ToArray();
        using (JetSession s = c.CreateSession(new JetSessionOptions { Context = 16 })) lc = s.Prefill(prompt).ToArray();
        Assert.Equal(la, lb);
        Assert.NotEqual(la, lc);
    }

    [Fact]
    public async Task LoadAsyncReportsProgressAndCancels()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        var reported = new List<float>();
        var progress = new SyncProgress(reported.Add);
        using (JetModel model = await JetModel.LoadAsync(folder, null, progress, TestContext.Current.CancellationToken))
            Assert.Equal(777, model.Info.VocabSize);
        Assert.NotEmpty(reported);
        Assert.All(reported, p => Assert.InRange(p, 0f, 1f));
        Assert.Equal(1f, reported[^1]);

        using var cts = new CancellationTokenSource();
        var cancelling = new SyncProgress(_ => cts.Cancel());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => JetModel.LoadAsync(folder, null, cancelling, cts.Token));
    }

    [Fact]
    public void AProgressThatThrowsFailsTheLoadWithItsException()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        var e = Assert.Throws<InvalidTimeZoneException>(() =>
            JetModel.Load(folder, null, new SyncProgress(_ => throw new InvalidTimeZoneException("boom"))));
        Assert.Equal("boom", e.Message);
    }

    [Fact]
    public void DisposingTheModelKeepsItsSessionsWorking()
    {
        JetModel model = TestModels.Random(seed: 3);
        JetSession session = model.CreateSession(new JetSessionOptions { Context = 32 });
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.CacheBytes(16));
        float[] logits = session.Prefill([1, 2, 3]).ToArray();
        Assert.Equal(777, logits.Length);
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Position);
    }
}

/// <summary>An IProgress that runs its action on the reporting thread (Progress&lt;T&gt; posts it later).</summary>
internal sealed class SyncProgress(Action<float> action) : IProgress<float>
{
    public void Report(float value) => action(value);
}
