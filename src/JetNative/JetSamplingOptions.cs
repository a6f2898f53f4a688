namespace JetNative;

/// <summary>
/// How the next token is picked from the logits, with llama.cpp's defaults. A temperature of 0
/// (or less) means greedy decoding (argmax); the other filters are then ignored.
/// </summary>
public sealed record JetSamplingOptions
{
    /// <summary>Greedy decoding (temperature 0).</summary>
    public static JetSamplingOptions Greedy { get; } = new() { Temperature = 0 };

    /// <summary>Softmax temperature; &lt;= 0 is greedy. Default 0.8.</summary>
    public float Temperature { get; init; } = 0.8f;

    /// <summary>Keep the k most likely tokens; &lt;= 0 turns it off. Default 40.</summary>
    public int TopK { get; init; } = 40;

    /// <summary>Nucleus sampling; &gt;= 1 turns it off. Default 0.95.</summary>
    public float TopP { get; init; } = 0.95f;

    /// <summary>Drop tokens below min_p times the top probability; &lt;= 0 turns it off. Default 0.05.</summary>
    public float MinP { get; init; } = 0.05f;

    /// <summary>Repetition penalty; 1 turns it off (default).</summary>
    public float RepeatPenalty { get; init; } = 1.0f;

    /// <summary>Tokens of history the repetition penalty looks at. Default 64.</summary>
    public int RepeatLastN { get; init; } = 64;

    /// <summary>
    /// RNG seed: the same seed and logits give the same tokens. Null (default): a random seed is
    /// drawn for each generation (each <see cref="JetSession.SetSampling"/> and each new
    /// <see cref="JetSampler"/>), so two calls give different text; set it for reproducible output.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>A random seed (what a null <see cref="Seed"/> becomes).</summary>
    internal static ulong RandomSeed() => (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);

    /// <summary>
    /// Only token ids below this are picked; 0 (default) allows every id. Checkpoints pad the LM head
    /// beyond their tokenizer (Qwen's: 151,936 rows for 151,665 tokens), and an id of a padding row
    /// has no text: <see cref="JetModel.SamplingFor"/> sets this to the tokenizer's size.
    /// </summary>
    public int VocabLimit { get; init; }
}
