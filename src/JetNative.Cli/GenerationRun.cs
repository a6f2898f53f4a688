using System.Diagnostics;
using System.Globalization;

namespace JetNative.Cli;

/// <summary>What one generation did, filled as it runs (so a cancelled run still reports it).</summary>
internal sealed class GenerationStats
{
    public int PrefillTokens { get; set; }
    public TimeSpan PrefillTime { get; set; }
    public int DecodeTokens { get; set; }
    public TimeSpan DecodeTime { get; set; }
    /// <summary>Why it ended: "stop token", "length", "context full", "output closed" or "cancelled".</summary>
    public string EndReason { get; set; } = "length";

    /// <summary>The one-line timing summary printed on stderr.</summary>
    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"prefill: {PrefillTokens} tokens in {PrefillTime.TotalMilliseconds:F1} ms ({Rate(PrefillTokens, PrefillTime):F2} tok/s) | " +
        $"decode: {DecodeTokens} tokens in {DecodeTime.TotalMilliseconds:F1} ms ({Rate(DecodeTokens, DecodeTime):F2} tok/s) | end: {EndReason}");

    private static double Rate(int tokens, TimeSpan time) => time.TotalSeconds > 0 ? tokens / time.TotalSeconds : 0;
}

/// <summary>
/// How <c>generate</c> and <c>chat</c> run the library's generator (<see cref="JetSession.StartGeneration"/>
/// and <see cref="JetSession.Generate"/>): the prefill timed on its own (with a progress bar for
/// long prompts), then the decode steps timed separately while the text streams to stdout. The
/// generation stops quietly when stdout is closed (a pipe whose reader left).
/// </summary>
internal static class GenerationRun
{
    /// <summary>Prompts at least this long get a progress bar (when stderr is a terminal).</summary>
    private const int LongPrefill = 256;

    /// <summary>
    /// Prefills <paramref name="prompt"/> into sequence 0 of <paramref name="session"/> and returns
    /// the generation's state. Throws before any work when the prompt does not fit the context.
    /// </summary>
    public static async Task<JetGeneration> PrefillAsync(CliConsole io, JetSession session, IReadOnlyList<int> prompt,
        JetGenerationOptions options, GenerationStats stats, CancellationToken cancellationToken)
    {
        int[] ids = prompt.ToArray();
        var clock = Stopwatch.StartNew();
        bool bar = ids.Length >= LongPrefill;
        JetGeneration generation = await SpectreConsoles.WithProgressAsync(bar ? io : Quiet(io), $"prefill ({ids.Length} tokens)", progress =>
        {
            session.PrefillProgress = progress;
            return Task.Run(() => session.StartGeneration(ids, options, 0, cancellationToken), cancellationToken);
        });
        session.PrefillProgress = null;
        stats.PrefillTokens = ids.Length;
        stats.PrefillTime = clock.Elapsed;
        return generation;
    }

    /// <summary>
    /// Runs <paramref name="generation"/> to its end, writing each piece with <paramref name="onText"/>;
    /// the decode time runs from the first token (sampled from the prefill's logits) to the end.
    /// </summary>
    public static async Task GenerateAsync(CliConsole io, JetSession session, JetGeneration generation, GenerationStats stats,
        Action<string> onText, CancellationToken cancellationToken)
    {
        var clock = new Stopwatch();
        bool outputClosed = false;
        try
        {
            await Task.Run(() => session.Generate(generation, (g, piece) =>
            {
                if (g.Count == 1)
                    clock.Start();
                if (piece.Length > 0)
                    onText(piece);
                outputClosed = io.OutputClosed;
                return !outputClosed;
            }, 0, cancellationToken), cancellationToken);
        }
        finally
        {
            stats.DecodeTime = clock.Elapsed;
            // Every token but the last came from a decode step; the last one's decode (which puts it
            // into the sequence) ends the timed span too, except when cancelled before it.
            stats.DecodeTokens = generation.FinishReason == JetFinishReason.Cancelled && !outputClosed
                ? Math.Max(0, generation.Count - 1) : generation.Count;
            stats.EndReason = outputClosed ? "output closed" : generation.FinishReason switch
            {
                JetFinishReason.Stop => "stop token",
                JetFinishReason.Length when generation.MaxTokens < generation.Options.MaxTokens
                    || generation.Options.MaxTokens == JetGeneration.UntilContextEnd => "context full",
                JetFinishReason.Length => "length",
                _ => "cancelled",
            };
        }
    }

    private static CliConsole Quiet(CliConsole io) => new(io.Out, io.Error, io.In, errorIsTerminal: false);
}
