using System.Diagnostics;

namespace JetNative.Search;

/// <summary>
/// Times prefill and decode of a model on its own device: one warm-up, then timed repetitions.
/// Prefill tok/s = context / time of the prefill; decode tok/s = batch * steps / time of the steps.
/// Tokens are random ids (the speed does not depend on them).
/// </summary>
public static class ThroughputMeter
{
    /// <summary>Times <paramref name="model"/>'s prefill and decode as <paramref name="settings"/> say; progress in [0, 1].</summary>
    public static Throughput Measure(JetModel model, MeasureSettings settings, IProgress<float>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (settings.SessionContext > model.Info.MaxPositionEmbeddings)
            throw new ArgumentException($"context {settings.Context} + {settings.DecodeTokens} decode tokens is more than the model's " +
                $"{model.Info.MaxPositionEmbeddings} positions (max_position_embeddings)");

        var random = new Random(1234);
        int vocab = model.Info.VocabSize;
        int[] tokens = new int[settings.SessionContext];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = random.Next(vocab);
        int[] seqs = Enumerable.Range(0, settings.Batch).ToArray();

        using JetSession session = model.CreateSession(new JetSessionOptions { Sequences = settings.Batch, Context = settings.SessionContext });
        int total = settings.Repetitions + 1;

        // Warm-up: kernels, allocations, decode graphs for this batch.
        Run(session, tokens, Math.Min(settings.WarmupTokens, settings.Context), Math.Min(settings.DecodeTokens, 4), seqs, cancellationToken);
        progress?.Report(1f / total);

        var prefill = new List<double>();
        var decode = new List<double>();
        for (int r = 0; r < settings.Repetitions; r++)
        {
            var (p, d) = Run(session, tokens, settings.Context, settings.DecodeTokens, seqs, cancellationToken);
            prefill.Add(settings.Context / p);
            decode.Add((double)settings.Batch * settings.DecodeTokens / d);
            progress?.Report((r + 2f) / total);
        }
        return new Throughput(Rate.Of(prefill), Rate.Of(decode));
    }

    /// <summary>Prefills <paramref name="n"/> tokens into sequence 0, copies it to the others, then runs the decode steps; (prefill s, decode s).</summary>
    private static (double Prefill, double Decode) Run(JetSession session, int[] tokens, int n, int steps, int[] seqs, CancellationToken ct)
    {
        session.Reset();
        var clock = Stopwatch.StartNew();
        session.Prefill(tokens.AsSpan(0, n), 0, ct); // with the last token's logits, as a real prompt
        double prefill = clock.Elapsed.TotalSeconds;
        for (int s = 1; s < seqs.Length; s++) session.CopySequence(0, s);
        int[] step = new int[seqs.Length];
        clock.Restart();
        for (int i = 0; i < steps; i++)
        {
            Array.Fill(step, tokens[n + i]);
            session.Decode(seqs, step, ct);
        }
        double decode = clock.Elapsed.TotalSeconds;
        return (prefill, decode);
    }
}
