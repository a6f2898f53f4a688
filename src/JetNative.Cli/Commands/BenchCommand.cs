using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative bench</c>: llama-bench's table. Rows: <c>pp&lt;p&gt;</c> (prefill of p random tokens),
/// <c>tg&lt;n&gt;</c> (n decode steps from an empty cache) and <c>tg&lt;n&gt; @ d&lt;depth&gt;</c> (n decode
/// steps after a prefill of depth tokens, which is not timed). With <c>-b B</c> every step runs B
/// sequences at once and t/s counts all of them. Each row is the mean ± sd over <c>-r</c> runs,
/// after one warm-up run.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(CliConsole io)
    {
        var prompt = new Option<int>("--n-prompt", "-p") { Description = "Prompt tokens of the prefill test (0 = skip)", DefaultValueFactory = _ => 512 };
        var gen = new Option<int>("--n-gen", "-n") { Description = "Generated tokens of the decode tests (0 = skip)", DefaultValueFactory = _ => 128 };
        var depth = new Option<int>("--depth", "-d") { Description = "Context depth of the tg @ d test (0 = skip)", DefaultValueFactory = _ => 4096 };
        var reps = new Option<int>("--repetitions", "-r") { Description = "Timed runs per test", DefaultValueFactory = _ => 5 };
        var batch = new Option<int>("--batch", "-b") { Description = "Sequences processed together", DefaultValueFactory = _ => 1 };
        var config = new Option<FileInfo?>("--config") { Description = "Benchmark random weights built from this config.json instead of a checkpoint" };
        var model = new ModelOptions();
        var command = new Command("bench", "Measure prefill and decode speed (llama-bench style table)") { prompt, gen, depth, reps, batch, config };
        model.AddTo(command, context: false); // the tests size the context
        command.Add(model.AllowLongContext);   // tests deeper than the model's positions (e.g. 256K on the 2B)
        command.Add(BenchServeCommand.Create(io)); // `bench serve`: a subcommand; bench's own options are unchanged

        command.SetAction(async (result, ct) =>
        {
            var plan = new BenchPlan(result.GetValue(prompt), result.GetValue(gen), result.GetValue(depth),
                result.GetValue(reps), result.GetValue(batch), result.GetValue(model.AllowLongContext));
            plan.Validate();
            ModelArgs args = model.Read(result);
            FileInfo? configFile = result.GetValue(config);
            if (configFile is not null && args.Model is not null) throw new UsageException("give either -m or --config, not both");
            if (configFile is not null && !configFile.Exists) throw new FileNotFoundException($"config file not found: {configFile.FullName}", configFile.FullName);

            string name;
            JetModel m;
            if (configFile is not null)
            {
                m = JetModel.CreateRandom(File.ReadAllText(configFile.FullName), seed: 1, args.Options);
                name = $"{Path.GetFileName(configFile.DirectoryName)} (random)";
            }
            else
            {
                m = await ModelLoader.LoadAsync(io, args, ct);
                name = ModelLoader.DisplayName(m.Folder ?? ModelLoader.Resolve(args.Model));
            }
            using (m)
            {
                plan.CheckFits(m.Info.MaxPositionEmbeddings);
                var rows = await SpectreConsoles.WithProgressAsync(io, "bench", progress => Task.Run(() => plan.Run(m, progress, ct), ct));
                Render(io, m, name, args, plan, rows);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Render(CliConsole io, JetModel m, string name, ModelArgs args, BenchPlan plan, IReadOnlyList<(string Test, BenchStats Stats)> rows)
    {
        var table = new Table().Border(TableBorder.Markdown);
        table.AddColumn("model");
        table.AddColumn(new TableColumn("size").RightAligned());
        table.AddColumn(new TableColumn("params").RightAligned());
        table.AddColumn("backend");
        table.AddColumn(new TableColumn("threads").RightAligned());
        table.AddColumn(new TableColumn("n_batch").RightAligned());
        table.AddColumn(new TableColumn("test").RightAligned());
        table.AddColumn(new TableColumn("t/s").RightAligned());
        string backend = m.Info.Device == JetDevice.Cuda ? "CUDA" : "CPU";
        string threads = args.Options.Threads > 0 ? args.Options.Threads.ToString() : Environment.ProcessorCount.ToString();
        foreach (var (test, stats) in rows)
            table.AddRow(Markup.Escape(name), Units.Bytes(m.Info.WeightBytes), Units.Count(m.Info.ParameterCount), backend,
                threads, plan.Batch.ToString(), Markup.Escape(test), stats.ToString());
        io.Out.Write(SpectreConsoles.RenderPlain(table));
        io.Out.Flush();
    }
}

/// <summary>The tests of one <c>bench</c> run and how they are timed.</summary>
internal sealed record BenchPlan(int Prompt, int Gen, int Depth, int Repetitions, int Batch, bool AllowLongContext = false)
{
    public void Validate()
    {
        if (Prompt < 0) throw new UsageException($"--n-prompt must be >= 0, not {Prompt}");
        if (Gen < 0) throw new UsageException($"--n-gen must be >= 0, not {Gen}");
        if (Depth < 0) throw new UsageException($"--depth must be >= 0, not {Depth}");
        if (Repetitions < 1) throw new UsageException($"--repetitions must be >= 1, not {Repetitions}");
        if (Batch < 1) throw new UsageException($"--batch must be >= 1, not {Batch}");
        if (Prompt == 0 && Gen == 0) throw new UsageException("nothing to measure: -p and -n are both 0");
    }

    /// <summary>Tokens one sequence needs: the largest of the tests.</summary>
    public int Context => Math.Max(Prompt, Gen > 0 ? Depth + Gen : 0);

    public void CheckFits(int maxPositions)
    {
        if (Context > maxPositions && !AllowLongContext)
            throw new UsageException($"the tests need {Context} tokens of context, more than the model's {maxPositions} positions (lower -p, -n or -d, or add --allow-long-context)");
    }

    public IReadOnlyList<(string Test, BenchStats Stats)> Run(JetModel model, IProgress<float>? progress, CancellationToken ct)
    {
        var tests = new List<(string Name, Func<JetSession, int[][], double> Measure)>();
        if (Prompt > 0) tests.Add(($"pp{Prompt}", (s, t) => Prefill(s, t, Prompt, ct)));
        if (Gen > 0) tests.Add(($"tg{Gen}", (s, t) => Decode(s, t, 0, ct)));
        if (Gen > 0 && Depth > 0) tests.Add(($"tg{Gen} @ d{Depth}", (s, t) => Decode(s, t, Depth, ct)));

        var random = new Random(42);
        int vocab = model.Info.VocabSize;
        int[][] tokens = Enumerable.Range(0, Batch)
            .Select(_ => Enumerable.Range(0, Context).Select(_ => random.Next(vocab)).ToArray()).ToArray();
        using JetSession session = model.CreateSession(new JetSessionOptions { Sequences = Batch, Context = Context, AllowLongContext = AllowLongContext });
        var rows = new List<(string, BenchStats)>();
        int done = 0, total = tests.Count * (Repetitions + 1);
        foreach (var (name, measure) in tests)
        {
            var rates = new List<double>();
            for (int r = 0; r <= Repetitions; r++)
            {
                double rate = measure(session, tokens);
                if (r > 0) rates.Add(rate); // run 0 warms up
                progress?.Report(++done / (float)total);
            }
            rows.Add((name, BenchStats.Of(rates)));
        }
        return rows;
    }

    /// <summary>Prefills <paramref name="n"/> tokens into every sequence; tokens per second.</summary>
    private double Prefill(JetSession session, int[][] tokens, int n, CancellationToken ct)
    {
        session.Reset();
        var clock = Stopwatch.StartNew();
        for (int b = 0; b < Batch; b++)
            session.Prefill(tokens[b].AsSpan(0, n), b, JetLogitsMode.None, Span<float>.Empty, ct);
        return Batch * n / clock.Elapsed.TotalSeconds;
    }

    /// <summary>After an untimed prefill of <paramref name="depth"/> tokens, <see cref="Gen"/> batched decode steps; tokens per second.</summary>
    private double Decode(JetSession session, int[][] tokens, int depth, CancellationToken ct)
    {
        session.Reset();
        if (depth > 0)
            for (int b = 0; b < Batch; b++)
                session.Prefill(tokens[b].AsSpan(0, depth), b, JetLogitsMode.None, Span<float>.Empty, ct);
        int[] seqs = Enumerable.Range(0, Batch).ToArray();
        int[] step = new int[Batch];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Gen; i++)
        {
            for (int b = 0; b < Batch; b++) step[b] = tokens[b][depth + i];
            session.Decode(seqs, step, ct);
        }
        return Batch * Gen / clock.Elapsed.TotalSeconds;
    }
}
