using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests;

/// <summary>JetConfig (jet_config_*): a config text's info and cache bytes equal a model's, and its errors are the engine's.</summary>
public sealed class JetConfigTests
{
    [Theory]
    [MemberData(nameof(TestModels.GoldenNames), MemberType = typeof(TestModels))]
    public void Info_and_cache_equal_those_of_the_loaded_model(string name)
    {
        string folder = TestModels.RequireFolder(name);
        JetModel model = TestModels.Get(name);
        JetConfig config = JetConfig.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        Assert.Equal(model.Info with { WeightBytes = 0 }, config.Info with { WeightBytes = 0, Layers = model.Info.Layers });
        Assert.Equal(model.Info.Layers, config.Info.Layers);
        Assert.Equal(2 * config.Info.ParameterCount, config.Info.WeightBytes); // bf16
        foreach (long ctx in new long[] { 1, 24, 25, 1000 })
        {
            JetCacheBreakdown b = config.CacheBytes(ctx, model.Info.Device);
            Assert.Equal(model.CacheBytes(ctx), b.Total);
            Assert.Equal(b.Total, b.AttentionKv + b.SlidingWindowKv + b.JetState + b.JetConv);
            Assert.Equal(ctx, b.Context);
        }
    }

    [Fact]
    public void A_bad_config_fails_with_the_loaders_status_and_message()
    {
        string json = File.ReadAllText(Path.Combine(TestModels.TinyJetB, "config.json"));
        string bad = System.Text.RegularExpressions.Regex.Replace(json, "\"hidden_size\": *(\\d+)", "\"hidden_size\": $1.0");
        Assert.NotEqual(json, bad);
        var e = Assert.Throws<JetException>(() => JetConfig.Parse(bad));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.StartsWith("jet_config_get_info: config.json: field 'hidden_size'", e.NativeMessage);
        using var dir = new TempFolder();
        File.WriteAllText(dir.FilePath("config.json"), bad);
        var load = Assert.Throws<JetException>(() => JetModel.Load(dir.Path));
        Assert.Equal(e.NativeMessage.Replace("jet_config_get_info: ", ""), load.NativeMessage.Replace("jet_model_load: ", ""));
    }

    [Fact]
    public void Bad_cache_arguments_are_the_engines_invalid_argument()
    {
        JetConfig config = JetConfig.Parse(File.ReadAllText(Path.Combine(TestModels.TinyJetB, "config.json")));
        var e = Assert.Throws<JetException>(() => config.CacheBytes(0, JetDevice.Cpu));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
        Assert.Contains("n_ctx", e.NativeMessage);
        e = Assert.Throws<JetException>(() => config.CacheBytes(16, (JetDevice)7));
        Assert.Contains("device 7", e.NativeMessage);
        Assert.Throws<ArgumentNullException>(() => JetConfig.Parse(null!));
    }
}
