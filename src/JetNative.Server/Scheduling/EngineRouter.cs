namespace JetNative.Server.Scheduling;

/// <summary>
/// Data parallelism: one <see cref="BatchScheduler"/> per engine (per GPU, or several on the CPU),
/// each request to the least-loaded (queued + busy slots; ties to the first).
/// </summary>
public sealed class EngineRouter : IDisposable
{
    /// <summary>Routes over <paramref name="schedulers"/> (owned).</summary>
    public EngineRouter(IReadOnlyList<BatchScheduler> schedulers)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        if (schedulers.Count == 0) throw new ArgumentException("no engine", nameof(schedulers));
        Schedulers = schedulers;
    }

    /// <summary>The engines' schedulers.</summary>
    public IReadOnlyList<BatchScheduler> Schedulers { get; }

    /// <summary>Generation slots of the smallest engine (the most choices one request may ask for).</summary>
    public int SlotsPerEngine => Schedulers.Min(s => s.Options.Slots);

    /// <summary>Tokens per sequence (the smallest engine's).</summary>
    public int Context => Schedulers.Min(s => s.Context);

    /// <summary>True when no engine has anything queued or running.</summary>
    public bool IsIdle => Schedulers.All(s => s.IsIdle);

    /// <summary>
    /// Queues <paramref name="request"/> on the least-loaded engine that takes it; returns that
    /// engine's index (or -1) and the result (QueueFull only when every engine's queue is full).
    /// </summary>
    public (EnqueueResult Result, int Engine) TryEnqueue(GenerationRequest request)
    {
        EnqueueResult last = EnqueueResult.Draining;
        foreach (int i in Enumerable.Range(0, Schedulers.Count).OrderBy(i => Schedulers[i].Load))
        {
            last = Schedulers[i].TryEnqueue(request);
            if (last == EnqueueResult.Accepted) return (last, i);
            if (last == EnqueueResult.TooManyChoices) break;
        }
        return (last, -1);
    }

    /// <summary>Every engine refuses new requests from now on.</summary>
    public void BeginDrain()
    {
        foreach (BatchScheduler s in Schedulers) s.BeginDrain();
    }

    /// <summary>Waits until every engine is idle.</summary>
    public Task WaitIdleAsync(CancellationToken cancellationToken = default) =>
        Task.WhenAll(Schedulers.Select(s => s.WaitIdleAsync(cancellationToken)));

    /// <summary>Stops every engine.</summary>
    public void Dispose()
    {
        foreach (BatchScheduler s in Schedulers) s.Dispose();
    }
}
