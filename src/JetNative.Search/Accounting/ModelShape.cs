using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace JetNative.Search.Accounting;

/// <summary>
/// A Jet-Nemotron config as the search sees it: the engine's reading of the config.json text
/// (<see cref="JetConfig"/>: validation, dimensions, parameter count, cache bytes) plus the one thing
/// only the search does, rewriting the text with other JetBlock dims. Invalid configs throw
/// <see cref="JetException"/> with the engine's status and message.
/// </summary>
public sealed class ModelShape
{
    private ModelShape(JetConfig config) => Config = config;

    /// <summary>The engine's reading of the config.</summary>
    public JetConfig Config { get; }

    /// <summary>The config.json text.</summary>
    public string ConfigJson => Config.Json;

    /// <summary>The dimensions as the engine reports them (jet_config_get_info).</summary>
    public JetModelInfo Info => Config.Info;

    /// <summary>The mixer of each layer, in order.</summary>
    public IReadOnlyList<JetLayerType> Layers => Info.Layers;

    /// <summary>The JetBlock's (dK, dV, H); all zero when there is no JetBlock.</summary>
    public JetBlockDims JetBlock => new(Info.JetHeadKDim, Info.JetHeadVDim, Info.JetNumHeads);

    /// <summary>Parameters, a tied embedding counted once (the engine's n_params).</summary>
    public long ParameterCount => Info.ParameterCount;

    /// <summary>Reads a config.json text through the engine.</summary>
    public static ModelShape FromConfigJson(string configJson) => new(JetConfig.Parse(configJson));

    /// <summary>The cache of one sequence at <paramref name="context"/> tokens on <paramref name="device"/>, from the engine.</summary>
    public JetCacheBreakdown CacheBytes(long context, JetDevice device) => Config.CacheBytes(context, device);

    /// <summary>This config with another JetBlock (dK, dV, H); the engine refuses dims it cannot build (<see cref="JetException"/>).</summary>
    public ModelShape WithJetBlock(JetBlockDims dims) => FromConfigJson(WithJetBlock(ConfigJson, dims));

    /// <summary>Like <see cref="WithJetBlock(JetBlockDims)"/>, but null when the engine refuses the dims (a config format error).</summary>
    public ModelShape? TryWithJetBlock(JetBlockDims dims)
    {
        try { return WithJetBlock(dims); }
        catch (JetException e) when (e.Status == JetStatus.Format) { return null; }
    }

    /// <summary>This config with every layer full attention (the same heads and dims): the comparison the paper makes.</summary>
    public ModelShape WithFullAttention()
    {
        JsonObject root = ParseObject(ConfigJson);
        root["layer_types"] = new JsonArray(Layers.Select(_ => (JsonNode?)JsonValue.Create("attn")).ToArray());
        return FromConfigJson(root.ToJsonString(Indented));
    }

    /// <summary>
    /// The config.json text with the JetBlock set to <paramref name="dims"/> (num_heads, head_dim and
    /// expand_v = dV / dK); every other field is kept as it was. The engine validates the result
    /// when it is read.
    /// </summary>
    public static string WithJetBlock(string configJson, JetBlockDims dims)
    {
        ArgumentNullException.ThrowIfNull(configJson);
        if (dims.JetHeadKDim < 1 || dims.JetHeadVDim < 1 || dims.JetNumHeads < 1)
            throw new ArgumentException($"JetBlock {dims}: key dim, value dim and heads must be positive");
        JsonObject root = ParseObject(configJson);
        if (root["efficient_attention_config"] is not JsonObject eac || eac["jet"] is not JsonObject jet)
            throw new ArgumentException("the config has no JetBlock settings (efficient_attention_config.jet)");
        jet["num_heads"] = dims.JetNumHeads;
        jet["head_dim"] = dims.JetHeadKDim;
        jet["expand_v"] = (double)dims.JetHeadVDim / dims.JetHeadKDim;
        return root.ToJsonString(Indented);
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    // The text is edited only; the engine reads and validates it (ParseObject only needs an object).
    private static JsonObject ParseObject(string json)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (JsonException e) { throw new JetException(JetStatus.Format, $"config.json is not valid JSON: {e.Message}", e); }
        return node as JsonObject ?? throw new JetException(JetStatus.Format, "config.json must be a JSON object");
    }
}

/// <summary>A JetBlock's key dim per head (dK), value dim per head (dV) and head count (H).</summary>
public readonly record struct JetBlockDims(int JetHeadKDim, int JetHeadVDim, int JetNumHeads)
{
    /// <summary>Elements of one layer's recurrent state: H * dK * dV.</summary>
    public long StateElements => (long)JetNumHeads * JetHeadKDim * JetHeadVDim;

    /// <summary>"dK/dV/H", e.g. "96/256/12" (the form <see cref="Parse"/> reads).</summary>
    public override string ToString() => $"{JetHeadKDim}/{JetHeadVDim}/{JetNumHeads}";

    /// <summary>Reads "dK/dV/H" (e.g. "96/256/12").</summary>
    public static JetBlockDims Parse(string text)
    {
        string[] parts = (text ?? "").Trim().Split('/');
        if (parts.Length == 3 &&
            int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int dk) && dk > 0 &&
            int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int dv) && dv > 0 &&
            int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int h) && h > 0)
            return new JetBlockDims(dk, dv, h);
        throw new FormatException($"'{text}' is not a JetBlock as dK/dV/heads with positive integers (e.g. 96/256/12)");
    }
}
