namespace JetNative;

/// <summary>A generation: sampling, length and when to stop.</summary>
public sealed record JetGenerationOptions
{
    /// <summary>How tokens are picked (llama.cpp's defaults).</summary>
    public JetSamplingOptions Sampling { get; init; } = new();

    /// <summary>Most tokens to generate; &lt;= 0 means until a stop or the context is full. Default 256.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Stop when the generated text contains one of these (it is not returned).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Stop after one of these token ids (not returned as text).</summary>
    public IReadOnlyList<int> StopTokens { get; init; } = [];

    /// <summary>Also stop at the model's eos token (default true).</summary>
    public bool StopAtEndOfSequence { get; init; } = true;
}
