using System.Diagnostics;
using JetNative.Server.Engine;
using JetNative.Tokenization;

namespace JetNative.Server.Scheduling;

/// <summary>What <see cref="BatchScheduler.TryEnqueue"/> did with a request.</summary>
public enum EnqueueResult
{
    /// <summary>Queued: its events will follow.</summary>
    Accepted,
    /// <summary>The queue is full (HTTP 429).</summary>
    QueueFull,
    /// <summary>The server is draining or stopped (HTTP 503).</summary>
    Draining,
    /// <summary>It asks for more choices than the engine has slots (HTTP 400).</summary>
    TooManyChoices,
}

/// <summary>Sizes of a <see cref="BatchScheduler"/>.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Generation slots (sequences decoded together).</summary>
    public int Slots { get; init; } = 4;

    /// <summary>Slots reserved for prefix snapshots (0: no prefix reuse); they follow the generation slots.</summary>
    public int PrefixSlots { get; init; } = 2;

    /// <summary>The shortest shared prefix worth a snapshot.</summary>
    public int MinPrefixTokens { get; init; } = 16;

    /// <summary>Requests that may wait for a slot; beyond, <see cref="EnqueueResult.QueueFull"/>.</summary>
    public int MaxQueue { get; init; } = 256;
}

/// <summary>
/// Continuous batching over one engine on a dedicated thread. Each iteration: drops cancelled
/// requests (their slots are free at once), admits waiting requests into free slots in FIFO order
/// (a request with n choices waits until n slots are free; nothing overtakes it), prefills at most
/// one chunk of one admitted prompt (so a long prompt stalls the running batch by one chunk at
/// most; after its last chunk the engine samples its first token, and n &gt; 1 copies the prompt's
/// state into the other choices' slots), then runs one batched decode-and-sample step over every
/// running sequence and hands each its token.
/// </summary>
public sealed class BatchScheduler : IDisposable
{
    private readonly IBatchEngine _engine;
    private readonly JetTokenizer _tokenizer;
    private readonly ServerMetrics? _metrics;
    private readonly string _name;
    private readonly Queue<GenerationRequest> _waiting = new();
    private readonly Stack<int> _free = new();
    private readonly List<PrefillJob> _prefilling = [];
    private readonly List<Running> _running = [];
    private readonly PrefixCache? _prefix;
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private readonly AutoResetEvent _wake = new(false);
    private volatile bool _draining;
    private volatile int _busySlots;
    private volatile int _queued;
    private int[] _seqs = [], _tokens = [], _next = [];
    private float[] _logprobs = [];
    private long _rateStart = Stopwatch.GetTimestamp();
    private long _rateTokens;
    private long _prefilled, _reused, _steps;
    private Exception? _fault;

    private sealed class PrefillJob(GenerationRequest request, int[] slots)
    {
        public GenerationRequest Request { get; } = request;
        public int[] Slots { get; } = slots;
        public int Offset;
        public int SnapshotAt;
    }

    private sealed class Running(GenerationRequest request, int choice, int slot, JetGeneration text, int position)
    {
        public GenerationRequest Request { get; } = request;
        public int Choice { get; } = choice;
        public int Slot { get; } = slot;
        public JetGeneration Text { get; } = text;
        public int Position = position;  // tokens in the slot
        public int Pending;               // sampled, handed out, not yet appended
        public long LastToken;
    }

    /// <summary>
    /// A scheduler over <paramref name="engine"/> (owned), which must have Slots + PrefixSlots
    /// sequences; starts its thread.
    /// </summary>
    public BatchScheduler(IBatchEngine engine, JetTokenizer tokenizer, SchedulerOptions options, ServerMetrics? metrics = null,
        string name = "0")
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Slots, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.PrefixSlots);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxQueue);
        if (engine.Sequences < options.Slots + options.PrefixSlots)
            throw new ArgumentException($"the engine has {engine.Sequences} sequences, {options.Slots} + {options.PrefixSlots} are needed", nameof(engine));
        _engine = engine;
        _tokenizer = tokenizer;
        Options = options;
        _metrics = metrics;
        _name = name;
        for (int s = options.Slots - 1; s >= 0; s--) _free.Push(s);
        if (options.PrefixSlots > 0)
            _prefix = new PrefixCache(engine, Enumerable.Range(options.Slots, options.PrefixSlots), options.MinPrefixTokens);
        UpdateGauges();
        _thread = new Thread(Run) { IsBackground = true, Name = $"jetnative-scheduler-{name}" };
        _thread.Start();
    }

    /// <summary>The sizes it was made with.</summary>
    public SchedulerOptions Options { get; }

    /// <summary>The engine's context (tokens per sequence).</summary>
    public int Context => _engine.Context;

    /// <summary>Requests waiting for slots.</summary>
    public int QueueDepth => _queued;

    /// <summary>Slots taken (prefilling or decoding).</summary>
    public int BusySlots => _busySlots;

    /// <summary>Queued choices plus busy slots: what the router balances.</summary>
    public int Load => _queued + _busySlots;

    /// <summary>True when nothing is queued, prefilling or running.</summary>
    public bool IsIdle => _queued == 0 && _busySlots == 0;

    /// <summary>True once <see cref="BeginDrain"/> was called.</summary>
    public bool IsDraining => _draining;

    /// <summary>Prompt tokens prefilled so far.</summary>
    public long PrefilledTokens => Interlocked.Read(ref _prefilled);

    /// <summary>Prompt tokens taken from prefix snapshots so far.</summary>
    public long ReusedPrefixTokens => Interlocked.Read(ref _reused);

    /// <summary>Batched decode steps run so far.</summary>
    public long DecodeSteps => Interlocked.Read(ref _steps);

    /// <summary>The exception that stopped the scheduler's thread, if any.</summary>
    public Exception? Fault => _fault;

    /// <summary>Queues a request unless the queue is full or the scheduler is draining.</summary>
    public EnqueueResult TryEnqueue(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.N > Options.Slots) return EnqueueResult.TooManyChoices;
        lock (_waiting)
        {
            if (_draining || _stop.IsCancellationRequested || _fault is not null) return EnqueueResult.Draining;
            // The queue limit counts the requests beyond what the free slots take at the next step.
            if (_waiting.Count >= Options.MaxQueue + Math.Max(0, Options.Slots - _busySlots)) return EnqueueResult.QueueFull;
            request.EnqueuedTimestamp = Stopwatch.GetTimestamp();
            _waiting.Enqueue(request);
            _queued = _waiting.Count;
        }
        _wake.Set();
        return EnqueueResult.Accepted;
    }

    /// <summary>Refuses new requests from now on; queued and running ones go on.</summary>
    public void BeginDrain()
    {
        lock (_waiting) _draining = true;
    }

    /// <summary>Waits until nothing is queued or running (polls every 10 ms).</summary>
    public async Task WaitIdleAsync(CancellationToken cancellationToken = default)
    {
        while (!IsIdle && _fault is null && !_stop.IsCancellationRequested)
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the thread; requests still queued or running fail with ObjectDisposedException; disposes the engine.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        lock (_waiting) _stop.Cancel();
        _wake.Set();
        _thread.Join();
        var stopped = new ObjectDisposedException(nameof(BatchScheduler), "the server is shutting down");
        FailAll(stopped);
        _engine.Dispose();
        _wake.Dispose();
    }

    // ---------------------------------------------------------------- the loop

    private void Run()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                DropCancelled();
                Admit();
                bool prefilled = PrefillStep();
                bool decoded = DecodeStep();
                UpdateGauges();
                if (!prefilled && !decoded && _prefilling.Count == 0 && _running.Count == 0)
                    _wake.WaitOne(50);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _fault = e;
            FailAll(e);
        }
    }

    private void DropCancelled()
    {
        lock (_waiting)
        {
            if (_waiting.Any(r => r.CancellationToken.IsCancellationRequested))
            {
                GenerationRequest[] keep = [.. _waiting];
                _waiting.Clear();
                foreach (GenerationRequest r in keep)
                {
                    if (r.CancellationToken.IsCancellationRequested) Cancel(r);
                    else _waiting.Enqueue(r);
                }
                _queued = _waiting.Count;
            }
        }
        for (int i = _prefilling.Count - 1; i >= 0; i--)
        {
            PrefillJob job = _prefilling[i];
            if (!job.Request.CancellationToken.IsCancellationRequested) continue;
            _prefilling.RemoveAt(i);
            foreach (int s in job.Slots) Free(s);
            Cancel(job.Request);
        }
        for (int i = _running.Count - 1; i >= 0; i--)
        {
            Running r = _running[i];
            if (!r.Request.CancellationToken.IsCancellationRequested) continue;
            _running.RemoveAt(i);
            Free(r.Slot);
            Cancel(r.Request);
        }
    }

    private void Admit()
    {
        while (true)
        {
            GenerationRequest request;
            lock (_waiting)
            {
                if (_waiting.Count == 0 || _free.Count < _waiting.Peek().N) return;
                request = _waiting.Dequeue();
                _queued = _waiting.Count;
            }
            var slots = new int[request.N];
            for (int i = 0; i < slots.Length; i++) slots[i] = _free.Pop();
            _busySlots = Options.Slots - _free.Count;
            var job = new PrefillJob(request, slots);
            try
            {
                int slot = slots[0];
                _engine.Reset(slot);
                int reused = _prefix?.StartFrom(request.Prompt, slot) ?? 0;
                _engine.SetSampling(request.Sampling, slot);
                job.Offset = reused;
                job.SnapshotAt = _prefix?.PlanSnapshot(request.Prompt, reused) ?? 0;
                request.ReusedPrefixTokens = reused;
                Interlocked.Add(ref _reused, reused);
                _metrics?.ReusedPrefixTokens.Inc(reused);
                _metrics?.PromptTokens.Inc(request.Prompt.Length);
            }
            catch (JetException e)
            {
                foreach (int s in slots) Free(s);
                request.Writer.TryComplete(e);
                continue;
            }
            _prefilling.Add(job);
        }
    }

    private bool PrefillStep()
    {
        if (_prefilling.Count == 0) return false;
        PrefillJob job = _prefilling[0];
        GenerationRequest request = job.Request;
        int[] prompt = request.Prompt;
        try
        {
            if (job.Offset < prompt.Length)
            {
                int end = Math.Min(job.Offset + _engine.PrefillChunk, prompt.Length);
                if (job.SnapshotAt > job.Offset) end = Math.Min(end, job.SnapshotAt);
                _engine.Prefill(prompt.AsSpan(job.Offset, end - job.Offset), job.Slots[0], _stop.Token);
                Interlocked.Add(ref _prefilled, end - job.Offset);
                _metrics?.PrefilledTokens.Inc(end - job.Offset);
                job.Offset = end;
                if (end == job.SnapshotAt) _prefix?.Store(prompt.AsSpan(0, end), job.Slots[0]);
                if (end < prompt.Length) return true;
            }
            _prefilling.RemoveAt(0);
            for (int i = 1; i < job.Slots.Length; i++)
            {
                _engine.CopySequence(job.Slots[0], job.Slots[i]);
                _engine.SetSampling(request.Sampling with { Seed = request.Sampling.Seed + (ulong)i }, job.Slots[i]);
            }
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < job.Slots.Length; i++)
            {
                int token = _engine.SampleNext(job.Slots[i], out float logprob);
                var options = new JetGenerationOptions { MaxTokens = request.Limits.MaxTokens, StopStrings = request.Limits.StopStrings };
                var state = new JetGeneration(_tokenizer, options, request.Limits.StopTokens, request.Limits.MaxTokens);
                var run = new Running(request, i, job.Slots[i], state, prompt.Length);
                _running.Add(run);
                Deliver(run, token, logprob, now);
            }
        }
        catch (JetException e)
        {
            // This request's prompt failed (e.g. a token out of range): it alone ends.
            _prefilling.Remove(job);
            _running.RemoveAll(r => r.Request == request);
            foreach (int s in job.Slots) Free(s);
            request.Writer.TryComplete(e);
        }
        return true;
    }

    private bool DecodeStep()
    {
        int n = _running.Count;
        if (n == 0) return false;
        if (_seqs.Length < n)
        {
            int size = Math.Max(n, Options.Slots);
            _seqs = new int[size];
            _tokens = new int[size];
            _next = new int[size];
            _logprobs = new float[size];
        }
        for (int i = 0; i < n; i++)
        {
            _seqs[i] = _running[i].Slot;
            _tokens[i] = _running[i].Pending;
        }
        try
        {
            _engine.DecodeSample(_seqs.AsSpan(0, n), _tokens.AsSpan(0, n), _next.AsSpan(0, n), _logprobs.AsSpan(0, n), _stop.Token);
        }
        catch (JetException e)
        {
            // A failed step is atomic in the engine; its sequences cannot go on: each request ends with the error.
            foreach (Running r in _running.ToArray())
            {
                _running.Remove(r);
                Free(r.Slot);
                r.Request.Writer.TryComplete(e);
            }
            return true;
        }
        Interlocked.Increment(ref _steps);
        long now = Stopwatch.GetTimestamp();
        Running[] batch = _running.GetRange(0, n).ToArray();
        for (int i = 0; i < n; i++)
        {
            batch[i].Position++;
            Deliver(batch[i], _next[i], _logprobs[i], now);
        }
        return true;
    }

    /// <summary>Hands a sampled token to its request; ends the choice at a stop, the token limit or a full context.</summary>
    private void Deliver(Running run, int token, float logprob, long now)
    {
        GenerationRequest request = run.Request;
        if (!request.FirstTokenSeen)
        {
            request.FirstTokenSeen = true;
            _metrics?.TimeToFirstToken.Observe(Stopwatch.GetElapsedTime(request.EnqueuedTimestamp, now).TotalSeconds);
        }
        else if (run.LastToken != 0)
        {
            _metrics?.InterTokenLatency.Observe(Stopwatch.GetElapsedTime(run.LastToken, now).TotalSeconds);
        }
        run.LastToken = now;
        run.Pending = token;
        _metrics?.GeneratedTokens.Inc();
        _rateTokens++;
        string text = run.Text.Append(token, logprob);
        request.Writer.TryWrite(new TokenEvent(run.Choice, token, text, logprob));
        if (!run.Text.IsFinished && run.Position < _engine.Context) return;
        string rest = run.Text.Finish(JetFinishReason.Length);  // "" when it already finished
        string reason = run.Text.FinishReason == JetFinishReason.Length ? "length" : "stop";
        request.Writer.TryWrite(new FinishEvent(run.Choice, reason, rest, run.Text.Count));
        _running.Remove(run);
        Free(run.Slot);
        if (++request.FinishedChoices == request.N)
            request.Writer.TryComplete();
    }

    private void Free(int slot)
    {
        _free.Push(slot);
        _busySlots = Options.Slots - _free.Count;
    }

    private static void Cancel(GenerationRequest request) =>
        request.Writer.TryComplete(new OperationCanceledException(request.CancellationToken));

    private void FailAll(Exception e)
    {
        lock (_waiting)
        {
            while (_waiting.Count > 0) _waiting.Dequeue().Writer.TryComplete(e);
            _queued = 0;
        }
        foreach (PrefillJob job in _prefilling) job.Request.Writer.TryComplete(e);
        foreach (Running r in _running) r.Request.Writer.TryComplete(e);
        _prefilling.Clear();
        _running.Clear();
    }

    private void UpdateGauges()
    {
        if (_metrics is null) return;
        _metrics.QueueDepth.WithLabels(_name).Set(_queued);
        _metrics.RunningSequences.WithLabels(_name).Set(_busySlots);
        _metrics.FreeSlots.WithLabels(_name).Set(Options.Slots - _busySlots);
        double seconds = Stopwatch.GetElapsedTime(_rateStart).TotalSeconds;
        if (seconds >= 1 || (_rateTokens == 0 && _running.Count == 0))
        {
            _metrics.TokensPerSecond.WithLabels(_name).Set(seconds > 0 ? _rateTokens / seconds : 0);
            _rateTokens = 0;
            _rateStart = Stopwatch.GetTimestamp();
        }
    }
}
