using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using JetNative.Interop;
using JetNative.Tokenization;

namespace JetNative;

/// <summary>
/// The cache of one or more sequences on a <see cref="JetModel"/>: prefill, decode, sample,
/// generate. A session is used by one call at a time (a second concurrent call throws
/// InvalidOperationException); use several sessions, or <see cref="Fork"/>, for parallel work.
/// Logits returned as spans stay valid until the next call on the session.
/// </summary>
public sealed class JetSession : IDisposable
{
    internal readonly JetSessionHandle Handle;
    private int _owner;  // managed thread id of the call running on the session; 0: none
    private int _depth;  // calls nested in it on the same thread (a generation's steps)
    private float[] _logits = [];
    private int _lastRowOffset = -1;

    internal JetSession(JetModel model, JetSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (options.Sequences < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Sequences, "Sequences must be >= 1");
        if (options.Context < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Context, "Context must be >= 0 (0 = the model's maximum)");
        if (options.PrefillChunk < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.PrefillChunk, "PrefillChunk must be >= 0 (0 = the device's default)");
        Model = model;
        Options = options;
        unsafe
        {
            NativeSessionParams p;
            NativeMethods.jet_session_default_params(&p);
            p.Size = (uint)sizeof(NativeSessionParams);
            p.NSeq = options.Sequences;
            p.NCtx = options.Context;
            p.PrefillChunk = options.PrefillChunk;
            p.AllowLongContext = options.AllowLongContext ? 1 : 0;
            JetStatus status = NativeMethods.jet_session_create(model.Handle, &p, out Handle);
            if (status != JetStatus.Ok)
            {
                Handle.Dispose();
                JetException.Check(status);
            }
        }
        Handle.KeepAlive(model.Handle);
    }

    private JetSession(JetModel model, JetSessionOptions options, JetSessionHandle handle)
    {
        Model = model;
        Options = options;
        Handle = handle;
        Handle.KeepAlive(model.Handle);
    }

    /// <summary>The model this session runs.</summary>
    public JetModel Model { get; }

    /// <summary>The options it was created with.</summary>
    public JetSessionOptions Options { get; }

    /// <summary>Sequences (batch slots).</summary>
    public int Sequences => Options.Sequences;

    /// <summary>Maximum tokens per sequence.</summary>
    public int Context => Options.Context > 0 ? Options.Context : Model.Info.MaxPositionEmbeddings;

    /// <summary>Receives prefill progress in [0, 1] (chunk by chunk), on the calling thread.</summary>
    public IProgress<float>? PrefillProgress { get; set; }

    /// <summary>Tokens held by sequence 0.</summary>
    public int Position => GetPosition(0);

    /// <summary>Tokens held by sequence <paramref name="sequence"/>.</summary>
    public unsafe int GetPosition(int sequence)
    {
        int position;
        JetException.Check(NativeMethods.jet_session_position(Handle, sequence, &position));
        return position;
    }

    /// <summary>Cache bytes the session allocated in total.</summary>
    public long CacheBytes => ReadCacheBytes().Total;

    /// <summary>Attention KV bytes per token of context per sequence (JetBlock states are fixed-size).</summary>
    public long CacheBytesPerToken => ReadCacheBytes().PerToken;

    private unsafe (long Total, long PerToken) ReadCacheBytes()
    {
        long total, perToken;
        JetException.Check(NativeMethods.jet_session_cache_bytes(Handle, &total, &perToken));
        return (total, perToken);
    }

    /// <summary>
    /// The logits row of the last single-sequence prefill or decode (empty before any).
    /// </summary>
    public ReadOnlySpan<float> Logits =>
        _lastRowOffset < 0 ? default : _logits.AsSpan(_lastRowOffset, Model.Info.VocabSize);

    // ---------------------------------------------------------------- calls

    /// <summary>
    /// Appends <paramref name="tokens"/> to <paramref name="sequence"/> and returns the logits of the
    /// last token. Throws JetException: ContextFull (nothing appended), InvalidArgument (a token out
    /// of range); OperationCanceledException when cancelled (the sequence is then reset).
    /// </summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int sequence = 0, CancellationToken cancellationToken = default)
    {
        int vocab = Model.Info.VocabSize;
        EnsureBuffer(vocab);
        Prefill(tokens, sequence, JetLogitsMode.Last, _logits.AsSpan(0, vocab), cancellationToken);
        _lastRowOffset = 0;
        return _logits.AsSpan(0, vocab);
    }

    /// <summary>Like <see cref="Prefill(ReadOnlySpan{int}, int, CancellationToken)"/>, returning the logits of every token: [tokens, vocab] row-major.</summary>
    public float[] PrefillAllLogits(ReadOnlySpan<int> tokens, int sequence = 0, CancellationToken cancellationToken = default)
    {
        var all = new float[checked(tokens.Length * Model.Info.VocabSize)];
        Prefill(tokens, sequence, JetLogitsMode.All, all, cancellationToken);
        return all;
    }

    /// <summary>
    /// Appends <paramref name="tokens"/> and writes logits as <paramref name="mode"/> says into
    /// <paramref name="logits"/> (None: may be empty; Last: vocab floats; All: tokens * vocab).
    /// </summary>
    public unsafe void Prefill(ReadOnlySpan<int> tokens, int sequence, JetLogitsMode mode, Span<float> logits,
        CancellationToken cancellationToken = default)
    {
        long needed = mode switch
        {
            JetLogitsMode.None => 0,
            JetLogitsMode.Last => Model.Info.VocabSize,
            JetLogitsMode.All => (long)tokens.Length * Model.Info.VocabSize,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown logits mode"),
        };
        if (logits.Length < needed)
            throw new ArgumentException($"the logits buffer holds {logits.Length} floats, {needed} are needed", nameof(logits));
        var state = new CallbackState { Progress = PrefillProgress, CancellationToken = cancellationToken };
        using var call = Enter(state, cancellationToken);
        _lastRowOffset = -1;
        JetStatus status;
        NativeRunOptions run = call.RunOptions;
        fixed (int* t = tokens)
        fixed (float* l = logits)
        {
            status = NativeMethods.jet_session_prefill(Handle, sequence, t, tokens.Length, (int)mode,
                mode == JetLogitsMode.None ? null : l, &run);
        }
        call.Check(status);
    }

    /// <summary>One decode step on one sequence; returns its logits.</summary>
    public ReadOnlySpan<float> Decode(int token, int sequence = 0, CancellationToken cancellationToken = default)
    {
        DecodeCore([sequence], [token], cancellationToken);
        return _logits.AsSpan(0, Model.Info.VocabSize);
    }

    /// <summary>
    /// One decode step for a batch: appends tokens[i] to sequences[i] (distinct) and returns the
    /// logits [n, vocab] row-major.
    /// </summary>
    public ReadOnlySpan<float> Decode(ReadOnlySpan<int> sequences, ReadOnlySpan<int> tokens,
        CancellationToken cancellationToken = default)
    {
        DecodeCore(sequences, tokens, cancellationToken);
        return _logits.AsSpan(0, tokens.Length * Model.Info.VocabSize);
    }

    /// <summary>A decode step's batch: one token per sequence, at least one.</summary>
    private static void CheckBatch(ReadOnlySpan<int> sequences, ReadOnlySpan<int> tokens)
    {
        if (sequences.Length != tokens.Length)
            throw new ArgumentException($"{sequences.Length} sequences but {tokens.Length} tokens", nameof(tokens));
        if (tokens.IsEmpty)
            throw new ArgumentException("no tokens to decode", nameof(tokens));
    }

    private unsafe void DecodeCore(ReadOnlySpan<int> sequences, ReadOnlySpan<int> tokens, CancellationToken cancellationToken)
    {
        CheckBatch(sequences, tokens);
        int vocab = Model.Info.VocabSize;
        EnsureBuffer(checked(tokens.Length * vocab));
        var state = new CallbackState { CancellationToken = cancellationToken };
        using var call = Enter(state, cancellationToken);
        _lastRowOffset = -1;
        JetStatus status;
        NativeRunOptions run = call.RunOptions;
        fixed (int* s = sequences)
        fixed (int* t = tokens)
        fixed (float* l = _logits)
        {
            status = NativeMethods.jet_session_decode(Handle, tokens.Length, s, t, l, &run);
        }
        call.Check(status);
        _lastRowOffset = tokens.Length == 1 ? 0 : -1;
    }

    /// <summary>
    /// Samples a token from <see cref="Logits"/> (the last single-sequence prefill or decode) and adds
    /// it to the sampler's history.
    /// </summary>
    public int Sample(JetSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        if (_lastRowOffset < 0)
            throw new InvalidOperationException("no logits to sample from: prefill or decode one sequence first");
        int token = sampler.Sample(Logits);
        sampler.Accept(token);
        return token;
    }

    // ---------------------------------------------------------------- sampling in the engine

    /// <summary>
    /// Sets how the engine picks <paramref name="sequence"/>'s tokens in <see cref="SampleNext(int)"/>
    /// and <see cref="DecodeSample(int, int, CancellationToken)"/> (null: greedy), limited to the
    /// tokenizer's vocabulary (<see cref="JetModel.SamplingFor"/>), and reseeds it. The repetition
    /// penalty looks at the sequence's own last tokens.
    /// </summary>
    public unsafe void SetSampling(JetSamplingOptions? sampling, int sequence = 0)
    {
        using var call = Enter(new CallbackState(), default);
        if (sampling is null)
        {
            call.Check(NativeMethods.jet_session_set_sampler(Handle, sequence, null));
            return;
        }
        NativeSamplerParams p = JetSampler.ToNative(Model.SamplingFor(sampling));
        call.Check(NativeMethods.jet_session_set_sampler(Handle, sequence, &p));
    }

    /// <summary>
    /// Picks the next token of <paramref name="sequence"/> from the logits its last prefill or decode
    /// left, with the sequence's sampling (<see cref="SetSampling"/>); appends nothing.
    /// </summary>
    public int SampleNext(int sequence = 0) => SampleNext(sequence, out _);

    /// <summary>Like <see cref="SampleNext(int)"/>, also giving the token's log-probability under the model.</summary>
    public unsafe int SampleNext(int sequence, out float logprob)
    {
        using var call = Enter(new CallbackState(), default);
        int token;
        float lp;
        call.Check(NativeMethods.jet_session_sample(Handle, 1, &sequence, &token, &lp));
        logprob = lp;
        return token;
    }

    /// <summary>
    /// One decode step that samples in the engine: appends <paramref name="token"/> to
    /// <paramref name="sequence"/> and returns the token that follows it (no logits are copied). A step
    /// is atomic: cancelled before it starts, the sequence is unchanged.
    /// </summary>
    public int DecodeSample(int token, int sequence = 0, CancellationToken cancellationToken = default)
    {
        Span<int> next = stackalloc int[1];
        DecodeSample([sequence], [token], next, default, cancellationToken);
        return next[0];
    }

    /// <summary>
    /// One decode step for a batch that samples in the engine: appends tokens[i] to sequences[i]
    /// (distinct), writes each sequence's next token to <paramref name="next"/> and, when
    /// <paramref name="logprobs"/> is not empty, its log-probability under the model. On CUDA the
    /// sampling runs on the GPU and only the ids cross to the host.
    /// </summary>
    public unsafe void DecodeSample(ReadOnlySpan<int> sequences, ReadOnlySpan<int> tokens, Span<int> next,
        Span<float> logprobs = default, CancellationToken cancellationToken = default)
    {
        CheckBatch(sequences, tokens);
        if (next.Length < tokens.Length)
            throw new ArgumentException($"next holds {next.Length} ids, {tokens.Length} are needed", nameof(next));
        if (!logprobs.IsEmpty && logprobs.Length < tokens.Length)
            throw new ArgumentException($"logprobs holds {logprobs.Length} floats, {tokens.Length} are needed", nameof(logprobs));
        using var call = Enter(new CallbackState { CancellationToken = cancellationToken }, cancellationToken);
        _lastRowOffset = -1;
        JetStatus status;
        NativeRunOptions run = call.RunOptions;
        fixed (int* s = sequences)
        fixed (int* t = tokens)
        fixed (int* n = next)
        fixed (float* l = logprobs)
        {
            status = NativeMethods.jet_session_decode_sample(Handle, tokens.Length, s, t, n,
                logprobs.IsEmpty ? null : l, &run);
        }
        call.Check(status);
    }

    // ---------------------------------------------------------------- generation (the one loop)

    /// <summary>
    /// Begins a generation on <paramref name="sequence"/>: sets its sampling (a random seed when
    /// <see cref="JetSamplingOptions.Seed"/> is null), prefills <paramref name="prompt"/> (may be
    /// empty when the sequence already holds tokens and the logits of its last one, e.g. after an
    /// earlier generation) and returns the generation's state, whose room is what is left of the
    /// context. Drive it with <see cref="Generate"/>. Throws ArgumentOutOfRangeException for a bad
    /// MaxTokens, ArgumentException when there is nothing to continue (an empty prompt on an empty
    /// sequence), JetException (ContextFull) when the prompt does not fit, OperationCanceledException
    /// when cancelled during the prefill (the engine then empties the sequence).
    /// </summary>
    public JetGeneration StartGeneration(ReadOnlySpan<int> prompt, JetGenerationOptions? options = null, int sequence = 0,
        CancellationToken cancellationToken = default)
    {
        options ??= new JetGenerationOptions();
        JetGeneration.ValidateMaxTokens(options.MaxTokens);
        using var hold = Enter(new CallbackState(), cancellationToken);
        int position = GetPosition(sequence);
        if (prompt.IsEmpty && position == 0)
            throw new ArgumentException("the prompt is empty and the sequence holds no tokens: there is nothing to continue", nameof(prompt));
        if (position + prompt.Length > Context)
            throw new JetException(JetStatus.ContextFull,
                $"the prompt has {prompt.Length} tokens{(position > 0 ? $" after {position} already held" : "")}, more than the context of {Context}");
        SetSampling(options.Sampling, sequence);
        if (!prompt.IsEmpty)
            Prefill(prompt, sequence, JetLogitsMode.None, default, cancellationToken);
        return new JetGeneration(Model, options, Context - GetPosition(sequence));
    }

    /// <summary>
    /// The single-sequence driver loop: samples the next token from the sequence's logits with the
    /// engine's sampling, feeds it to <paramref name="generation"/>, and decodes-and-samples
    /// (<see cref="DecodeSample(int, int, CancellationToken)"/>) until the generation finishes;
    /// <paramref name="onToken"/> sees the state and the text piece after every token (its last
    /// token is <see cref="JetGeneration.LastToken"/>) and returns false to stop early
    /// (<see cref="JetFinishReason.Cancelled"/>). When it ends by itself or by
    /// <paramref name="onToken"/>, the last token is decoded too, so the sequence holds the prompt
    /// and every generated token (and the logits for a continuation with an empty prompt). When
    /// <paramref name="cancellationToken"/> fires, the state ends as Cancelled and
    /// OperationCanceledException is thrown; the decode steps are atomic, so the sequence holds the
    /// prompt and every generated token but the last (which was sampled, never decoded).
    /// </summary>
    public void Generate(JetGeneration generation, Func<JetGeneration, string, bool>? onToken = null, int sequence = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(generation);
        using var hold = Enter(new CallbackState(), cancellationToken);  // the session is ours until done
        Span<int> next = stackalloc int[1];
        Span<float> logprob = stackalloc float[1];
        try
        {
            while (!generation.IsFinished)
            {
                int token;
                float lp;
                if (generation.Count == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    token = SampleNext(sequence, out lp);
                }
                else
                {
                    DecodeSample([sequence], [generation.LastToken], next, logprob, cancellationToken);
                    (token, lp) = (next[0], logprob[0]);
                }
                string piece = generation.Append(token, lp);
                if (onToken is not null && !onToken(generation, piece))
                    generation.Finish(JetFinishReason.Cancelled);
            }
        }
        catch (OperationCanceledException)
        {
            generation.Finish(JetFinishReason.Cancelled);
            throw;
        }
        if (generation.Count > 0)
            Decode(generation.LastToken, sequence, CancellationToken.None);  // the last token joins the sequence
    }

    /// <summary>
    /// Generates token ids with the engine's sampling (<see cref="StartGeneration"/> then
    /// <see cref="Generate"/>): prefills <paramref name="prompt"/> into <paramref name="sequence"/>
    /// (may be empty when the sequence already holds tokens and logits), then samples and decodes
    /// until MaxTokens, the end of the context, a stop token (included in the result) or
    /// <paramref name="onToken"/> returning false. Every generated token joins the sequence, so a
    /// later call with an empty prompt goes on from there.
    /// </summary>
    public int[] GenerateTokens(ReadOnlySpan<int> prompt, JetGenerationOptions? options = null,
        Func<int, bool>? onToken = null, int sequence = 0, CancellationToken cancellationToken = default)
    {
        using var hold = Enter(new CallbackState(), cancellationToken);
        JetGeneration generation = StartGeneration(prompt, options, sequence, cancellationToken);
        Generate(generation, onToken is null ? null : (g, _) => onToken(g.LastToken), sequence, cancellationToken);
        return generation.Tokens.ToArray();
    }

    /// <summary>
    /// <see cref="GenerateTokens"/> as an asynchronous stream: the engine runs on a thread of its
    /// own, at most <see cref="StreamBuffer"/> tokens ahead of the consumer, and each token is
    /// yielded as soon as it is sampled. Stopping the enumeration early stops the
    /// generation; cancelling the token stops it with OperationCanceledException (the sequence keeps
    /// the prompt and what was decoded).
    /// </summary>
    public IAsyncEnumerable<int> GenerateTokensAsync(IReadOnlyList<int> prompt, JetGenerationOptions? options = null,
        int sequence = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new JetGenerationOptions();
        JetGeneration.ValidateMaxTokens(options.MaxTokens);
        return TokensOf(StreamAsync(prompt.ToArray(), options, sequence, null, cancellationToken));
    }

    private static async IAsyncEnumerable<int> TokensOf(IAsyncEnumerable<(int Token, string Piece)> stream)
    {
        await foreach ((int token, _) in stream.ConfigureAwait(false))
            yield return token;
    }

    /// <summary>
    /// Generates text for <paramref name="prompt"/> (encoded with the model's tokenizer as is: apply
    /// a chat template first for chat) on sequence 0, streaming it piece by piece (never half a
    /// UTF-8 character). Stops at MaxTokens, the end of the context, a stop token, the
    /// end-of-sequence tokens, or a stop string (not returned); the sequence then holds the prompt
    /// and the generated tokens. Throws InvalidOperationException when the model has no tokenizer,
    /// ArgumentOutOfRangeException for a bad MaxTokens.
    /// </summary>
    public IAsyncEnumerable<string> GenerateAsync(string prompt, JetGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        JetTokenizer tokenizer = Model.Tokenizer ?? throw new InvalidOperationException(
            $"the model{(Model.Folder is null ? "" : " in " + Model.Folder)} has no tokenizer (tokenizer.json); use GenerateTokensAsync with token ids");
        options ??= new JetGenerationOptions();
        JetGeneration.ValidateMaxTokens(options.MaxTokens);
        int[] ids = tokenizer.Encode(prompt).ToArray();
        return GenerateTextAsync(ids, options, 0, null, cancellationToken);
    }

    /// <summary>
    /// The text pieces of a generation on <paramref name="sequence"/>; <paramref name="started"/>
    /// receives its state once the prompt is prefilled (read FinishReason and Count after the end).
    /// </summary>
    internal async IAsyncEnumerable<string> GenerateTextAsync(int[] prompt, JetGenerationOptions options, int sequence,
        Action<JetGeneration>? started, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach ((_, string piece) in StreamAsync(prompt, options, sequence, started, cancellationToken).ConfigureAwait(false))
        {
            if (piece.Length > 0)
                yield return piece;
        }
    }

    /// <summary>Tokens the engine may run ahead of an asynchronous consumer.</summary>
    internal const int StreamBuffer = 4;

    private async IAsyncEnumerable<(int Token, string Piece)> StreamAsync(int[] prompt, JetGenerationOptions options, int sequence,
        Action<JetGeneration>? started, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A small bounded buffer: the engine runs at most a few tokens ahead of the consumer, so a
        // slow reader does not waste compute and a break stops the engine almost at once.
        var channel = Channel.CreateBounded<(int, string)>(new BoundedChannelOptions(StreamBuffer)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        var stop = new StrongBox<bool>(false);
        bool Push(JetGeneration generation, string piece)
        {
            var item = (generation.LastToken, piece);
            while (!channel.Writer.TryWrite(item))
            {
                // Blocks this (dedicated) thread until there is room, or the reader left (false).
                if (Volatile.Read(ref stop.Value) || !channel.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult())
                    return false;
            }
            return !Volatile.Read(ref stop.Value);
        }
        Task producer = Task.Factory.StartNew(() =>
        {
            try
            {
                using var hold = Enter(new CallbackState(), cancellationToken);
                JetGeneration generation = StartGeneration(prompt, options, sequence, cancellationToken);
                started?.Invoke(generation);
                Generate(generation, Push, sequence, cancellationToken);
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            ChannelReader<(int, string)> reader = channel.Reader;
            while (true)
            {
                bool more;
                try
                {
                    more = await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (ChannelClosedException e) when (e.InnerException is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                    throw;
                }
                if (!more)
                    break;
                while (reader.TryRead(out (int, string) item))
                    yield return item;
            }
        }
        finally
        {
            Volatile.Write(ref stop.Value, true);
            channel.Writer.TryComplete();          // wakes a producer waiting for room
            await producer.ConfigureAwait(false);  // never throws: the producer catches everything
        }
    }

    // ---------------------------------------------------------------- cache management

    /// <summary>A new session with a copy of every sequence's cache and position.</summary>
    public JetSession Fork()
    {
        using var call = Enter(new CallbackState(), default);
        JetStatus status = NativeMethods.jet_session_fork(Handle, out JetSessionHandle forked);
        if (status != JetStatus.Ok)
        {
            forked.Dispose();
            call.Check(status);
        }
        return new JetSession(Model, Options, forked) { PrefillProgress = PrefillProgress };
    }

    /// <summary>Empties sequence <paramref name="sequence"/>, or every sequence when it is -1 (default).</summary>
    public void Reset(int sequence = -1)
    {
        using var call = Enter(new CallbackState(), default);
        _lastRowOffset = -1;
        call.Check(NativeMethods.jet_session_reset(Handle, sequence));
    }

    /// <summary>Copies sequence <paramref name="source"/>'s cache and position onto <paramref name="destination"/>.</summary>
    public void CopySequence(int source, int destination)
    {
        using var call = Enter(new CallbackState(), default);
        call.Check(NativeMethods.jet_session_copy_seq(Handle, source, destination));
    }

    /// <summary>Frees the session's cache (the model stays alive while other sessions use it).</summary>
    public void Dispose() => Handle.Dispose();

    // ---------------------------------------------------------------- plumbing

    private void EnsureBuffer(int floats)
    {
        if (_logits.Length < floats)
            _logits = new float[floats];
    }

    private CallScope Enter(CallbackState state, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
        cancellationToken.ThrowIfCancellationRequested();
        int me = Environment.CurrentManagedThreadId;
        bool nested = Volatile.Read(ref _owner) == me;
        if (nested)
            _depth++;
        else if (Interlocked.CompareExchange(ref _owner, me, 0) != 0)
            throw new InvalidOperationException(
                "this JetSession is already running a call; a session serves one call at a time (use another session or Fork)");
        return new CallScope(this, state, nested);
    }

    /// <summary>One call on the session: the busy flag and the run options (progress, abort) of the call.</summary>
    private readonly struct CallScope : IDisposable
    {
        private readonly JetSession _session;
        private readonly CallbackState _state;
        private readonly GCHandle _gc;
        private readonly bool _nested;

        public CallScope(JetSession session, CallbackState state, bool nested)
        {
            _session = session;
            _state = state;
            _nested = nested;
            _gc = GCHandle.Alloc(state);
        }

        /// <summary>The jet_run_options that route the engine's progress and abort polls to this call.</summary>
        public unsafe NativeRunOptions RunOptions
        {
            get
            {
                NativeRunOptions run;
                NativeMethods.jet_run_default_options(&run);
                run.Progress = Callbacks.Progress;
                run.ProgressUserData = GCHandle.ToIntPtr(_gc);
                run.Abort = Callbacks.Abort;
                run.AbortUserData = GCHandle.ToIntPtr(_gc);
                return run;
            }
        }

        /// <summary>Throws for a failed call (on the calling thread, right after it).</summary>
        public void Check(JetStatus status)
        {
            if (status == JetStatus.Ok)
            {
                _state.ThrowIfFailed();
                return;
            }
            string message = JetException.LastNativeError();
            _state.ThrowIfFailed();
            if (status == JetStatus.Cancelled)
                throw new OperationCanceledException(message.Length > 0 ? message : "cancelled", _state.CancellationToken);
            throw new JetException(status, message.Length > 0 ? message : $"native call failed with {JetException.StatusName(status)}");
        }

        /// <summary>Frees the session's cache (the model stays alive while other sessions use it).</summary>
        public void Dispose()
        {
            _gc.Free();
            if (_nested)
                _session._depth--;
            else
                Volatile.Write(ref _session._owner, 0);
        }
    }
}
