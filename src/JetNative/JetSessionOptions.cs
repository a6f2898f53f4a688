namespace JetNative;

/// <summary>The cache a session allocates.</summary>
public sealed record JetSessionOptions
{
    /// <summary>Sequences (batch slots) the session holds; default 1.</summary>
    public int Sequences { get; init; } = 1;

    /// <summary>Maximum tokens per sequence; 0 = the model's max_position_embeddings (default).</summary>
    public int Context { get; init; }

    /// <summary>Tokens per prefill step; 0 = the engine's default (512).</summary>
    public int PrefillChunk { get; init; }
}
