using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests;

/// <summary>Bad input through every layer: a JetException with the engine's message, never a crash.</summary>
public sealed class ErrorTests
{
    [Fact]
    public void AMissingFolder()
    {
        string missing = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<JetException>(() => JetModel.Load(missing));
        Assert.Equal(JetStatus.Io, e.Status);
        Assert.Contains(missing, e.NativeMessage);
        Assert.Contains("JET_ERR_IO", e.Message);
    }

    [Fact]
    public void AFolderWithoutConfig()
    {
        using var dir = new TempFolder();
        var e = Assert.Throws<JetException>(() => JetModel.Load(dir.Path));
        Assert.Equal(JetStatus.Io, e.Status);
        Assert.Contains("config.json", e.NativeMessage);
    }

    [Fact]
    public void ACorruptSafetensorsHeader()
    {
        using var dir = new TempFolder(TestModels.RequireFolder("tiny-jet-b"));
        byte[] bytes = File.ReadAllBytes(dir.FilePath("model.safetensors"));
        bytes[8] = (byte)'#';  // the JSON header now starts with garbage
        File.WriteAllBytes(dir.FilePath("model.safetensors"), bytes);
        var e = Assert.Throws<JetException>(() => JetModel.Load(dir.Path));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.Contains("model.safetensors", e.NativeMessage);
    }

    [Fact]
    public void ATruncatedSafetensorsFile()
    {
        using var dir = new TempFolder(TestModels.RequireFolder("tiny-jet-b"));
        byte[] bytes = File.ReadAllBytes(dir.FilePath("model.safetensors"));
        File.WriteAllBytes(dir.FilePath("model.safetensors"), bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var e = Assert.Throws<JetException>(() => JetModel.Load(dir.Path));
        Assert.True(e.Status is JetStatus.Format or JetStatus.Io, e.Message);
        Assert.Contains("model.safetensors", e.NativeMessage);
    }

    [Fact]
    public void AConfigThatIsNotJson()
    {
        using var dir = new TempFolder(TestModels.RequireFolder("tiny-jet-b"));
        File.WriteAllText(dir.FilePath("config.json"), "{ \"hidden_size\": 96, ");
        var e = Assert.Throws<JetException>(() => JetModel.Load(dir.Path));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.Contains("config.json", e.NativeMessage);
    }

    [Fact]
    public void AConfigWithABadValue()
    {
        using var dir = new TempFolder(TestModels.RequireFolder("tiny-jet-b"));
        string text = File.ReadAllText(dir.FilePath("config.json")).Replace("\"num_attention_heads\": 3", "\"num_attention_heads\": -3");
        File.WriteAllText(dir.FilePath("config.json"), text);
        var e = Assert.Throws<JetException>(() => JetModel.Load(dir.Path));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.Contains("num_attention_heads", e.NativeMessage);
    }

    [Fact]
    public void AConfigThatDoesNotMatchTheWeights()
    {
        using var dir = new TempFolder(TestModels.RequireFolder("tiny-jet-b"));
        string text = File.ReadAllText(dir.FilePath("config.json")).Replace("\"vocab_size\": 777", "\"vocab_size\": 778");
        File.WriteAllText(dir.FilePath("config.json"), text);
        var e = Assert.Throws<JetException>(() => JetModel.Load(dir.Path));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.Contains("777", e.NativeMessage);
    }

    [Fact]
    public void ABadRandomConfig()
    {
        var e = Assert.Throws<JetException>(() => JetModel.CreateRandom("not json", 1));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.NotEmpty(e.NativeMessage);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(777)]
    [InlineData(int.MaxValue)]
    public void AnOutOfRangeToken(int token)
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 64 });
        var e = Assert.Throws<JetException>(() => session.Prefill([1, token, 2]));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
        Assert.Contains($"token {token}", e.NativeMessage);
        Assert.Contains("vocabulary", e.NativeMessage);
        Assert.Equal(0, session.Position);
        e = Assert.Throws<JetException>(() => session.Decode(token));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
    }

    [Fact]
    public void ContextOverflow()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 16 });
        session.Prefill(Enumerable.Range(1, 10).ToArray());
        var e = Assert.Throws<JetException>(() => session.Prefill(Enumerable.Range(1, 7).ToArray()));
        Assert.Equal(JetStatus.ContextFull, e.Status);
        Assert.Contains("n_ctx = 16", e.NativeMessage);
        Assert.Equal(10, session.Position);  // nothing appended
        session.Prefill(Enumerable.Range(1, 6).ToArray());
        e = Assert.Throws<JetException>(() => session.Decode(1));
        Assert.Equal(JetStatus.ContextFull, e.Status);
    }

    [Fact]
    public void GenerationRunningIntoTheContextEnd()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 12 });
        var options = new JetGenerationOptions { Sampling = JetSamplingOptions.Greedy, MaxTokens = 50, StopAtEndOfSequence = false };
        // It ends at the context with the tokens that fit (as the CLI does), not with ContextFull.
        JetGeneration g = session.StartGeneration([1, 2, 3, 4], options);
        session.Generate(g);
        Assert.Equal(JetFinishReason.Length, g.FinishReason);
        Assert.Equal(8, g.Count);
        Assert.Equal(12, session.Position);
        // MaxTokens -1 means "until a stop or the end of the context"; 0 is refused.
        session.Reset();
        Assert.Throws<ArgumentOutOfRangeException>(() => session.GenerateTokens([1, 2, 3, 4], options with { MaxTokens = 0 }));
        int[] ids = session.GenerateTokens([1, 2, 3, 4], options with { MaxTokens = -1 });
        Assert.Equal(8, ids.Length);
    }

    [Fact]
    public void BadSessionOptionsAndSequences()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateSession(new JetSessionOptions { Sequences = 0 }));
        var e = Assert.Throws<JetException>(() => model.CreateSession(new JetSessionOptions { Context = 1_000_000 }));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
        Assert.Contains("max_position_embeddings", e.NativeMessage);
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 16, Sequences = 2 });
        e = Assert.Throws<JetException>(() => session.Prefill([1], sequence: 2));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
        Assert.Contains("sequence 2", e.NativeMessage);
        e = Assert.Throws<JetException>(() => session.Decode([0, 0], [1, 2]));
        Assert.Contains("twice", e.NativeMessage);
        Assert.Throws<ArgumentException>(() => session.Decode([0, 1], [1]));
    }

    [Fact]
    public void CudaWithoutCuda()
    {
        if (JetNativeLibrary.CudaDeviceCount > 0)
            Assert.Skip("a CUDA device is present: this test covers its absence");
        string folder = TestModels.RequireFolder("tiny-jet-b");
        var e = Assert.Throws<JetException>(() => JetModel.Load(folder, new JetModelOptions { Device = JetDevice.Cuda }));
        Assert.Equal(JetStatus.Device, e.Status);
        Assert.NotEmpty(e.NativeMessage);
    }

    [Theory]
    [InlineData("cpu", JetDevice.Cpu, 0)]
    [InlineData("cuda", JetDevice.Cuda, 0)]
    [InlineData("CUDA:2", JetDevice.Cuda, 2)]
    public void DevicesParse(string text, JetDevice device, int index) =>
        Assert.Equal((device, index), JetModelOptions.ParseDevice(text));

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    public void BadDevicesDoNot(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => JetModelOptions.ParseDevice(text));
        Assert.Contains("cpu, cuda or cuda:N", e.Message);
    }
}
