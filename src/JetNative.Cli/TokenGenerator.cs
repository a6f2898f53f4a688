using System.Diagnostics;
using System.Globalization;
using JetNative.Tokenization;

namespace JetNative.Cli;

/// <summary>What one generation did, filled as it runs (so a cancelled run still reports it).</summary>
internal sealed class GenerationStats
{
    public int PrefillTokens { get; set; }
    public TimeSpan PrefillTime { get; set; }
    public int DecodeTokens { get; set; }
    public TimeSpan DecodeTime { get; set; }
    /// <summary>Why it ended: "stop token", "length", "context full", or "cancelled".</summary>
    public string EndReason { get; set; } = "length";

    /// <summary>The one-line timing summary printed on stderr.</summary>
    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"prefill: {PrefillTokens} tokens in {PrefillTime.TotalMilliseconds:F1} ms ({Rate(PrefillTokens, PrefillTime):F2} tok/s) | " +
        $"decode: {DecodeTokens} tokens in {DecodeTime.TotalMilliseconds:F1} ms ({Rate(DecodeTokens, DecodeTime):F2} tok/s) | end: {EndReason}");

    private static double Rate(int tokens, TimeSpan time) => time.TotalSeconds > 0 ? tokens / time.TotalSeconds : 0;
}

/// <summary>
/// The token loop shared by <c>generate</c> and <c>chat</c>: prefill the prompt (timed, with a
/// progress bar for long prompts), then sample, stream the text and decode one token at a time
/// (timed separately) until a stop token, the length limit or the end of the context.
/// </summary>
internal static class TokenGenerator
{
    /// <summary>Prompts at least this long get a progress bar (when stderr is a terminal).</summary>
    private const int LongPrefill = 256;

    public static async Task<List<int>> RunAsync(CliConsole io, JetSession session, JetTokenizer tokenizer,
        IReadOnlyList<int> prompt, JetSampler sampler, int maxTokens, GenerationStats stats, Action<string> onText,
        CancellationToken cancellationToken)
    {
        int context = session.Context;
        if (session.Position + prompt.Count > context)
            throw new JetException(JetStatus.ContextFull,
                $"the prompt has {prompt.Count} tokens{(session.Position > 0 ? $" after {session.Position} already held" : "")}, more than the context of {context} (raise -c/--ctx-size)");
        if (session.Position == 0 && prompt.Count == 0)
            throw new UsageException("the prompt is empty");

        var stops = new HashSet<int>(tokenizer.StopTokenIds);
        if (session.Model.Info.EosTokenId is int eos) stops.Add(eos);
        sampler.Accept(prompt.ToArray());

        int[] promptIds = prompt.ToArray();
        var clock = Stopwatch.StartNew();
        if (promptIds.Length > 0)
        {
            bool bar = promptIds.Length >= LongPrefill;
            await SpectreConsoles.WithProgressAsync(bar ? io : Quiet(io), $"prefill ({promptIds.Length} tokens)", progress =>
            {
                session.PrefillProgress = progress;
                return Task.Run(() => { session.Prefill(promptIds, 0, cancellationToken); return 0; }, cancellationToken);
            });
            session.PrefillProgress = null;
        }
        stats.PrefillTokens = promptIds.Length;
        stats.PrefillTime = clock.Elapsed;

        var generated = new List<int>();
        StreamingDecoder decoder = tokenizer.CreateStreamingDecoder(skipSpecial: true);
        clock.Restart();
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int token = session.Sample(sampler);
                if (stops.Contains(token)) { stats.EndReason = "stop token"; break; }
                generated.Add(token);
                string piece = decoder.Append(token);
                if (piece.Length > 0) onText(piece);
                if (maxTokens > 0 && generated.Count >= maxTokens) { stats.EndReason = "length"; break; }
                if (session.Position >= context) { stats.EndReason = "context full"; break; }
                session.Decode(token, 0, cancellationToken);
                stats.DecodeTokens++;
                stats.DecodeTime = clock.Elapsed;
            }
            string rest = decoder.Flush();
            if (rest.Length > 0) onText(rest);
        }
        catch (OperationCanceledException)
        {
            stats.EndReason = "cancelled";
            throw;
        }
        finally
        {
            stats.DecodeTime = clock.Elapsed;
        }
        return generated;
    }

    private static CliConsole Quiet(CliConsole io) => new(io.Out, io.Error, io.In, errorIsTerminal: false);
}
