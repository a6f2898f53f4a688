using System.Threading.Channels;

namespace JetNative.Server.Scheduling;

/// <summary>
/// One request to a <see cref="BatchScheduler"/>: a tokenized prompt, <see cref="N"/> choices to
/// generate from it, and the channel the scheduler writes their tokens to. The channel completes
/// when every choice has finished, or with an exception (cancelled, timed out, engine failure).
/// </summary>
public sealed class GenerationRequest
{
    private readonly Channel<GenerationEvent> _events = Channel.CreateUnbounded<GenerationEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>A request for <paramref name="prompt"/> (not empty).</summary>
    public GenerationRequest(int[] prompt, GenerationLimits limits, JetSamplingOptions sampling, int n = 1,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(sampling);
        if (prompt.Length == 0) throw new ArgumentException("the prompt is empty", nameof(prompt));
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        Prompt = prompt;
        Limits = limits;
        Sampling = sampling;
        N = n;
        CancellationToken = cancellationToken;
    }

    /// <summary>The prompt's token ids.</summary>
    public int[] Prompt { get; }

    /// <summary>Stop tokens and strings, the token limit.</summary>
    public GenerationLimits Limits { get; }

    /// <summary>Sampling of choice 0; choice i gets the seed plus i.</summary>
    public JetSamplingOptions Sampling { get; }

    /// <summary>Choices (sequences) generated from the prompt.</summary>
    public int N { get; }

    /// <summary>Cancelled when the client goes away or the request times out: the scheduler frees its slots at its next step.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>What the scheduler produces, in order.</summary>
    public ChannelReader<GenerationEvent> Events => _events.Reader;

    /// <summary>When it was queued.</summary>
    public long EnqueuedTimestamp { get; internal set; }

    /// <summary>Prompt tokens taken from a prefix snapshot instead of prefilled (set at admission).</summary>
    public int ReusedPrefixTokens { get; internal set; }

    internal ChannelWriter<GenerationEvent> Writer => _events.Writer;

    internal int FinishedChoices;
    internal bool FirstTokenSeen;
}

/// <summary>How a choice's generation ends: stop tokens, stop strings, a token limit.</summary>
/// <param name="MaxTokens">Tokens at most (the context may end it earlier, with "length").</param>
/// <param name="StopTokens">Token ids that end it (not part of the text).</param>
/// <param name="StopStrings">Strings that end it (not part of the text).</param>
public sealed record GenerationLimits(int MaxTokens, IReadOnlyCollection<int> StopTokens, IReadOnlyList<string> StopStrings);

/// <summary>Something the scheduler tells a request.</summary>
public abstract record GenerationEvent(int Choice);

/// <summary>A generated token of choice <paramref name="Choice"/> and the text it completes (may be empty: held back for a stop string or an unfinished UTF-8 character).</summary>
public sealed record TokenEvent(int Choice, int Token, string Text, float Logprob) : GenerationEvent(Choice);

/// <summary>Choice <paramref name="Choice"/> ended: "stop" or "length"; <paramref name="Text"/> is the text left to emit.</summary>
public sealed record FinishEvent(int Choice, string Reason, string Text, int CompletionTokens) : GenerationEvent(Choice);
