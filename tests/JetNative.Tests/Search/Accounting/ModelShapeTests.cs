using JetNative.Search.Accounting;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Search.Accounting;

/// <summary>
/// ModelShape reads configs through the engine (jet_config_*): what the engine refuses, C# refuses
/// with the engine's message; the only C#-side work left is rewriting the JetBlock of a config text.
/// </summary>
public sealed class ModelShapeTests
{
    [Fact]
    public void Reads_the_2B_config_through_the_engine()
    {
        ModelShape s = ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B);
        Assert.Equal((24, 2, 2), (s.Info.JetLayerCount, s.Info.AttentionLayerCount, s.Info.SlidingWindowLayerCount));
        Assert.Equal(JetLayerType.Attn, s.Layers[14]);
        Assert.Equal(JetLayerType.Swa, s.Layers[21]);
        Assert.Equal(new JetBlockDims(96, 256, 12), s.JetBlock); // dV = round(96 x 2.6666666667)
        Assert.Equal(1_964_806_208L, s.ParameterCount);          // counted by hand in native/tests/config_api_test.cpp
        Assert.Equal(2 * s.ParameterCount, s.Info.WeightBytes);  // bf16
    }

    [Fact]
    public void Reads_the_4B_config_through_the_engine()
    {
        ModelShape s = ModelShape.FromConfigJson(JetNemotronConfigs.Jet4B);
        Assert.Equal((26, 3, 7), (s.Info.JetLayerCount, s.Info.AttentionLayerCount, s.Info.SlidingWindowLayerCount));
        Assert.Equal(new JetBlockDims(128, 256, 16), s.JetBlock);
    }

    [Fact]
    public void Rewrites_the_jetblock_of_a_config()
    {
        string json = ModelShape.WithJetBlock(JetNemotronConfigs.Jet2B, new JetBlockDims(192, 192, 8));
        ModelShape s = ModelShape.FromConfigJson(json);
        Assert.Equal(new JetBlockDims(192, 192, 8), s.JetBlock);
        Assert.Equal(ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B).Layers, s.Layers);
        Assert.Equal(new JetBlockDims(96, 256, 12), ModelShape.FromConfigJson(ModelShape.WithJetBlock(json, new JetBlockDims(96, 256, 12))).JetBlock);
        // 192/192/8: a JetBlock of 13,301,968 parameters instead of 23,052,568
        Assert.Equal(1_964_806_208L - 24 * 23_052_568L + 24 * 13_301_968L, s.ParameterCount);
    }

    [Fact]
    public void The_engine_builds_a_rewritten_config_with_the_same_numbers()
    {
        string baseJson = File.ReadAllText(Path.Combine(TestModels.TinyJetB, "config.json"));
        var dims = new JetBlockDims(16, 48, 6);
        string json = ModelShape.WithJetBlock(baseJson, dims);
        using JetModel model = JetModel.CreateRandom(json, 3, new JetModelOptions { Threads = 2 });
        Assert.Equal((16, 48, 6), (model.Info.JetHeadKDim, model.Info.JetHeadVDim, model.Info.JetNumHeads));
        ModelShape shape = ModelShape.FromConfigJson(json);
        Assert.Equal(shape.ParameterCount, model.Info.ParameterCount);
        Assert.Equal(shape.CacheBytes(100, JetDevice.Cpu).Total, model.CacheBytes(100));
    }

    [Fact]
    public void Full_attention_twin_keeps_heads_and_dims()
    {
        ModelShape s = ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B).WithFullAttention();
        Assert.Equal(28, s.Info.AttentionLayerCount);
        Assert.Equal(0, s.Info.JetLayerCount);
        Assert.Equal((2, 128), (s.Info.NumKeyValueHeads, s.Info.HeadDim));
    }

    // What the engine refuses, C# refuses, with the engine's status and message (before this, C#
    // parsed config.json itself: it took "hidden_size": 128.0 and never looked at model_type).
    [Theory]
    [InlineData("\"hidden_size\": 1536,", "\"hidden_size\": 1536.0,", "hidden_size")]
    [InlineData("\"model_type\": \"jet_nemotron\",", "\"model_type\": \"llama\",", "model_type")]
    [InlineData("\"expand_v\": 2.6666666667,", "\"expand_v\": 2.61,", "expand_v")]
    [InlineData("\"jet\",\n    \"attn\",", "\"jet\",\n    \"mamba\",", "layer_types")]
    public void Configs_the_engine_refuses_are_refused_with_its_message(string from, string to, string field)
    {
        string json = JetNemotronConfigs.Jet2B.Replace(from, to);
        Assert.NotEqual(JetNemotronConfigs.Jet2B, json);
        var e = Assert.Throws<JetException>(() => ModelShape.FromConfigJson(json));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.Contains(field, e.NativeMessage);
        // the loader says the same about the same file
        string folder = Directory.CreateTempSubdirectory("jet-shape-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "config.json"), json);
            var load = Assert.Throws<JetException>(() => JetModel.Load(folder));
            Assert.Equal(load.Status, e.Status);
            Assert.Equal(After(load.NativeMessage), After(e.NativeMessage));
        }
        finally { Directory.Delete(folder, true); }
    }

    private static string After(string nativeMessage) => nativeMessage[(nativeMessage.IndexOf(": ", StringComparison.Ordinal) + 2)..];

    [Theory]
    [InlineData("not json", "JSON")]
    [InlineData("[1,2]", "object")]
    public void Text_that_is_no_config_is_a_format_error(string json, string message)
    {
        var e = Assert.Throws<JetException>(() => ModelShape.FromConfigJson(json));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.Contains(message, e.NativeMessage);
    }

    [Fact]
    public void Dims_the_engine_cannot_build_are_refused_by_the_engine()
    {
        ModelShape s = ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B);
        var e = Assert.Throws<JetException>(() => s.WithJetBlock(new JetBlockDims(96, 100, 3)));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.Contains("dconv_generator_reduction", e.NativeMessage);
        Assert.Null(s.TryWithJetBlock(new JetBlockDims(96, 100, 3)));
        Assert.NotNull(s.TryWithJetBlock(new JetBlockDims(96, 96, 8)));
    }

    [Theory]
    [InlineData("96/256/12", 96, 256, 12)]
    [InlineData(" 192/192/8 ", 192, 192, 8)]
    public void Parses_dims(string text, int dk, int dv, int h) => Assert.Equal(new JetBlockDims(dk, dv, h), JetBlockDims.Parse(text));

    [Theory]
    [InlineData("96/256")]
    [InlineData("96/0/12")]
    [InlineData("a/b/c")]
    [InlineData("-96/256/12")]
    public void Bad_dims_text_is_refused(string text) => Assert.Throws<FormatException>(() => JetBlockDims.Parse(text));
}
