using JetNative.Search.Accounting;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Accounting;

public sealed class ModelShapeTests
{
    [Fact]
    public void Reads_the_2B_config()
    {
        ModelShape s = ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B);
        Assert.Equal((24, 2, 2), (s.JetLayerCount, s.AttentionLayerCount, s.SlidingWindowLayerCount));
        Assert.Equal(JetLayerType.Attn, s.Layers[14]);
        Assert.Equal(JetLayerType.Swa, s.Layers[21]);
        Assert.Equal(new JetBlockDims(96, 256, 12), s.JetBlock); // dV = round(96 x 2.6666666667)
        Assert.Equal((128, 1152, 4), (s.HeadDim, s.SlidingWindow, s.JetConvSize));
    }

    [Fact]
    public void Reads_the_4B_config()
    {
        ModelShape s = ModelShape.FromConfigJson(JetNemotronConfigs.Jet4B);
        Assert.Equal((26, 3, 7), (s.JetLayerCount, s.AttentionLayerCount, s.SlidingWindowLayerCount));
        Assert.Equal(new JetBlockDims(128, 256, 16), s.JetBlock);
    }

    [Fact]
    public void Counts_the_2B_parameters_by_hand()
    {
        // embedding 151936 x 1536 (tied) + final norm 1536
        // + 28 x (2 norms x 1536 + MLP 3 x 8960 x 1536)
        // + 4 attention layers x (q 1536x1536+1536, k and v 256x1536+256 each, o 1536x1536)
        // + 24 JetBlocks x (q,k 1152x1536 each, v,g,o 3072x1536 each, a,b 12x1536 each, A_log, dt_bias 12 each,
        //                   o_norm 256, w1 384x1536, w2 12288x384, b2 12288)
        long expected = 233_373_696 + 1536 + 28 * 41_290_752L + 4 * 5_507_072L + 24 * 23_052_568L;
        Assert.Equal(1_964_806_208L, expected);
        Assert.Equal(expected, ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B).ParameterCount);
        // 192/192/8: a JetBlock of 13,301,968 parameters instead
        ModelShape other = ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B).WithJetBlock(new JetBlockDims(192, 192, 8));
        Assert.Equal(expected - 24 * 23_052_568L + 24 * 13_301_968L, other.ParameterCount);
    }

    [Fact]
    public void Rewrites_the_jetblock_of_a_config()
    {
        string json = ModelShape.WithJetBlock(JetNemotronConfigs.Jet2B, new JetBlockDims(192, 192, 8));
        ModelShape s = ModelShape.FromConfigJson(json);
        Assert.Equal(new JetBlockDims(192, 192, 8), s.JetBlock);
        Assert.Equal(ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B).Layers, s.Layers);
        Assert.Equal(new JetBlockDims(96, 256, 12), ModelShape.FromConfigJson(ModelShape.WithJetBlock(json, new JetBlockDims(96, 256, 12))).JetBlock);
    }

    [Fact]
    public void The_engine_builds_a_rewritten_config_with_the_same_parameter_count()
    {
        string baseJson = File.ReadAllText(Path.Combine(TestModels.TinyJetB, "config.json"));
        var dims = new JetBlockDims(16, 48, 6);
        string json = ModelShape.WithJetBlock(baseJson, dims);
        using JetModel model = JetModel.CreateRandom(json, 3, new JetModelOptions { Threads = 2 });
        Assert.Equal((16, 48, 6), (model.Info.JetHeadKeyDim, model.Info.JetHeadValueDim, model.Info.JetNumHeads));
        Assert.Equal(ModelShape.FromConfigJson(json).ParameterCount, model.Info.ParameterCount);
        Assert.Equal(CacheAccounting.PerSequence(ModelShape.FromConfigJson(json), 100, CachePrecision.Cpu).Total, model.CacheBytes(100));
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("""{"num_hidden_layers": 1, "layer_types": ["jet", "jet"]}""", "layer_types")]
    [InlineData("""{"num_hidden_layers": 1, "layer_types": ["mamba"]}""", "layer_types[0]")]
    public void Bad_configs_get_a_format_error(string json, string message)
    {
        var e = Assert.Throws<JetException>(() => ModelShape.FromConfigJson(json));
        Assert.Equal(JetStatus.Format, e.Status);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_value_dim_that_is_not_an_integer_is_refused()
    {
        string json = JetNemotronConfigs.Jet2B.Replace("2.6666666667", "2.61");
        var e = Assert.Throws<JetException>(() => ModelShape.FromConfigJson(json));
        Assert.Contains("expand_v", e.Message);
    }

    [Fact]
    public void Dims_whose_value_dim_the_generator_reduction_does_not_divide_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B).WithJetBlock(new JetBlockDims(96, 100, 3)));
        Assert.Contains("dconv_generator_reduction", e.Message);
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

    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("158MiB", 158L * 1024 * 1024)]
    [InlineData("80 GiB", 80L << 30)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("2k", 2048L)]
    public void Parses_sizes(string text, long bytes) => Assert.Equal(bytes, ByteSize.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-5MiB")]
    [InlineData("lots")]
    public void Bad_sizes_are_refused(string text) => Assert.Throws<FormatException>(() => ByteSize.Parse(text));
}
