using JetNative.Server.Engine;

namespace JetNative.Server.Tests.Support;

/// <summary>
/// An <see cref="IBatchEngine"/> without a model: each slot holds its token list, and the "sampled"
/// token is a function of the slot's whole history (so a wrong state gives a different text).
/// Every call is logged for the tests; <see cref="StepDelay"/> slows each prefill chunk and step.
/// </summary>
internal sealed class FakeEngine(int sequences, int context = 4096, int prefillChunk = 8) : IBatchEngine
{
    private readonly List<int>[] _slots = Enumerable.Range(0, sequences).Select(_ => new List<int>()).ToArray();
    private readonly bool[] _hasLogits = new bool[sequences];
    private readonly List<string> _log = [];

    public int Sequences => sequences;
    public int Context => context;
    public int PrefillChunk => prefillChunk;
    public TimeSpan StepDelay { get; set; }
    public bool Disposed { get; private set; }
    public List<ulong?> Seeds { get; } = [];

    /// <summary>The calls so far: "prefill S N", "decode S1,S2", "copy A B", "reset S", "sample S".</summary>
    public string[] Log
    {
        get { lock (_log) return [.. _log]; }
    }

    /// <summary>The token a history is followed by: ids 300..349 (ordinary text tokens of the demo tokenizer).</summary>
    public static int NextOf(IReadOnlyList<int> history)
    {
        unchecked
        {
            int h = 17;
            foreach (int t in history) h = h * 31 + t;
            return 300 + (int)((uint)h % 50);
        }
    }

    public void Reset(int sequence)
    {
        _slots[sequence].Clear();
        _hasLogits[sequence] = false;
        Add($"reset {sequence}");
    }

    public void SetSampling(JetSamplingOptions sampling, int sequence)
    {
        lock (_log) Seeds.Add(sampling.Seed);
    }

    public void Prefill(ReadOnlySpan<int> tokens, int sequence, CancellationToken cancellationToken)
    {
        Delay();
        if (_slots[sequence].Count + tokens.Length > context)
            throw new JetException(JetStatus.ContextFull, "context full");
        _slots[sequence].AddRange(tokens.ToArray());
        _hasLogits[sequence] = true;
        Add($"prefill {sequence} {tokens.Length}");
    }

    public int SampleNext(int sequence, out float logprob)
    {
        if (!_hasLogits[sequence]) throw new JetException(JetStatus.InvalidArgument, "no logits");
        Add($"sample {sequence}");
        logprob = -1.5f;
        return NextOf(_slots[sequence]);
    }

    public void DecodeSample(ReadOnlySpan<int> sequences, ReadOnlySpan<int> tokens, Span<int> next, Span<float> logprobs,
        CancellationToken cancellationToken)
    {
        Delay();
        cancellationToken.ThrowIfCancellationRequested();
        for (int i = 0; i < sequences.Length; i++)
        {
            List<int> slot = _slots[sequences[i]];
            if (slot.Count >= context) throw new JetException(JetStatus.ContextFull, "context full");
            slot.Add(tokens[i]);
            _hasLogits[sequences[i]] = false;
            next[i] = NextOf(slot);
            if (!logprobs.IsEmpty) logprobs[i] = -0.5f;
        }
        Add($"decode {string.Join(',', sequences.ToArray())}");
    }

    public void CopySequence(int source, int destination)
    {
        _slots[destination].Clear();
        _slots[destination].AddRange(_slots[source]);
        _hasLogits[destination] = _hasLogits[source];
        Add($"copy {source} {destination}");
    }

    public void Dispose() => Disposed = true;

    private void Delay()
    {
        if (StepDelay > TimeSpan.Zero) Thread.Sleep(StepDelay);
    }

    private void Add(string entry)
    {
        lock (_log) _log.Add(entry);
    }
}
