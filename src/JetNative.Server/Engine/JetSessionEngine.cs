namespace JetNative.Server.Engine;

/// <summary>An <see cref="IBatchEngine"/> over one <see cref="JetSession"/> (owned: disposed with it).</summary>
public sealed class JetSessionEngine : IBatchEngine
{
    private readonly JetSession _session;

    /// <summary>Wraps <paramref name="session"/>; <paramref name="prefillChunk"/> tokens are prefilled per scheduler step.</summary>
    public JetSessionEngine(JetSession session, int prefillChunk)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefillChunk, 1);
        _session = session;
        PrefillChunk = prefillChunk;
    }

    /// <summary>The wrapped session.</summary>
    public JetSession Session => _session;

    /// <inheritdoc/>
    public int Sequences => _session.Sequences;

    /// <inheritdoc/>
    public int Context => _session.Context;

    /// <inheritdoc/>
    public int PrefillChunk { get; }

    /// <inheritdoc/>
    public void Reset(int sequence) => _session.Reset(sequence);

    /// <inheritdoc/>
    public void SetSampling(JetSamplingOptions sampling, int sequence) => _session.SetSampling(sampling, sequence);

    /// <inheritdoc/>
    public void Prefill(ReadOnlySpan<int> tokens, int sequence, CancellationToken cancellationToken) =>
        _session.Prefill(tokens, sequence, JetLogitsMode.None, default, cancellationToken);

    /// <inheritdoc/>
    public int SampleNext(int sequence, out float logprob) => _session.SampleNext(sequence, out logprob);

    /// <inheritdoc/>
    public void DecodeSample(ReadOnlySpan<int> sequences, ReadOnlySpan<int> tokens, Span<int> next, Span<float> logprobs,
        CancellationToken cancellationToken) =>
        _session.DecodeSample(sequences, tokens, next, logprobs, cancellationToken);

    /// <inheritdoc/>
    public void CopySequence(int source, int destination) => _session.CopySequence(source, destination);

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
