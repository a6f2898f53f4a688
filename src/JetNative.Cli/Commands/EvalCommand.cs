using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using JetNative.Tokenization;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative eval</c>: perplexity of a text file (<c>-f</c>) over windows of <c>--window</c>
/// tokens, each evaluated from an empty cache (the protocol of the demo model's eval.json); or, with
/// <c>--input-ids FILE.json --logits-out FILE.safetensors</c>, the float32 prefill logits
/// [T, vocab] of each given token sequence as tensor <c>logits.&lt;i&gt;</c>.
/// </summary>
internal static class EvalCommand
{
    public const int DefaultWindow = 512;

    public static Command Create(CliConsole io)
    {
        var file = new Option<FileInfo?>("--file", "-f") { Description = "Text file to compute the perplexity of" };
        var window = new Option<int?>("--window")
        {
            Description = $"Tokens per evaluation window (default: the model's eval.json, else {DefaultWindow})",
        };
        var chunks = new Option<int>("--chunks")
        {
            Description = "Evaluate at most this many windows (0 = all)",
            DefaultValueFactory = _ => 0,
        };
        var inputIds = new Option<FileInfo?>("--input-ids") { Description = "JSON file with a list of token-id lists" };
        var logitsOut = new Option<FileInfo?>("--logits-out") { Description = "Write each --input-ids sequence's logits here (safetensors)" };
        var model = new ModelOptions();
        model.CtxSize.Description = "Context size in tokens for --logits-out (0 = the longest input sequence)";
        var command = new Command("eval", "Perplexity of a text, or logits of token sequences") { file, window, chunks, inputIds, logitsOut };
        model.AddTo(command);

        command.SetAction(async (result, ct) =>
        {
            FileInfo? text = result.GetValue(file), ids = result.GetValue(inputIds), output = result.GetValue(logitsOut);
            int? windowValue = result.GetValue(window);
            int maxChunks = result.GetValue(chunks);
            if ((text is null) == (ids is null)) throw new UsageException("give either -f TEXT_FILE or --input-ids FILE.json");
            if (ids is not null && output is null) throw new UsageException("--input-ids needs --logits-out FILE.safetensors");
            if (text is not null && output is not null) throw new UsageException("--logits-out goes with --input-ids, not -f");
            if (windowValue is < 2) throw new UsageException($"--window must be at least 2, not {windowValue}");
            if (maxChunks < 0) throw new UsageException($"--chunks must be >= 0, not {maxChunks}");
            ModelArgs args = model.Read(result);
            if (text is not null && !text.Exists) throw new FileNotFoundException($"text file not found: {text.FullName}", text.FullName);
            if (ids is not null && !ids.Exists) throw new FileNotFoundException($"input ids file not found: {ids.FullName}", ids.FullName);

            using JetModel m = await ModelLoader.LoadAsync(io, args, ct);
            if (ids is not null)
            {
                int[][] sequences = ReadInputIds(ids.FullName, m.Info.VocabSize);
                await WriteLogitsAsync(io, m, args.CtxSize, args.AllowLongContext, sequences, output!.FullName, ct);
                return ExitCodes.Ok;
            }
            EvalProtocol protocol = EvalProtocol.For(m.Folder);
            int w = windowValue ?? protocol.Window ?? DefaultWindow;
            string evalText = protocol.SelectText(File.ReadAllBytes(text!.FullName), out string note);
            var ppl = await PerplexityAsync(io, m, evalText, w, maxChunks, ct, args.AllowLongContext);
            io.Error.WriteLine($"eval: {note}");
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"perplexity: {ppl.Perplexity:F4} over {ppl.Tokens} predicted tokens ({ppl.Windows} windows of {w} tokens; mean nll {ppl.MeanNll:F6})"));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal readonly record struct PerplexityResult(double Perplexity, double MeanNll, long Tokens, int Windows);

    /// <summary>
    /// The demo model's protocol (eval.json): the text's tokens (no special tokens) cut into
    /// consecutive windows of <paramref name="window"/> tokens from token 0, the remainder dropped;
    /// each window prefilled from an empty cache; the mean of -log p(token j+1 | tokens 0..j of its
    /// window) over all windows; perplexity = exp of that mean.
    /// </summary>
    internal static async Task<PerplexityResult> PerplexityAsync(CliConsole io, JetModel model, string text, int window,
        int maxChunks, CancellationToken ct, bool allowLongContext = false)
    {
        JetTokenizer tokenizer = ModelLoader.RequireTokenizer(model);
        if (window > model.Info.MaxPositionEmbeddings && !allowLongContext)
            throw new UsageException($"--window {window} exceeds the model's {model.Info.MaxPositionEmbeddings} positions (--allow-long-context runs beyond them)");
        int[] tokens = tokenizer.Encode(text).ToArray();
        if (tokens.Length < window)
            throw new JetException(JetStatus.InvalidArgument, $"the text has {tokens.Length} tokens, fewer than one window of {window} (lower --window)");
        var starts = new List<int>();
        for (int s = 0; s + window <= tokens.Length; s += window) starts.Add(s);
        if (maxChunks > 0 && starts.Count > maxChunks) starts.RemoveRange(maxChunks, starts.Count - maxChunks);

        using JetSession session = model.CreateSession(new JetSessionOptions { Context = window, AllowLongContext = allowLongContext });
        int vocab = model.Info.VocabSize;
        double nll = 0;
        long count = 0;
        await SpectreConsoles.WithProgressAsync(io, $"perplexity ({starts.Count} windows)", progress => Task.Run(() =>
        {
            for (int c = 0; c < starts.Count; c++)
            {
                ct.ThrowIfCancellationRequested();
                int start = starts[c];
                session.Reset();
                float[] logits = session.PrefillAllLogits(tokens.AsSpan(start, window), 0, ct);
                for (int j = 0; j + 1 < window; j++)
                {
                    nll += NegativeLogLikelihood(logits.AsSpan(j * vocab, vocab), tokens[start + j + 1]);
                    count++;
                }
                progress?.Report((c + 1f) / starts.Count);
            }
            return 0;
        }, ct));
        double mean = nll / count;
        return new PerplexityResult(Math.Exp(mean), mean, count, starts.Count);
    }

    /// <summary>-log softmax(logits)[target], computed in double.</summary>
    internal static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        return max + Math.Log(sum) - logits[target];
    }

    /// <summary>Reads <c>[[id, ...], ...]</c>, checking every id against the vocabulary.</summary>
    internal static int[][] ReadInputIds(string path, int vocabSize)
    {
        int[][]? sequences;
        try
        {
            sequences = JsonSerializer.Deserialize<int[][]>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: expected a JSON list of token-id lists ({e.Message})", e);
        }
        if (sequences is null || sequences.Length == 0) throw new InvalidDataException($"{path}: no sequence (expected [[id, ...], ...])");
        for (int i = 0; i < sequences.Length; i++)
        {
            if (sequences[i] is null || sequences[i].Length == 0) throw new InvalidDataException($"{path}: sequence {i} is empty");
            foreach (int id in sequences[i])
                if (id < 0 || id >= vocabSize)
                    throw new InvalidDataException($"{path}: sequence {i} has token id {id}, outside the vocabulary [0, {vocabSize})");
        }
        return sequences;
    }

    private static async Task WriteLogitsAsync(CliConsole io, JetModel model, int ctxSize, bool allowLongContext, int[][] sequences, string path,
        CancellationToken ct)
    {
        int longest = sequences.Max(s => s.Length);
        int context = ctxSize > 0 ? ctxSize : longest;
        if (longest > context)
            throw new JetException(JetStatus.ContextFull, $"a sequence has {longest} tokens, more than the context of {context} (raise -c/--ctx-size)");
        int vocab = model.Info.VocabSize;
        var declared = sequences.Select((s, i) => ($"logits.{i}", new long[] { s.Length, vocab })).ToList();
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = context, AllowLongContext = allowLongContext });
        // Written to a temporary file first, so a failure never leaves a truncated safetensors file.
        string partial = path + ".partial";
        try
        {
            await using (var stream = new FileStream(partial, FileMode.Create, FileAccess.Write))
            {
                var writer = new SafetensorsWriter(stream, declared);
                await SpectreConsoles.WithProgressAsync(io, $"logits ({sequences.Length} sequences)", progress => Task.Run(() =>
                {
                    for (int i = 0; i < sequences.Length; i++)
                    {
                        session.Reset();
                        writer.WriteNext(session.PrefillAllLogits(sequences[i], 0, ct));
                        progress?.Report((i + 1f) / sequences.Length);
                    }
                    writer.Finish();
                    return 0;
                }, ct));
            }
            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
        io.Error.WriteLine($"wrote {sequences.Length} logits tensors to {path}");
    }
}
