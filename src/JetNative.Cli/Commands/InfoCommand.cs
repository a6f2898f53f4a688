using System.CommandLine;
using System.Globalization;

using JetNative.Cli;
using JetNative.Tokenization;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative info [-m MODEL] [-c CTX]</c>: the config, parameter count, layer map by mixer type,
/// and cache bytes (fixed JetBlock/SWA state, per token of context, and in total at -c tokens).
/// </summary>
internal static class InfoCommand
{
    public static Command Create(CliConsole io)
    {
        var model = new ModelOptions();
        model.CtxSize.Description = "Context for the cache figure (0 = the model's maximum)";
        var command = new Command("info", "Show a model's configuration, size, layer map and cache needs");
        model.AddTo(command, longContext: false);
        command.SetAction(async (result, ct) =>
        {
            ModelArgs args = model.Read(result);
            using JetModel m = await ModelLoader.LoadAsync(io, args, ct);
            long context = args.CtxSize > 0 ? args.CtxSize : m.Info.MaxPositionEmbeddings;
            if (context > m.Info.MaxPositionEmbeddings)
                io.Error.WriteLine($"warning: -c {context} is beyond the model's {m.Info.MaxPositionEmbeddings} positions (max_position_embeddings): it cannot run that long; the cache figure is for {context} tokens anyway");
            foreach (var (key, value) in Describe(m, context))
                io.Out.WriteLine($"{key + ":",-22} {value}");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The weight storage of the linear layers, e.g. "bf16" or "int8, groups of 128".</summary>
    internal static string WeightFormat(JetModelInfo i) => i.WeightDtype switch
    {
        JetWeightDtype.Int8 or JetWeightDtype.Fp8E4m3 =>
            (i.WeightDtype == JetWeightDtype.Int8 ? "int8" : "fp8 e4m3") +
            (i.WeightGroupSize > 0 ? $", a scale per {i.WeightGroupSize} inputs" : ", a scale per output channel"),
        JetWeightDtype.F32 => "f32",
        JetWeightDtype.F16 => "f16",
        _ => "bf16",
    };

    /// <summary>The lines <c>info</c> prints, as (key, value).</summary>
    internal static IEnumerable<(string Key, string Value)> Describe(JetModel model, long context)
    {
        JetModelInfo i = model.Info;
        var inv = CultureInfo.InvariantCulture;
        yield return ("model", model.Folder ?? "(random weights)");
        yield return ("device", i.Device == JetDevice.Cuda ? $"cuda:{model.Options.DeviceIndex}" : "cpu");
        yield return ("parameters", $"{i.ParameterCount.ToString("N0", inv)} ({Units.Count(i.ParameterCount)})");
        yield return ("weights", Units.Bytes(i.WeightBytes));
        yield return ("weight format", WeightFormat(i));
        yield return ("vocab size", i.VocabSize.ToString(inv));
        yield return ("hidden size", i.HiddenSize.ToString(inv));
        yield return ("intermediate size", i.IntermediateSize.ToString(inv));
        yield return ("layers", i.NumLayers.ToString(inv));
        yield return ("attention heads", $"{i.NumAttentionHeads} (kv {i.NumKeyValueHeads}, head dim {i.HeadDim})");
        if (i.SlidingWindowLayerCount > 0) yield return ("sliding window", i.SlidingWindow.ToString(inv));
        if (i.JetLayerCount > 0)
            yield return ("jetblock", $"{i.JetNumHeads} heads, key dim {i.JetHeadKDim}, value dim {i.JetHeadVDim}, conv {i.JetConvSize}");
        yield return ("max positions", i.MaxPositionEmbeddings.ToString(inv));
        yield return ("tied embeddings", i.TieWordEmbeddings ? "yes" : "no");
        if (model.Tokenizer is JetTokenizer tok) yield return ("tokenizer", $"{tok.VocabSize} tokens");
        yield return ("layer map", string.Concat(i.Layers.Select(Letter)) + "  (A attn, S swa, J jet)");
        foreach (var (type, name) in new[] { (JetLayerType.Attn, "attn layers"), (JetLayerType.Swa, "swa layers"), (JetLayerType.Jet, "jet layers") })
        {
            var indices = i.Layers.Select((t, index) => (t, index)).Where(x => x.t == type).Select(x => x.index).ToList();
            yield return (name, indices.Count == 0 ? "0" : $"{indices.Count}: {string.Join(", ", indices)}");
        }
        var cache = CacheFigures.Of(model);
        yield return ("cache fixed", $"{Units.Bytes(cache.Fixed)} per sequence (JetBlock states, full SWA windows)");
        yield return ("cache per token", $"{Units.Bytes(cache.PerToken)} (full-attention KV)");
        yield return ($"cache at {context.ToString(inv)}", $"{Units.Bytes(model.CacheBytes(context))} per sequence");
    }

    private static char Letter(JetLayerType t) => t switch
    {
        JetLayerType.Attn => 'A',
        JetLayerType.Swa => 'S',
        JetLayerType.Jet => 'J',
        _ => '?',
    };
}
