using JetNative.Interop;

namespace JetNative;

/// <summary>
/// A native sampler: temperature, top-k, top-p, min-p and a repetition penalty over its history,
/// with its own seeded RNG (the same seed and logits give the same tokens). Not thread-safe.
/// </summary>
public sealed class JetSampler : IDisposable
{
    internal readonly JetSamplerHandle Handle;

    /// <summary>A sampler with <paramref name="options"/> (default: llama.cpp's defaults, a random seed).</summary>
    public JetSampler(JetSamplingOptions? options = null)
    {
        Options = options ?? new JetSamplingOptions();
        JetNativeLibrary.EnsureLoaded();
        NativeSamplerParams p = ToNative(Options);
        unsafe
        {
            JetException.Check(NativeMethods.jet_sampler_create(&p, out Handle));
        }
    }

    /// <summary>The options it was made with (a null seed was drawn at random when it was created).</summary>
    public JetSamplingOptions Options { get; }

    internal static unsafe NativeSamplerParams ToNative(JetSamplingOptions o)
    {
        NativeSamplerParams p;
        NativeMethods.jet_sampler_default_params(&p);
        p.Size = (uint)sizeof(NativeSamplerParams);
        p.Temperature = o.Temperature;
        p.TopK = o.TopK;
        p.TopP = o.TopP;
        p.MinP = o.MinP;
        p.RepeatPenalty = o.RepeatPenalty;
        p.RepeatLastN = o.RepeatLastN;
        p.Seed = o.Seed ?? JetSamplingOptions.RandomSeed();
        p.VocabLimit = o.VocabLimit;
        return p;
    }

    /// <summary>The native defaults (jet_sampler_default_params), as options.</summary>
    public static unsafe JetSamplingOptions NativeDefaults()
    {
        JetNativeLibrary.EnsureLoaded();
        NativeSamplerParams p;
        NativeMethods.jet_sampler_default_params(&p);
        return new JetSamplingOptions
        {
            Temperature = p.Temperature, TopK = p.TopK, TopP = p.TopP, MinP = p.MinP,
            RepeatPenalty = p.RepeatPenalty, RepeatLastN = p.RepeatLastN, Seed = p.Seed,
            VocabLimit = p.VocabLimit,
        };
    }

    /// <summary>Picks a token from one row of logits (not modified). Does not add it to the history.</summary>
    public unsafe int Sample(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty)
            throw new ArgumentException("no logits to sample from", nameof(logits));
        int token;
        fixed (float* l = logits)
            JetException.Check(NativeMethods.jet_sampler_sample(Handle, l, logits.Length, &token));
        return token;
    }

    /// <summary>Adds a token to the repetition-penalty history.</summary>
    public void Accept(int token) => JetException.Check(NativeMethods.jet_sampler_accept(Handle, token));

    /// <summary>Adds tokens (a prompt) to the repetition-penalty history.</summary>
    public void Accept(ReadOnlySpan<int> tokens)
    {
        foreach (int t in tokens)
            Accept(t);
    }

    /// <summary>Clears the history and reseeds the RNG.</summary>
    public void Reset() => JetException.Check(NativeMethods.jet_sampler_reset(Handle));

    /// <summary>Frees the native sampler.</summary>
    public void Dispose() => Handle.Dispose();
}
