using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Cli;

/// <summary>
/// Each command end to end, in-process: on the committed tiny-jet-b (always), the shared tiny-jet-a
/// (skipped without ../shared) and the embedded demo model (skipped when the checkout lacks it).
/// </summary>
public sealed class CliCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // ------------------------------------------------------------------ info

    [Fact]
    public async Task InfoShowsConfigLayerMapAndCache()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        var r = await CliRunner.RunAsync(["info", "-m", folder, "-t", "2", "-c", "1000"], ct: Ct);
        r.AssertOk();
        Assert.Matches(@"layer map:\s+JSJAJSJ", r.Out);
        Assert.Matches(@"attn layers:\s+1: 3\n", r.Out);
        Assert.Matches(@"swa layers:\s+2: 1, 5\n", r.Out);
        Assert.Matches(@"jet layers:\s+4: 0, 2, 4, 6\n", r.Out);
        Assert.Matches(@"vocab size:\s+777\n", r.Out);
        Assert.Matches(@"sliding window:\s+24\n", r.Out);
        // One attn layer, 1 KV head of dim 32: K and V per token, as the engine stores them.
        using JetModel model = JetModel.Load(folder, new JetModelOptions { Threads = 2 });
        long perToken = model.CacheBytes(2000) - model.CacheBytes(1000);
        Assert.True(perToken > 0);
        Assert.Contains($"cache per token:", r.Out);
        Assert.Contains(JetNative.Cli.Units.Bytes(perToken / 1000), r.Out);
        Assert.Contains(JetNative.Cli.Units.Bytes(model.CacheBytes(1000)), r.Out);
        Assert.Matches(@"parameters:\s+[\d,]+ \(", r.Out);
    }

    // ------------------------------------------------------------------ random-checkpoint

    [Fact]
    public async Task RandomCheckpointWritesALoadableFolder()
    {
        using var temp = new TempFolder();
        string folder = Path.Combine(temp.Path, "ckpt");
        var r = await CliRunner.RunAsync(["random-checkpoint", "-o", folder, "--config", TestModels.RequireFolder("tiny-jet-b"),
            "-s", "3", "--shard-size", "200KB"], ct: Ct);
        r.AssertOk();
        Assert.Equal(folder, r.Out.Trim());
        Assert.Contains("of safetensors", r.Error);
        Assert.True(Directory.GetFiles(folder, "model-*-of-*.safetensors").Length > 1);
        var info = await CliRunner.RunAsync(["info", "-m", folder, "-t", "2"], ct: Ct);
        info.AssertOk();
        Assert.Matches(@"vocab size:\s+777\n", info.Out);

        (await CliRunner.RunAsync(["random-checkpoint", "-o", folder, "--shard-size", "lots"], ct: Ct)).AssertError(2, "--shard-size");
        (await CliRunner.RunAsync(["random-checkpoint", "-o", folder, "--config", "nope"], ct: Ct)).AssertError(1, "--config");
        (await CliRunner.RunAsync(["random-checkpoint", "--config", "2b"], ct: Ct)).AssertError(2, "--output");
    }

    [Fact]
    public async Task RandomCheckpointCopiesTheDemoTokenizerOrSaysHowToAddOne()
    {
        CliRunner.RequireDemoModel();
        using var temp = new TempFolder();
        string demo = Path.Combine(temp.Path, "demo-random");
        var r = await CliRunner.RunAsync(["random-checkpoint", "-o", demo, "--config", "demo", "-s", "5"], ct: Ct);
        r.AssertOk();
        Assert.Contains("tokenizer: copied the demo model's", r.Error);
        Assert.True(File.Exists(Path.Combine(demo, "tokenizer.json")));
        var g = await CliRunner.RunAsync(["generate", "-m", demo, "Hello", "-n", "3", "-s", "1", "-t", "2"], ct: Ct);
        g.AssertOk();
        Assert.StartsWith("Hello", g.Out);

        string tiny = Path.Combine(temp.Path, "tiny-random");
        r = await CliRunner.RunAsync(["random-checkpoint", "-o", tiny, "--config", TestModels.RequireFolder("tiny-jet-b")], ct: Ct);
        r.AssertOk();
        Assert.Contains("tokenizer: none written", r.Error);
        Assert.Contains("copy the matching tokenizer.json", r.Error);
        Assert.False(File.Exists(Path.Combine(tiny, "tokenizer.json")));
        (await CliRunner.RunAsync(["generate", "-m", tiny, "Hello", "-n", "3", "-t", "2"], ct: Ct))
            .AssertError(1, "has no tokenizer (tokenizer.json), so this command cannot turn text into tokens: copy");
    }

    [Fact]
    public async Task GenerateBeyondTheModelsPositionsNeedsAllowLongContext()
    {
        CliRunner.RequireDemoModel();
        using JetModel demo = JetModel.Load(TestModels.Demo, new JetModelOptions { Threads = 2 });
        string beyond = (demo.Info.MaxPositionEmbeddings + 8).ToString(CultureInfo.InvariantCulture);
        (await CliRunner.RunAsync(["generate", "Hello", "-n", "2", "-t", "2", "-c", beyond], ct: Ct))
            .AssertError(2, $"-c/--ctx-size {beyond} is beyond the model's max_position_embeddings ({demo.Info.MaxPositionEmbeddings}); add --allow-long-context");
        var g = await CliRunner.RunAsync(["generate", "Hello", "-n", "2", "-t", "2", "-s", "1", "-c", beyond, "--allow-long-context"], ct: Ct);
        g.AssertOk();
        Assert.StartsWith("Hello", g.Out);
    }

    [Fact]
    public async Task InfoWarnsAboutAContextBeyondTheModelsPositions()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        using JetModel model = JetModel.Load(folder, new JetModelOptions { Threads = 2 });
        int beyond = model.Info.MaxPositionEmbeddings + 1;
        var r = await CliRunner.RunAsync(["info", "-m", folder, "-t", "2", "-c", beyond.ToString(CultureInfo.InvariantCulture)], ct: Ct);
        r.AssertOk();
        Assert.Contains($"warning: -c {beyond} is beyond the model's {model.Info.MaxPositionEmbeddings} positions", r.Error);
        var within = await CliRunner.RunAsync(["info", "-m", folder, "-t", "2", "-c", "16"], ct: Ct);
        Assert.DoesNotContain("warning", within.Error);
    }

    [Fact]
    public async Task CorruptWeightsFileIsRuntimeError()
    {
        using var temp = new TempFolder(TestModels.RequireFolder("tiny-jet-b"));
        string weights = temp.FilePath("model.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var r = await CliRunner.RunAsync(["info", "-m", temp.Path], ct: Ct);
        r.AssertError(1, "");
        Assert.Equal("", r.Out);
    }

    [Fact]
    public async Task CorruptConfigIsRuntimeError()
    {
        using var temp = new TempFolder(TestModels.RequireFolder("tiny-jet-b"));
        File.WriteAllText(temp.FilePath("config.json"), "{ \"hidden_size\": ");
        var r = await CliRunner.RunAsync(["info", "-m", temp.Path], ct: Ct);
        r.AssertError(1, "config");
    }

    // ------------------------------------------------------------------ eval --input-ids

    public static TheoryData<string> Goldens => TestModels.GoldenNames;

    [Theory]
    [MemberData(nameof(Goldens))]
    public async Task EvalInputIdsWritesTheGoldenLogits(string name)
    {
        string folder = TestModels.RequireFolder(name);
        var golden = new GoldenFile(Path.Combine(folder, "golden.safetensors"));
        int[][] ids = [golden.Ids("input_ids.0"), golden.Ids("input_ids.1")];
        using var temp = new TempFolder();
        File.WriteAllText(temp.FilePath("ids.json"), JsonSerializer.Serialize(ids));
        string output = temp.FilePath("out/logits.safetensors");
        var r = await CliRunner.RunAsync(["eval", "-m", folder, "-t", "2", "--input-ids", temp.FilePath("ids.json"), "--logits-out", output], ct: Ct);
        r.AssertOk();
        var written = new GoldenFile(output);
        for (int i = 0; i < ids.Length; i++)
        {
            float[] expected = golden.Floats($"logits.{i}");
            float[] actual = written.Floats($"logits.{i}");
            Assert.Equal(golden.Shape($"logits.{i}"), written.Shape($"logits.{i}"));
            float scale = expected.Max(MathF.Abs);
            float worst = expected.Zip(actual, (e, a) => MathF.Abs(e - a)).Max();
            Assert.True(worst <= 1e-4f * scale, $"{name} logits.{i}: max |diff| {worst} > 1e-4 * {scale}");
        }
        Assert.False(File.Exists(output + ".partial"));
    }

    [Fact]
    public async Task EvalInputIdsLongerThanContextIsRuntimeError()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        using var temp = new TempFolder();
        File.WriteAllText(temp.FilePath("ids.json"), "[[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]");
        var r = await CliRunner.RunAsync(["eval", "-m", folder, "-c", "8", "--input-ids", temp.FilePath("ids.json"), "--logits-out", temp.FilePath("o.safetensors")], ct: Ct);
        r.AssertError(1, "context");
        Assert.False(File.Exists(temp.FilePath("o.safetensors")));
    }

    [Fact]
    public async Task EvalInputIdsOutsideTheVocabularyIsRuntimeError()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        using var temp = new TempFolder();
        File.WriteAllText(temp.FilePath("ids.json"), "[[1, 2, 777]]");
        var r = await CliRunner.RunAsync(["eval", "-m", folder, "--input-ids", temp.FilePath("ids.json"), "--logits-out", temp.FilePath("o.safetensors")], ct: Ct);
        r.AssertError(1, "777");
    }

    [Fact]
    public async Task EvalTextNeedsATokenizer()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        using var temp = new TempFolder();
        File.WriteAllText(temp.FilePath("t.txt"), "some text");
        var r = await CliRunner.RunAsync(["eval", "-m", folder, "-f", temp.FilePath("t.txt")], ct: Ct);
        r.AssertError(1, "tokenizer");
    }

    // ------------------------------------------------------------------ bench

    [Fact]
    public async Task BenchPrintsLlamaBenchMarkdownTable()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        var r = await CliRunner.RunAsync(["bench", "-m", folder, "-t", "2", "-p", "16", "-n", "4", "-d", "8", "-r", "2", "-b", "2"], ct: Ct);
        r.AssertOk();
        string[] lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).ToArray();
        Assert.Equal(2 + 3, lines.Length); // header, separator, 3 rows
        Assert.All(lines, l => Assert.StartsWith("|", l));
        Assert.Matches(@"^\|\s*model\s*\|\s*size\s*\|\s*params\s*\|\s*backend\s*\|\s*threads\s*\|\s*n_batch\s*\|\s*test\s*\|\s*t/s\s*\|$", lines[0]);
        Assert.Matches(@"^\|[\s:-]+\|", lines[1]);
        string[] tests = ["pp16", "tg4", "tg4 @ d8"];
        for (int i = 0; i < 3; i++)
        {
            string[] cells = lines[2 + i].Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            Assert.Equal("tiny-jet-b", cells[0]);
            Assert.Equal("CPU", cells[3]);
            Assert.Equal("2", cells[4]);
            Assert.Equal("2", cells[5]);
            Assert.Equal(tests[i], cells[6]);
            var m = Regex.Match(cells[7], @"^(\d+\.\d\d) ± (\d+\.\d\d)$");
            Assert.True(m.Success, $"t/s cell '{cells[7]}'");
            Assert.True(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) > 0);
        }
    }

    [Fact]
    public async Task BenchRandomWeightsFromConfig()
    {
        string config = Path.Combine(TestModels.RequireFolder("tiny-jet-b"), "config.json");
        var r = await CliRunner.RunAsync(["bench", "--config", config, "-t", "2", "-p", "8", "-n", "2", "-d", "0", "-r", "1"], ct: Ct);
        r.AssertOk();
        Assert.Contains("(random)", r.Out);
        Assert.Contains("pp8", r.Out);
        Assert.Contains("tg2", r.Out);
        Assert.DoesNotContain("@ d", r.Out);
    }

    [Fact]
    public async Task BenchLongerThanTheModelIsUsageError()
    {
        string folder = TestModels.RequireFolder("tiny-jet-b");
        var r = await CliRunner.RunAsync(["bench", "-m", folder, "-p", "8", "-n", "8", "-d", "100000000", "-r", "1"], ct: Ct);
        r.AssertError(2, "context");
    }

    // ------------------------------------------------------------------ the demo model: text in, text out

    [Fact]
    public async Task GenerateWithTheDefaultModelStreamsTextAndTimings()
    {
        CliRunner.RequireDemoModel();
        var r = await CliRunner.RunAsync(["generate", "ROMEO:", "-n", "12", "--temp", "0", "-t", "2"], ct: Ct);
        r.AssertOk();
        Assert.StartsWith("ROMEO:", r.Out);
        Assert.True(r.Out.TrimEnd().Length > "ROMEO:".Length, $"nothing generated: '{r.Out}'");
        Assert.Matches(@"prefill: \d+ tokens in [\d.]+ ms \([\d.]+ tok/s\) \| decode: \d+ tokens in [\d.]+ ms \([\d.]+ tok/s\)", r.Error);
    }

    [Fact]
    public async Task GenerateIsReproducibleWithASeed()
    {
        CliRunner.RequireDemoModel();
        string[] args = ["generate", "-p", "JULIET:", "-n", "16", "-s", "1234", "--temp", "0.9", "-t", "2"];
        var a = await CliRunner.RunAsync(args, ct: Ct);
        var b = await CliRunner.RunAsync(args, ct: Ct);
        a.AssertOk();
        Assert.Equal(a.Out, b.Out);
    }

    [Fact]
    public async Task GenerateFromAFile()
    {
        CliRunner.RequireDemoModel();
        using var temp = new TempFolder();
        File.WriteAllText(temp.FilePath("p.txt"), "First Citizen:\n");
        var r = await CliRunner.RunAsync(["generate", "-f", temp.FilePath("p.txt"), "-n", "4", "--temp", "0", "-t", "2"], ct: Ct);
        r.AssertOk();
        Assert.StartsWith("First Citizen:\n", r.Out);
    }

    [Fact]
    public async Task PromptLongerThanTheContextIsRuntimeError()
    {
        CliRunner.RequireDemoModel();
        string prompt = string.Concat(Enumerable.Repeat("To be, or not to be, that is the question. ", 20));
        var r = await CliRunner.RunAsync(["generate", prompt, "-c", "16", "-n", "4", "-t", "2"], ct: Ct);
        r.AssertError(1, "context");
        Assert.DoesNotContain("prefill:", r.Error);  // no timing line for a generation that never ran
        Assert.Equal("", r.Out);
    }

    [Fact]
    public async Task CancelledGenerationExitsCleanly()
    {
        CliRunner.RequireDemoModel();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        // Ctrl+C as soon as the first generated text arrives after the echoed prompt.
        using var output = new CancellingWriter(cts, afterLength: "ROMEO:".Length);
        using var error = new StringWriter();
        int code = await JetNative.Cli.CliApp.RunAsync(["generate", "ROMEO:", "-n", "100000", "-c", "512", "-s", "1", "-t", "2"],
            new JetNative.Cli.CliConsole(output, error, new StringReader("")), cts.Token);
        var r = new CliResult(code, output.ToString(), error.ToString());
        r.AssertError(130, "cancelled");
        Assert.Contains("end: cancelled", r.Error);
        Assert.StartsWith("ROMEO:", r.Out);
    }

    private sealed class CancellingWriter(CancellationTokenSource cts, int afterLength) : StringWriter
    {
        public override void Write(string? value)
        {
            base.Write(value);
            if (GetStringBuilder().Length > afterLength) cts.Cancel();
        }
    }

    [Fact]
    public async Task AnEmptyPromptIsAUsageErrorWithoutATimingLine()
    {
        CliRunner.RequireDemoModel();
        var r = await CliRunner.RunAsync(["generate", "", "-n", "4", "-t", "2"], ct: Ct);
        r.AssertError(2, "the prompt is empty");
        Assert.DoesNotContain("prefill:", r.Error);
        var piped = await CliRunner.RunAsync(["generate", "-f", "-", "-n", "4", "-t", "2"], "", Ct);
        piped.AssertError(2, "the prompt is empty");
    }

    [Fact]
    public async Task GenerateReadsThePromptFromStdinWithFileDash()
    {
        CliRunner.RequireDemoModel();
        var r = await CliRunner.RunAsync(["generate", "-f", "-", "-n", "4", "--temp", "0", "-t", "2"], "KING HENRY:\n", Ct);
        r.AssertOk();
        Assert.StartsWith("KING HENRY:\n", r.Out);
        Assert.True(r.Out.Length > "KING HENRY:\n".Length);
    }

    [Fact]
    public async Task GenerateWithoutASeedDrawsOne()
    {
        CliRunner.RequireDemoModel();
        string[] args = ["generate", "-p", "JULIET:", "-n", "16", "--temp", "0.9", "-t", "2"];
        var outputs = new List<string>();
        for (int i = 0; i < 3; i++)
            outputs.Add((await CliRunner.RunAsync(args, ct: Ct)).Out);
        Assert.True(outputs.Distinct().Count() > 1, "three unseeded runs printed the same text");
    }

    [Fact]
    public async Task AClosedStdoutStopsTheGenerationQuietly()
    {
        CliRunner.RequireDemoModel();
        // `jetnative generate ... | head -c 10`: the reader leaves, writes fail with EPIPE.
        using var output = new BrokenPipeWriter(afterLength: 10);
        using var error = new StringWriter();
        int code = await JetNative.Cli.CliApp.RunAsync(["generate", "ROMEO:", "-n", "100000", "-c", "2048", "-s", "1", "-t", "2"],
            new JetNative.Cli.CliConsole(output, error, new StringReader("")), Ct);
        var r = new CliResult(code, output.ToString(), error.ToString());
        r.AssertOk();
        Assert.Contains("end: output closed", r.Error);
        var decoded = Regex.Match(r.Error, @"decode: (\d+) tokens");
        Assert.True(int.Parse(decoded.Groups[1].Value, CultureInfo.InvariantCulture) < 50, r.Error);
        Assert.True(output.Attempts < 60, $"{output.Attempts} writes after the pipe closed");
    }

    [Fact]
    public async Task ChatEndsWhenStdinIsClosedOrStdoutLeaves()
    {
        CliRunner.RequireDemoModel();
        using var error = new StringWriter();
        int code = await JetNative.Cli.CliApp.RunAsync(["chat", "-n", "4", "-t", "2"],
            new JetNative.Cli.CliConsole(new StringWriter(), error, new ClosedReader()), Ct);
        Assert.True(code == 0, error.ToString());

        using var output = new BrokenPipeWriter(afterLength: 0);
        using var error2 = new StringWriter();
        code = await JetNative.Cli.CliApp.RunAsync(["chat", "-n", "4", "-t", "2"],
            new JetNative.Cli.CliConsole(output, error2, new StringReader(string.Concat(Enumerable.Repeat("Hail!\n", 50)))), Ct);
        Assert.True(code == 0, error2.ToString());
        Assert.Single(Regex.Matches(error2.ToString(), "prefill: "));  // the first answer found stdout gone: no more turns
    }

    [Fact]
    public async Task TheRealProcessStopsAtAClosedPipeAndAClosedStdin()
    {
        CliRunner.RequireDemoModel();
        Assert.SkipUnless(OperatingSystem.IsLinux() && File.Exists("/bin/sh"), "needs /bin/sh");
        string cli = $"'{Environment.ProcessPath}' '{typeof(JetNative.Cli.CliApp).Assembly.Location}'";
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) != "dotnet")
            cli = $"dotnet '{typeof(JetNative.Cli.CliApp).Assembly.Location}'";
        // The process's own stdout (not a test writer): .NET's console stream would drop EPIPE silently.
        (int code, string output, string error) = await Shell($"({cli} generate ROMEO: -n 100000 -c 4096 -s 1 -t 2; echo \"rc=$?\" >&2) | head -c 10");
        Assert.True(code == 0, error);
        Assert.Contains("rc=0", error);
        Assert.Equal(10, output.Length);
        Assert.Contains("end: output closed", error);
        // Stdout a regular file shared with the shell: what the shell writes after us is appended.
        using var temp = new TempFolder();
        string file = temp.FilePath("out.txt");
        (code, _, error) = await Shell($"(echo first; {cli} generate hi -n 3 -s 1 -t 2; echo last) > '{file}'");
        Assert.True(code == 0, error);
        string written = File.ReadAllText(file);
        Assert.StartsWith("first\nhi", written);
        Assert.EndsWith("\nlast\n", written);
        // Stdin closed at launch: chat leaves at once, and -f - reads an empty prompt.
        (code, _, error) = await Shell($"{cli} chat -n 2 -t 2 <&-");
        Assert.True(code == 0, error);
        (code, _, error) = await Shell($"{cli} generate -f - -n 2 -t 2 <&-");
        Assert.Equal(2, code);
        Assert.Contains("error: the prompt is empty", error);
    }

    private static async Task<(int Code, string Out, string Error)> Shell(string command)
    {
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh", ["-c", command])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync(Ct);
        Task<string> error = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{command}' ran for more than 120 s (a hang)");
        }
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Stdout whose reader left after <c>afterLength</c> characters: later writes throw IOException (EPIPE).</summary>
    private sealed class BrokenPipeWriter(int afterLength) : StringWriter
    {
        public int Attempts { get; private set; }

        public override void Write(char value) => Write(value.ToString());

        public override void Write(string? value)
        {
            if (GetStringBuilder().Length >= afterLength)
            {
                Attempts++;
                throw new IOException("Broken pipe");
            }
            base.Write(value);
        }

        public override void WriteLine(string? value) => Write(value + "\n");
    }

    /// <summary>A stdin whose descriptor is closed: reading fails.</summary>
    private sealed class ClosedReader : TextReader
    {
        public override int Read() => throw new IOException("Bad file descriptor");

        public override string? ReadLine() => throw new IOException("Bad file descriptor");

        public override ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken) =>
            ValueTask.FromException<string?>(new IOException("Bad file descriptor"));
    }

    [Fact]
    public async Task ChatAnswersEachLineAndResets()
    {
        CliRunner.RequireDemoModel();
        string input = "Good morrow, sir.\n/reset\nWhat news?\n/exit\nnot read\n";
        var r = await CliRunner.RunAsync(["chat", "-n", "8", "--temp", "0", "-t", "2"], input, Ct);
        r.AssertOk();
        Assert.Contains("(conversation reset)", r.Error);
        Assert.Equal(2, Regex.Matches(r.Error, "prefill: ").Count);
        Assert.Equal(2, r.Out.Split('\n').Length - 1); // one line per answer
    }

    [Fact]
    public async Task ChatKeepsTheConversationInTheCache()
    {
        CliRunner.RequireDemoModel();
        var r = await CliRunner.RunAsync(["chat", "-n", "6", "--temp", "0", "-t", "2"], "Hail!\nAnd again?\n", Ct);
        r.AssertOk();
        var prefills = Regex.Matches(r.Error, @"prefill: (\d+) tokens").Select(m => int.Parse(m.Groups[1].Value)).ToArray();
        Assert.Equal(2, prefills.Length);
        // The second turn prefills only its new tokens, not the whole conversation again.
        var full = Regex.Matches(r.Error, @"decode: (\d+) tokens").Select(m => int.Parse(m.Groups[1].Value)).ToArray();
        Assert.True(prefills[1] < prefills[0] + full[0] + 20, $"second prefill {prefills[1]} re-read the conversation");
    }

    [Fact]
    public async Task EvalPerplexityOfAText()
    {
        CliRunner.RequireDemoModel();
        using var temp = new TempFolder();
        File.WriteAllText(temp.FilePath("t.txt"), string.Concat(Enumerable.Repeat(
            "ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n\n", 8)));
        var r = await CliRunner.RunAsync(["eval", "-f", temp.FilePath("t.txt"), "--window", "32", "--chunks", "3", "-t", "2"], ct: Ct);
        r.AssertOk();
        var m = Regex.Match(r.Out, @"perplexity: ([\d.]+) over (\d+) predicted tokens \((\d+) windows of 32 tokens");
        Assert.True(m.Success, r.Out);
        double ppl = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(ppl, 1.0, 1e6);
        Assert.Equal(3, int.Parse(m.Groups[3].Value));
        Assert.Equal(3 * 31, int.Parse(m.Groups[2].Value));
    }

    [Fact]
    public async Task EvalFollowsTheDemoModelsProtocol()
    {
        string demo = CliRunner.RequireDemoModel();
        string text = Path.Combine(TestModels.Shared, "data", "tinyshakespeare.txt");
        Assert.SkipUnless(File.Exists(text), $"needs {text} (../shared beside the checkout)");
        var r = await CliRunner.RunAsync(["eval", "-f", text, "--chunks", "4", "-t", "2"], ct: Ct);
        r.AssertOk();
        using var protocol = JsonDocument.Parse(File.ReadAllText(Path.Combine(demo, "eval.json")));
        int window = protocol.RootElement.GetProperty("window").GetInt32();
        long start = protocol.RootElement.GetProperty("byte_start").GetInt64();
        Assert.Contains($"validation bytes [{start}, ", r.Error);
        var m = Regex.Match(r.Out, $@"over (\d+) predicted tokens \(4 windows of {window} tokens; mean nll ([\d.]+)\)");
        Assert.True(m.Success, r.Out);
        Assert.Equal(4 * (window - 1), int.Parse(m.Groups[1].Value));
        double expected = protocol.RootElement.GetProperty("per_window_mean_nll").EnumerateArray().Take(4).Average(e => e.GetDouble());
        double actual = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.True(Math.Abs(actual - expected) < 1e-3, $"mean nll {actual}, eval.json's first 4 windows give {expected}");
    }
}
