using System.Text;
using JetNative.Server.Scheduling;
using JetNative.Server.Tests.Support;
using Xunit;

namespace JetNative.Server.Tests.Scheduling;

/// <summary>The scheduler over a fake engine: admission, FIFO fairness, interleaved prefill, cancellation, drain, n, prefix reuse.</summary>
public sealed class BatchSchedulerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static GenerationRequest Request(int promptLength, int maxTokens, int n = 1, int first = 400, CancellationToken ct = default,
        ulong seed = 1) =>
        new(Enumerable.Range(first, promptLength).ToArray(), new GenerationLimits(maxTokens, [4093], []),
            new JetSamplingOptions { Seed = seed }, n, ct);

    private static async Task<(string Text, string Reason, int Tokens)[]> CollectAsync(GenerationRequest r)
    {
        var text = new StringBuilder[r.N];
        var result = new (string, string, int)[r.N];
        for (int i = 0; i < r.N; i++) text[i] = new StringBuilder();
        await foreach (GenerationEvent e in r.Events.ReadAllAsync(TestContext.Current.CancellationToken))
        {
            if (e is TokenEvent t) text[t.Choice].Append(t.Text);
            if (e is FinishEvent f) result[f.Choice] = (text[f.Choice].Append(f.Text).ToString(), f.Reason, f.CompletionTokens);
        }
        return result;
    }

    private static BatchScheduler Scheduler(FakeEngine engine, int slots, int prefixSlots = 0, int maxQueue = 64) =>
        new(engine, ServerTestModels.Tokenizer, new SchedulerOptions { Slots = slots, PrefixSlots = prefixSlots, MaxQueue = maxQueue, MinPrefixTokens = 8 });

    [Fact]
    public async Task RequestsInFreeSlotsAreDecodedInOneBatch()
    {
        var engine = new FakeEngine(4);
        using var scheduler = Scheduler(engine, 4);
        engine.StepDelay = TimeSpan.FromMilliseconds(2);
        GenerationRequest[] requests = [.. Enumerable.Range(0, 4).Select(i => Request(5, 6, first: 400 + i))];
        foreach (GenerationRequest r in requests) Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(r));
        foreach (GenerationRequest r in requests)
        {
            var (text, reason, tokens) = (await CollectAsync(r))[0];
            Assert.Equal("length", reason);
            Assert.Equal(6, tokens);
            Assert.NotEmpty(text);
        }
        Assert.Contains(engine.Log, l => l.StartsWith("decode ", StringComparison.Ordinal) && l.Split(' ')[1].Split(',').Length == 4);
        await scheduler.WaitIdleAsync(Ct);
        Assert.Equal(0, scheduler.BusySlots);
    }

    [Fact]
    public async Task AdmissionIsFifoAndALargeRequestIsNotOvertaken()
    {
        var engine = new FakeEngine(2) { StepDelay = TimeSpan.FromMilliseconds(2) };
        using var scheduler = Scheduler(engine, 2);
        GenerationRequest a = Request(3, 20, first: 500);        // holds one slot for a while
        GenerationRequest b = Request(3, 3, n: 2, first: 600);   // needs both slots
        GenerationRequest c = Request(3, 3, first: 700);         // would fit next to a, but must wait for b
        scheduler.TryEnqueue(a);
        scheduler.TryEnqueue(b);
        scheduler.TryEnqueue(c);
        await Task.WhenAll(CollectAsync(a), CollectAsync(b), CollectAsync(c));
        // The prefills (one chunk each here) come in queue order: a in slot 0, b in slot 1 (after a), c after b.
        string[] prefills = [.. engine.Log.Where(l => l.StartsWith("prefill", StringComparison.Ordinal))];
        Assert.Equal(3, prefills.Length);
        int bCopy = Array.FindIndex(engine.Log, l => l.StartsWith("copy", StringComparison.Ordinal));
        int cPrefill = Array.LastIndexOf(engine.Log, prefills[2]);
        Assert.True(bCopy >= 0 && bCopy < cPrefill, string.Join(" | ", engine.Log));
    }

    [Fact]
    public async Task ALongPromptIsPrefilledOneChunkPerStepBetweenDecodeSteps()
    {
        var engine = new FakeEngine(2, prefillChunk: 4) { StepDelay = TimeSpan.FromMilliseconds(1) };
        using var scheduler = Scheduler(engine, 2);
        GenerationRequest a = Request(2, 60, first: 500);
        scheduler.TryEnqueue(a);
        await a.Events.WaitToReadAsync(Ct);  // a is decoding
        GenerationRequest b = Request(40, 2, first: 600);
        scheduler.TryEnqueue(b);
        await Task.WhenAll(CollectAsync(a), CollectAsync(b));
        string[] log = engine.Log;
        int[] chunks = [.. log.Select((l, i) => (l, i)).Where(x => x.l == "prefill 1 4").Select(x => x.i)];
        Assert.Equal(10, chunks.Length);
        for (int k = 1; k < chunks.Length; k++)
        {
            // Between two chunks of b, a decode step of a ran: the running batch never waits for more than one chunk.
            Assert.Contains(log[chunks[k - 1]..chunks[k]], l => l.StartsWith("decode 0", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task CancellingARequestFreesItsSlotForTheNext()
    {
        var engine = new FakeEngine(1) { StepDelay = TimeSpan.FromMilliseconds(2) };
        using var scheduler = Scheduler(engine, 1);
        using var cts = new CancellationTokenSource();
        GenerationRequest a = Request(3, 100_000, ct: cts.Token);
        GenerationRequest b = Request(3, 4, first: 700);
        scheduler.TryEnqueue(a);
        scheduler.TryEnqueue(b);
        await a.Events.WaitToReadAsync(Ct);
        Assert.Equal(1, scheduler.BusySlots);
        Assert.Equal(1, scheduler.QueueDepth);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CollectAsync(a));
        Assert.Equal("length", (await CollectAsync(b))[0].Reason);
        await scheduler.WaitIdleAsync(Ct);
        Assert.Equal(0, scheduler.BusySlots);
        Assert.Equal(0, scheduler.QueueDepth);
    }

    [Fact]
    public async Task AQueuedRequestThatIsCancelledLeavesTheQueue()
    {
        var engine = new FakeEngine(1) { StepDelay = TimeSpan.FromMilliseconds(2) };
        using var scheduler = Scheduler(engine, 1, maxQueue: 1);
        GenerationRequest a = Request(3, 30);
        using var cts = new CancellationTokenSource();
        GenerationRequest b = Request(3, 4, ct: cts.Token);
        scheduler.TryEnqueue(a);
        await a.Events.WaitToReadAsync(Ct);
        Assert.Equal(EnqueueResult.Accepted, scheduler.TryEnqueue(b));
        Assert.Equal(EnqueueResult.QueueFull, scheduler.TryEnqueue(Request(3, 4)));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CollectAsync(b));
        Assert.Equal(0, scheduler.QueueDepth);
        await CollectAsync(a);
    }

    [Fact]
    public async Task DrainRefusesNewRequestsAndFinishesRunningOnes()
    {
        var engine = new FakeEngine(2) { StepDelay = TimeSpan.FromMilliseconds(2) };
        var scheduler = Scheduler(engine, 2);
        GenerationRequest a = Request(3, 10);
        scheduler.TryEnqueue(a);
        scheduler.BeginDrain();
        Assert.Equal(EnqueueResult.Draining, scheduler.TryEnqueue(Request(3, 4)));
        Assert.Equal(10, (await CollectAsync(a))[0].Tokens);
        await scheduler.WaitIdleAsync(Ct);
        scheduler.Dispose();
        Assert.True(engine.Disposed);
    }

    [Fact]
    public async Task SeveralChoicesPrefillOnceAndCopyWithTheirOwnSeeds()
    {
        var engine = new FakeEngine(3);
        using var scheduler = Scheduler(engine, 3);
        GenerationRequest r = Request(10, 5, n: 3, seed: 42);
        scheduler.TryEnqueue(r);
        var choices = await CollectAsync(r);
        Assert.All(choices, c => Assert.Equal(5, c.Tokens));
        string[] prefills = [.. engine.Log.Where(l => l.StartsWith("prefill", StringComparison.Ordinal))];
        Assert.Equal(["prefill 0 8", "prefill 0 2"], prefills);  // the prompt once, in chunks of 8
        Assert.Equal(2, engine.Log.Count(l => l.StartsWith("copy", StringComparison.Ordinal)));
        Assert.Equal([42ul, 43ul, 44ul], engine.Seeds.Select(s => s!.Value));
        Assert.Equal(EnqueueResult.TooManyChoices, scheduler.TryEnqueue(Request(3, 3, n: 4)));
    }

    [Fact]
    public async Task TheContextEndsAGenerationWithLength()
    {
        var engine = new FakeEngine(1, context: 10);
        using var scheduler = Scheduler(engine, 1);
        GenerationRequest r = Request(8, 1000);
        scheduler.TryEnqueue(r);
        var (_, reason, tokens) = (await CollectAsync(r))[0];
        Assert.Equal("length", reason);
        Assert.Equal(3, tokens);  // sampled after the prompt, then two decodes fill positions 9 and 10
    }

    [Fact]
    public async Task PrefixSnapshotsGiveTheSameTextWithFewerPrefilledTokens()
    {
        int[] shared = [.. Enumerable.Range(400, 30)];
        GenerationRequest Make(int tail) => new([.. shared, .. Enumerable.Range(900 + tail * 10, 5)],
            new GenerationLimits(6, [4093], []), new JetSamplingOptions { Seed = 1 });

        async Task<(string[] Texts, long Prefilled, long Reused)> Run(int prefixSlots)
        {
            var engine = new FakeEngine(2 + prefixSlots);
            using var scheduler = Scheduler(engine, 2, prefixSlots);
            var texts = new List<string>();
            for (int i = 0; i < 4; i++)
            {
                GenerationRequest r = Make(i);
                scheduler.TryEnqueue(r);
                texts.Add((await CollectAsync(r))[0].Text);
            }
            return ([.. texts], scheduler.PrefilledTokens, scheduler.ReusedPrefixTokens);
        }

        var plain = await Run(0);
        var reused = await Run(2);
        Assert.Equal(plain.Texts, reused.Texts);  // the state copied from the snapshot is the prefilled one
        Assert.Equal(4 * 35, plain.Prefilled);
        Assert.Equal(2 * 30, reused.Reused);       // the 2nd request takes the snapshot, the 3rd and 4th start from it
        Assert.Equal(4 * 35 - 2 * 30, reused.Prefilled);
    }
}
