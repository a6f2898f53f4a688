using System.CommandLine;
using JetNative.Tokenization;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative generate [PROMPT] [-p PROMPT | -f FILE] [-n N]</c>: echoes the prompt and streams
/// the continuation to stdout, then prints the prefill/decode timings on stderr.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(CliConsole io)
    {
        var promptArgument = new Argument<string?>("prompt")
        {
            Description = "Prompt text (or use -p / -f)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text" };
        var file = new Option<FileInfo?>("--file", "-f") { Description = "Read the prompt from a file" };
        var nPredict = new Option<int>("--n-predict", "-n")
        {
            Description = "Tokens to generate (-1 = until a stop token or the context is full)",
            DefaultValueFactory = _ => 128,
        };
        var model = new ModelOptions();
        var sampling = new SamplingOptions();
        var command = new Command("generate", "Generate text from a prompt") { promptArgument, prompt, file, nPredict };
        model.AddTo(command);
        sampling.AddTo(command);

        command.SetAction(async (result, ct) =>
        {
            string text = ReadPrompt(result.GetValue(promptArgument), result.GetValue(prompt), result.GetValue(file));
            int n = result.GetValue(nPredict);
            if (n == 0 || n < -1) throw new UsageException($"--n-predict must be positive or -1, not {n}");
            ModelArgs modelArgs = model.Read(result);
            JetSamplingOptions samplingOptions = sampling.Read(result);

            using JetModel m = await ModelLoader.LoadAsync(io, modelArgs, ct);
            JetTokenizer tokenizer = ModelLoader.RequireTokenizer(m);
            IReadOnlyList<int> ids = tokenizer.Encode(text);
            int context = ModelLoader.Context(m, modelArgs.CtxSize);
            using JetSession session = m.CreateSession(new JetSessionOptions { Context = context });
            using var sampler = new JetSampler(m.SamplingFor(samplingOptions));

            var stats = new GenerationStats();
            io.Out.Write(text);
            try
            {
                await TokenGenerator.RunAsync(io, session, tokenizer, ids, sampler, n, stats, piece => io.Out.Write(piece), ct);
            }
            finally
            {
                io.Out.WriteLine();
                io.Out.Flush();
                io.Error.WriteLine(stats.Summary());
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The prompt from exactly one of: the argument, -p, -f.</summary>
    internal static string ReadPrompt(string? argument, string? option, FileInfo? file)
    {
        int given = (argument is not null ? 1 : 0) + (option is not null ? 1 : 0) + (file is not null ? 1 : 0);
        if (given == 0) throw new UsageException("no prompt: pass it as an argument, with -p TEXT or with -f FILE");
        if (given > 1) throw new UsageException("give the prompt only once (argument, -p or -f)");
        if (file is not null)
        {
            if (!file.Exists) throw new FileNotFoundException($"prompt file not found: {file.FullName}", file.FullName);
            return File.ReadAllText(file.FullName);
        }
        return argument ?? option!;
    }
}
