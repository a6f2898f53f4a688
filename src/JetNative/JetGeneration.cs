using JetNative.Tokenization;

namespace JetNative;

/// <summary>
/// The state of one sequence's generation, separate from the loop that drives it: fed the sampled
/// token ids (and their log-probabilities) one at a time with <see cref="Append"/>, it returns the
/// text each token completes (UTF-8-safe: never half a character; text that could begin a stop
/// string is held back until it is known not to), counts the tokens, and ends with a
/// <see cref="FinishReason"/>: a stop token or stop string (<see cref="JetFinishReason.Stop"/>),
/// the length limit (<see cref="JetFinishReason.Length"/>: MaxTokens or the end of the context), or
/// <see cref="Finish"/> (e.g. <see cref="JetFinishReason.Cancelled"/>).
/// </summary>
/// <remarks>
/// <para>It never calls the engine, so any loop can drive it: <see cref="JetSession.Generate"/> is
/// the single-sequence driver over the engine's sampling calls; a batched server keeps one state per
/// sequence and feeds each the id that <see cref="JetSession.DecodeSample(ReadOnlySpan{int}, ReadOnlySpan{int}, Span{int}, Span{float}, CancellationToken)"/>
/// returned for it. A driver's loop for one sequence <c>seq</c> (what <see cref="JetSession.Generate"/> does):</para>
/// <code>
/// session.SetSampling(options.Sampling, seq);                 // a null seed draws a random one
/// session.Prefill(prompt, seq, JetLogitsMode.None, default);
/// var g = new JetGeneration(model, options, room: session.Context - session.GetPosition(seq));
/// if (!g.IsFinished)
///     emit(g.Append(session.SampleNext(seq, out float lp), lp));   // the first token, from the prefill's logits
/// Span&lt;int&gt; next = stackalloc int[1]; Span&lt;float&gt; lps = stackalloc float[1];
/// while (!g.IsFinished)
/// {
///     session.DecodeSample([seq], [g.LastToken], next, lps);      // appends the last token, samples the next
///     emit(g.Append(next[0], lps[0]));
/// }
/// if (g.Count > 0) session.Decode(g.LastToken, seq);  // optional: the sequence then holds every generated token
/// </code>
/// <para>With room = context - position, every generated token fits into the sequence, so that last
/// decode never overflows. A batched loop does the same for many sequences, one state each, with
/// one <c>DecodeSample</c> call for all the running ones; a sequence leaves the batch when its state
/// finishes.</para>
/// <para>Not thread-safe: one driver at a time.</para>
/// </remarks>
public sealed class JetGeneration
{
    /// <summary>The value of <see cref="JetGenerationOptions.MaxTokens"/> that means "until a stop or the end of the context".</summary>
    public const int UntilContextEnd = -1;

    private readonly HashSet<int> _stopTokens;
    private readonly string[] _stopStrings;
    private readonly StreamingDecoder? _decoder;
    private readonly List<int> _tokens = [];
    private readonly List<float> _logprobs = [];
    private readonly System.Text.StringBuilder _text = new();
    private string _pending = "";

    /// <summary>
    /// Starts the state of one generation of <paramref name="model"/> (its tokenizer decodes the text
    /// and gives the end-of-sequence tokens; a model without one yields no text and refuses stop
    /// strings). <paramref name="room"/> is how many tokens the sequence can still take after its
    /// prompt (context minus position): the generation ends with <see cref="JetFinishReason.Length"/>
    /// there, so that every generated token fits into the sequence; 0 ends it at once.
    /// Throws ArgumentOutOfRangeException for a MaxTokens other than &gt; 0 or
    /// <see cref="UntilContextEnd"/> (-1), or a negative room.
    /// </summary>
    public JetGeneration(JetModel model, JetGenerationOptions options, int room)
        : this(TokenizerFor(model, options), options, StopTokensFor(model, options), room)
    {
    }

    /// <summary>
    /// The state with its text side given directly: <paramref name="tokenizer"/> (null: no text)
    /// and every token that stops it (a batched driver such as the server resolves the
    /// end-of-sequence tokens once for all its sequences).
    /// </summary>
    internal JetGeneration(JetTokenizer? tokenizer, JetGenerationOptions options, IEnumerable<int> stopTokens, int room)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stopTokens);
        ValidateMaxTokens(options.MaxTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(room);
        Options = options;
        _stopTokens = [.. stopTokens];
        _stopStrings = options.StopStrings.Where(s => !string.IsNullOrEmpty(s)).ToArray();
        if (tokenizer is null && _stopStrings.Length > 0)
            throw new InvalidOperationException("there is no tokenizer (tokenizer.json), so it cannot stop at stop strings");
        _decoder = tokenizer?.CreateStreamingDecoder(skipSpecial: true);
        MaxTokens = options.MaxTokens == UntilContextEnd ? room : Math.Min(options.MaxTokens, room);
        if (MaxTokens == 0)
            FinishReason = JetFinishReason.Length;
    }

    /// <summary>The options it runs with.</summary>
    public JetGenerationOptions Options { get; }

    /// <summary>The most tokens it generates: MaxTokens, capped by the room in the sequence.</summary>
    public int MaxTokens { get; }

    /// <summary>The generated token ids, the stop token that ended it included.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>Each generated token's log-probability under the model (NaN where the driver gave none).</summary>
    public IReadOnlyList<float> Logprobs => _logprobs;

    /// <summary>Tokens generated so far (the usage figure: a stop token counts).</summary>
    public int Count => _tokens.Count;

    /// <summary>The last generated token (the one a driver decodes next); -1 before the first.</summary>
    public int LastToken => _tokens.Count > 0 ? _tokens[^1] : -1;

    /// <summary>The text returned so far (by <see cref="Append"/> and <see cref="Finish"/>).</summary>
    public string Text => _text.ToString();

    /// <summary>Why it ended; null while it runs.</summary>
    public JetFinishReason? FinishReason { get; private set; }

    /// <summary>True once it ended: feed it no more tokens.</summary>
    public bool IsFinished => FinishReason is not null;

    /// <summary>
    /// Adds the next sampled token and returns the text that can be shown now (often empty: part of
    /// a character, or text that may begin a stop string). Afterwards <see cref="IsFinished"/> says
    /// whether it ended: at a stop token (no text for it), at a stop string (the text before it is
    /// returned, the rest is dropped) or at the length limit (the held-back text is returned).
    /// Throws InvalidOperationException once finished.
    /// </summary>
    public string Append(int token, float logprob = float.NaN)
    {
        if (IsFinished)
            throw new InvalidOperationException($"the generation has finished ({FinishReason}); it takes no more tokens");
        _tokens.Add(token);
        _logprobs.Add(logprob);
        if (_stopTokens.Contains(token))
            return End(JetFinishReason.Stop);
        if (_decoder is not null)
            _pending += _decoder.Append(token);
        (string emit, bool stopped) = SplitAtStop(ref _pending, _stopStrings, final: false);
        if (stopped)
        {
            FinishReason = JetFinishReason.Stop;
            return Emit(emit);
        }
        if (_tokens.Count >= MaxTokens)
            return Emit(emit) + End(JetFinishReason.Length);
        return Emit(emit);
    }

    /// <summary>
    /// Ends the generation early with <paramref name="reason"/> (a driver's cancellation, a
    /// timeout) and returns the text still held back. Does nothing and returns "" when it has
    /// already finished.
    /// </summary>
    public string Finish(JetFinishReason reason)
    {
        if (IsFinished)
            return "";
        return End(reason);
    }

    private string End(JetFinishReason reason)
    {
        FinishReason = reason;
        if (_decoder is not null)
            _pending += _decoder.Flush();
        (string rest, bool stopped) = SplitAtStop(ref _pending, _stopStrings, final: true);
        if (stopped && reason == JetFinishReason.Length)
            FinishReason = JetFinishReason.Stop;
        return Emit(rest);
    }

    private string Emit(string text)
    {
        _text.Append(text);
        return text;
    }

    private static JetTokenizer? TokenizerFor(JetModel model, JetGenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (model.Tokenizer is null && options.StopStrings.Any(s => !string.IsNullOrEmpty(s)))
            throw new InvalidOperationException(
                $"the model{(model.Folder is null ? "" : " in " + model.Folder)} has no tokenizer (tokenizer.json), so it cannot stop at stop strings");
        return model.Tokenizer;
    }

    /// <summary>Throws ArgumentOutOfRangeException unless <paramref name="maxTokens"/> is &gt; 0 or <see cref="UntilContextEnd"/>.</summary>
    internal static void ValidateMaxTokens(int maxTokens)
    {
        if (maxTokens <= 0 && maxTokens != UntilContextEnd)
            throw new ArgumentOutOfRangeException(nameof(JetGenerationOptions.MaxTokens), maxTokens,
                $"MaxTokens must be > 0, or {UntilContextEnd} to generate until a stop or the end of the context; it is {maxTokens}");
    }

    /// <summary>The token ids that end a generation: the options' own, plus the model's end-of-sequence ones when asked.</summary>
    internal static int[] StopTokensFor(JetModel model, JetGenerationOptions options)
    {
        var stops = new List<int>(options.StopTokens);
        if (options.StopAtEndOfSequence)
        {
            if (model.Info.EosTokenId is int eos)
                stops.Add(eos);
            if (model.Tokenizer is { } tokenizer)
                stops.AddRange(tokenizer.StopTokenIds);
        }
        return stops.Distinct().ToArray();
    }

    /// <summary>
    /// The part of <paramref name="pending"/> that can be emitted: up to a stop string (then stopped),
    /// else all but the longest tail that could begin a stop string (kept in pending; all of it when
    /// <paramref name="final"/>).
    /// </summary>
    internal static (string Emit, bool Stopped) SplitAtStop(ref string pending, IReadOnlyList<string> stopStrings, bool final)
    {
        int first = -1;
        foreach (string stop in stopStrings)
        {
            int at = pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
                first = at;
        }
        if (first >= 0)
        {
            string before = pending[..first];
            pending = "";
            return (before, true);
        }
        int hold = 0;
        if (!final)
        {
            foreach (string stop in stopStrings)
            {
                for (int k = Math.Min(stop.Length - 1, pending.Length); k > hold; k--)
                {
                    if (pending.AsSpan(pending.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                    {
                        hold = k;
                        break;
                    }
                }
            }
        }
        string emit = pending[..(pending.Length - hold)];
        pending = pending[(pending.Length - hold)..];
        return (emit, false);
    }
}
