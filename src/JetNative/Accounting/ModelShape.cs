using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace JetNative.Accounting;

/// <summary>
/// The dimensions of a Jet-Nemotron model, read from the text of its config.json with the same
/// rules as the engine (spec section 2): enough to count its parameters and its cache bytes without
/// loading it. Invalid configs throw <see cref="JetException"/> with <see cref="JetStatus.Format"/>.
/// </summary>
public sealed record ModelShape
{
    /// <summary>Rows of the embedding and the LM head (vocab_size).</summary>
    public int VocabSize { get; init; }
    /// <summary>Width of the residual stream (hidden_size).</summary>
    public int HiddenSize { get; init; }
    /// <summary>Width of the MLP (intermediate_size).</summary>
    public int IntermediateSize { get; init; }
    /// <summary>True when the LM head shares the embedding matrix (tie_word_embeddings).</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Longest context the model supports (max_position_embeddings).</summary>
    public int MaxPositionEmbeddings { get; init; }
    /// <summary>The mixer of each layer, in order.</summary>
    public IReadOnlyList<JetLayerType> Layers { get; init; } = [];
    /// <summary>Query heads of the attention layers.</summary>
    public int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads of the attention layers (grouped-query attention).</summary>
    public int NumKeyValueHeads { get; init; }
    /// <summary>Attention head dim: hidden_size / num_attention_heads.</summary>
    public int HeadDim { get; init; }
    /// <summary>Sliding window of the swa layers; 0 when there is none.</summary>
    public int SlidingWindow { get; init; }
    /// <summary>JetBlock heads H; 0 when there is no JetBlock.</summary>
    public int JetHeads { get; init; }
    /// <summary>JetBlock key dim per head, dK.</summary>
    public int JetKeyDim { get; init; }
    /// <summary>JetBlock value dim per head, dV = round(dK * expand_v).</summary>
    public int JetValueDim { get; init; }
    /// <summary>Dynamic-conv kernel size W.</summary>
    public int JetConvSize { get; init; }
    /// <summary>dconv_generator_reduction: the kernel generator's hidden width is H*dV / this.</summary>
    public int JetGeneratorReduction { get; init; }

    /// <summary>Layers with full causal attention.</summary>
    public int AttentionLayerCount => Layers.Count(t => t == JetLayerType.Attn);
    /// <summary>Layers with sliding-window attention.</summary>
    public int SlidingWindowLayerCount => Layers.Count(t => t == JetLayerType.Swa);
    /// <summary>JetBlock layers.</summary>
    public int JetLayerCount => Layers.Count(t => t == JetLayerType.Jet);

    /// <summary>The JetBlock's (dK, dV, H).</summary>
    public JetBlockDims JetBlock => new(JetKeyDim, JetValueDim, JetHeads);

    /// <summary>Parameters, a tied embedding counted once (the engine's n_params).</summary>
    public long ParameterCount
    {
        get
        {
            long d = HiddenSize, v = VocabSize;
            long total = v * d * (TieWordEmbeddings ? 1 : 2) + d; // embeddings (+ lm_head) + final norm
            foreach (JetLayerType t in Layers)
                total += 2 * d + 3 * (long)IntermediateSize * d + MixerParameters(t);
            return total;
        }
    }

    private long MixerParameters(JetLayerType type)
    {
        long d = HiddenSize;
        if (type != JetLayerType.Jet)
        {
            long q = (long)NumAttentionHeads * HeadDim, kv = (long)NumKeyValueHeads * HeadDim;
            return (q * d + q) + 2 * (kv * d + kv) + d * q;
        }
        long h = JetHeads, key = h * JetKeyDim, value = h * JetValueDim;
        long r = value / JetGeneratorReduction, w = JetConvSize;
        return 2 * key * d            // q_proj, k_proj
            + value * d               // v_proj
            + 2 * h * d + 2 * h       // a_proj, b_proj, A_log, dt_bias
            + value * d               // g_proj
            + JetValueDim             // o_norm
            + d * value               // o_proj
            + r * d + value * w * r + value * w; // kernel generator w1, w2 (+ bias)
    }

    /// <summary>This shape with another JetBlock (dK, dV, H); everything else unchanged.</summary>
    public ModelShape WithJetBlock(JetBlockDims dims)
    {
        Validate(dims, JetGeneratorReduction);
        return this with { JetKeyDim = dims.KeyDim, JetValueDim = dims.ValueDim, JetHeads = dims.Heads };
    }

    /// <summary>Throws <see cref="ArgumentException"/> when the engine would refuse these JetBlock dims.</summary>
    internal static void Validate(JetBlockDims dims, int reduction)
    {
        if (dims.KeyDim < 1 || dims.ValueDim < 1 || dims.Heads < 1)
            throw new ArgumentException($"JetBlock {dims}: key dim, value dim and heads must be positive");
        if ((long)dims.Heads * dims.ValueDim % reduction != 0)
            throw new ArgumentException($"JetBlock {dims}: the value dim H*dV = {(long)dims.Heads * dims.ValueDim} is not a multiple of dconv_generator_reduction ({reduction})");
    }

    /// <summary>Reads a config.json text (model_type jet_nemotron).</summary>
    public static ModelShape FromConfigJson(string configJson)
    {
        ArgumentNullException.ThrowIfNull(configJson);
        JsonObject root = ParseObject(configJson);
        int layers = PositiveInt(root, "num_hidden_layers");
        var types = new List<JetLayerType>();
        if (root["layer_types"] is not JsonArray array) throw Bad("layer_types", "must be an array");
        if (array.Count != layers) throw Bad("layer_types", $"has {array.Count} entries but num_hidden_layers is {layers}");
        for (int i = 0; i < array.Count; i++)
        {
            string? s = array[i] is JsonValue value && value.TryGetValue(out string? text) ? text : null;
            types.Add(s switch
            {
                "attn" => JetLayerType.Attn,
                "swa" => JetLayerType.Swa,
                "jet" => JetLayerType.Jet,
                _ => throw Bad($"layer_types[{i}]", "must be 'attn', 'swa' or 'jet'"),
            });
        }
        int hidden = PositiveInt(root, "hidden_size");
        int heads = PositiveInt(root, "num_attention_heads");
        int kvHeads = PositiveInt(root, "num_key_value_heads");
        if (hidden % heads != 0) throw Bad("num_attention_heads", $"({heads}) must divide hidden_size ({hidden})");
        if (heads % kvHeads != 0) throw Bad("num_key_value_heads", $"({kvHeads}) must divide num_attention_heads ({heads})");
        var shape = new ModelShape
        {
            VocabSize = PositiveInt(root, "vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = PositiveInt(root, "intermediate_size"),
            MaxPositionEmbeddings = PositiveInt(root, "max_position_embeddings"),
            TieWordEmbeddings = root["tie_word_embeddings"] is JsonValue tie && tie.TryGetValue(out bool tied) && tied,
            Layers = types,
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = hidden / heads,
        };
        bool hasSwa = types.Contains(JetLayerType.Swa), hasJet = types.Contains(JetLayerType.Jet);
        if (!hasSwa && !hasJet) return shape;
        if (root["efficient_attention_config"] is not JsonObject eac) throw Bad("efficient_attention_config", "must be an object");
        if (hasSwa)
        {
            if (eac["swa"] is not JsonObject swa) throw Bad("efficient_attention_config.swa", "must be an object");
            shape = shape with { SlidingWindow = PositiveInt(swa, "window_size", "efficient_attention_config.swa.") };
        }
        if (hasJet)
        {
            const string p = "efficient_attention_config.jet.";
            if (eac["jet"] is not JsonObject jet) throw Bad("efficient_attention_config.jet", "must be an object");
            int jetHeads = PositiveInt(jet, "num_heads", p);
            int dk = PositiveInt(jet, "head_dim", p);
            double expand = PositiveNumber(jet, "expand_v", p);
            double dv = dk * expand, dvRound = Math.Round(dv);
            if (Math.Abs(dv - dvRound) > 1e-6 * Math.Max(1.0, dv) || dvRound < 1)
                throw Bad(p + "expand_v", $"times head_dim must be a positive integer (got {dv.ToString(CultureInfo.InvariantCulture)})");
            int reduction = PositiveInt(jet, "dconv_generator_reduction", p);
            if ((long)jetHeads * (long)dvRound % reduction != 0)
                throw Bad(p + "dconv_generator_reduction", $"({reduction}) must divide the value dim ({(long)jetHeads * (long)dvRound})");
            shape = shape with
            {
                JetHeads = jetHeads,
                JetKeyDim = dk,
                JetValueDim = (int)dvRound,
                JetConvSize = PositiveInt(jet, "conv_size", p),
                JetGeneratorReduction = reduction,
            };
        }
        return shape;
    }

    /// <summary>
    /// The config.json text with the JetBlock set to <paramref name="dims"/> (num_heads, head_dim and
    /// expand_v = dV / dK); every other field is kept as it was.
    /// </summary>
    public static string WithJetBlock(string configJson, JetBlockDims dims)
    {
        ModelShape shape = FromConfigJson(configJson);
        if (shape.JetLayerCount == 0) throw new ArgumentException("the config has no JetBlock layers (layer_types has no \"jet\")");
        Validate(dims, shape.JetGeneratorReduction);
        JsonObject root = ParseObject(configJson);
        var jet = (JsonObject)root["efficient_attention_config"]!["jet"]!;
        jet["num_heads"] = dims.Heads;
        jet["head_dim"] = dims.KeyDim;
        jet["expand_v"] = (double)dims.ValueDim / dims.KeyDim;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static JsonObject ParseObject(string json)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (JsonException e) { throw new JetException(JetStatus.Format, $"config.json is not valid JSON: {e.Message}", e); }
        return node as JsonObject ?? throw new JetException(JetStatus.Format, "config.json must be a JSON object");
    }

    private static JetException Bad(string field, string what) =>
        new(JetStatus.Format, $"config.json: field '{field}' {what}");

    private static int PositiveInt(JsonObject o, string name, string prefix = "")
    {
        JsonNode? n = o[name];
        if (n is null) throw Bad(prefix + name, "is missing");
        if (n is JsonValue v && v.TryGetValue(out double d) && d == Math.Floor(d) && d >= 1 && d <= int.MaxValue) return (int)d;
        throw Bad(prefix + name, $"must be a positive integer (got {n.ToJsonString()})");
    }

    private static double PositiveNumber(JsonObject o, string name, string prefix)
    {
        JsonNode? n = o[name];
        if (n is null) throw Bad(prefix + name, "is missing");
        if (n is JsonValue v && (v.TryGetValue(out double d) ||
            (v.TryGetValue(out string? s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d))) &&
            d > 0 && double.IsFinite(d))
            return d;
        throw Bad(prefix + name, $"must be a positive number (got {n.ToJsonString()})");
    }
}

/// <summary>A JetBlock's key dim per head (dK), value dim per head (dV) and head count (H).</summary>
public readonly record struct JetBlockDims(int KeyDim, int ValueDim, int Heads)
{
    /// <summary>Elements of one layer's recurrent state: H * dK * dV.</summary>
    public long StateElements => (long)Heads * KeyDim * ValueDim;

    /// <summary>"dK/dV/H", e.g. "96/256/12" (the form <see cref="Parse"/> reads).</summary>
    public override string ToString() => $"{KeyDim}/{ValueDim}/{Heads}";

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
