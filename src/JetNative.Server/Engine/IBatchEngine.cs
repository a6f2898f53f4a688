namespace JetNative.Server.Engine;

/// <summary>
/// The session calls the batch scheduler makes: a <see cref="JetSession"/> with N sequence slots
/// (<see cref="JetSessionEngine"/>), or a fake in the scheduler's unit tests. Used by one thread.
/// </summary>
public interface IBatchEngine : IDisposable
{
    /// <summary>Sequence slots (generation slots plus prefix-snapshot slots).</summary>
    int Sequences { get; }

    /// <summary>Tokens one sequence may hold.</summary>
    int Context { get; }

    /// <summary>Tokens the scheduler prefills per step for one sequence.</summary>
    int PrefillChunk { get; }

    /// <summary>Empties a slot.</summary>
    void Reset(int sequence);

    /// <summary>Sets and reseeds the slot's sampling.</summary>
    void SetSampling(JetSamplingOptions sampling, int sequence);

    /// <summary>Appends prompt tokens to a slot (no logits returned).</summary>
    void Prefill(ReadOnlySpan<int> tokens, int sequence, CancellationToken cancellationToken);

    /// <summary>The slot's next token after a prefill (nothing appended), with its log-probability.</summary>
    int SampleNext(int sequence, out float logprob);

    /// <summary>One batched step: appends tokens[i] to sequences[i], writes each one's next token and log-probability.</summary>
    void DecodeSample(ReadOnlySpan<int> sequences, ReadOnlySpan<int> tokens, Span<int> next, Span<float> logprobs,
        CancellationToken cancellationToken);

    /// <summary>Copies a slot's state (cache, position, logits, sampler) onto another.</summary>
    void CopySequence(int source, int destination);
}
