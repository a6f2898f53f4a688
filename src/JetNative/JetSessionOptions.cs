namespace JetNative;

/// <summary>The cache a session allocates.</summary>
public sealed record JetSessionOptions
{
    /// <summary>Sequences (batch slots) the session holds; default 1.</summary>
    public int Sequences { get; init; } = 1;

    /// <summary>Maximum tokens per sequence; 0 = the model's max_position_embeddings (default).</summary>
    public int Context { get; init; }

    /// <summary>Tokens per prefill step; 0 = the device's default (CPU 512, CUDA 2048).</summary>
    public int PrefillChunk { get; init; }

    /// <summary>
    /// Allows a <see cref="Context"/> beyond the model's max_position_embeddings (the engine logs a
    /// warning naming both; positions past the trained length may degrade the output). Without it
    /// such a context is refused with <see cref="JetStatus.InvalidArgument"/>. Default false.
    /// </summary>
    public bool AllowLongContext { get; init; }
}
