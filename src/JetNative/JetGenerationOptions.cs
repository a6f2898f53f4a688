namespace JetNative;

/// <summary>A generation: sampling, length and when to stop.</summary>
public sealed record JetGenerationOptions
{
    /// <summary>How tokens are picked (llama.cpp's defaults).</summary>
    public JetSamplingOptions Sampling { get; init; } = new();

    /// <summary>
    /// Most tokens to generate, &gt; 0; or <see cref="JetGeneration.UntilContextEnd"/> (-1, as the CLI's
    /// <c>-n -1</c>): until a stop or the end of the context. Other values throw
    /// ArgumentOutOfRangeException when a generation starts. Either way a generation that reaches the
    /// end of the context ends there with <see cref="JetFinishReason.Length"/>. Default 256.
    /// </summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Stop when the generated text contains one of these (it is not returned).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Stop after one of these token ids (not returned as text).</summary>
    public IReadOnlyList<int> StopTokens { get; init; } = [];

    /// <summary>Also stop at the model's eos token (default true).</summary>
    public bool StopAtEndOfSequence { get; init; } = true;
}
