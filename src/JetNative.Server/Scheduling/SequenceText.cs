using JetNative.Tokenization;

namespace JetNative.Server.Scheduling;

/// <summary>
/// The text side of one generating sequence: turns each sampled token into the text it completes
/// (streaming UTF-8 decoder), holds back what could begin a stop string, and decides when the
/// sequence ends (a stop token, a stop string, the token limit). One small class per slot so that
/// it can become the library's shared per-sequence generation state.
/// </summary>
public sealed class SequenceText
{
    private readonly StreamingDecoder _decoder;
    private readonly GenerationLimits _limits;
    private string _pending = "";

    /// <summary>A fresh state for one sequence.</summary>
    public SequenceText(JetTokenizer tokenizer, GenerationLimits limits)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(limits);
        _decoder = tokenizer.CreateStreamingDecoder(skipSpecial: true);
        _limits = limits;
    }

    /// <summary>Tokens accepted so far (stop tokens included).</summary>
    public int Generated { get; private set; }

    /// <summary>"stop" or "length" once it has ended, else null.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>
    /// Takes the next sampled token: returns the text that can be emitted now, and whether the
    /// sequence has ended (then <see cref="FinishReason"/> says why and the text includes the rest).
    /// </summary>
    public (string Text, bool Done) Accept(int token)
    {
        if (FinishReason is not null) throw new InvalidOperationException("the sequence has ended");
        Generated++;
        if (_limits.StopTokens.Contains(token))
            return (Finish("stop"), true);
        _pending += _decoder.Append(token);
        (string emit, bool stopped) = JetGeneration.SplitAtStop(ref _pending, _limits.StopStrings, final: false);
        if (stopped)
        {
            FinishReason = "stop";
            return (emit, true);
        }
        if (Generated >= _limits.MaxTokens)
            return (emit + Finish("length"), true);
        return (emit, false);
    }

    /// <summary>Ends the sequence from outside (e.g. the context is full): the text still held back.</summary>
    public string Finish(string reason)
    {
        if (FinishReason is not null) return "";
        _pending += _decoder.Flush();
        (string rest, bool stopped) = JetGeneration.SplitAtStop(ref _pending, _limits.StopStrings, final: true);
        FinishReason = stopped ? "stop" : reason;
        return rest;
    }
}
