using JetNative.Interop;

namespace JetNative;

/// <summary>
/// The text of a Jet-Nemotron config.json as the engine reads it (jet_config_get_info): its
/// dimensions, parameter count and cache bytes at any context, without weights or a device. The
/// engine validates it exactly as <c>JetModel.Load</c>
/// would: a bad config throws <see cref="JetException"/> with the engine's status and message.
/// </summary>
public sealed class JetConfig
{
    private JetConfig(string json, JetModelInfo info)
    {
        Json = json;
        Info = info;
    }

    /// <summary>The config.json text as given.</summary>
    public string Json { get; }

    /// <summary>
    /// What <see cref="JetModel.Info"/> would report for a model of this config: device CPU,
    /// <see cref="JetModelInfo.WeightBytes"/> the size of the weights in bf16.
    /// </summary>
    public JetModelInfo Info { get; }

    /// <summary>Validates <paramref name="configJson"/> with the engine and reads its dimensions.</summary>
    public static unsafe JetConfig Parse(string configJson)
    {
        ArgumentNullException.ThrowIfNull(configJson);
        NativeModelInfo n = default;
        n.Size = (uint)sizeof(NativeModelInfo);
        JetException.Check(NativeMethods.jet_config_get_info(configJson, &n));
        var layers = new JetLayerType[n.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            int type;
            JetException.Check(NativeMethods.jet_config_layer_type(configJson, i, &type));
            layers[i] = (JetLayerType)type;
        }
        return new JetConfig(configJson, JetModelInfo.FromNative(n, layers));
    }

    /// <summary>
    /// The cache one sequence of this config needs at <paramref name="context"/> tokens on
    /// <paramref name="device"/>, by part, as the engine allocates it there (jet_config_cache_bytes;
    /// needs no GPU).
    /// </summary>
    public unsafe JetCacheBreakdown CacheBytes(long context, JetDevice device)
    {
        NativeCacheBreakdown b = default;
        b.Size = (uint)sizeof(NativeCacheBreakdown);
        JetException.Check(NativeMethods.jet_config_cache_bytes(Json, (int)device, context, &b));
        return new JetCacheBreakdown((JetDevice)b.Device, b.NCtx, b.AttnKv, b.SwaKv, b.JetState, b.JetConv, b.Total, b.PerToken);
    }
}
