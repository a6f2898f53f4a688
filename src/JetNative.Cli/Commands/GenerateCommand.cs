using System.CommandLine;
using JetNative.Tokenization;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative generate [PROMPT] [-p PROMPT | -f FILE|-] [-n N]</c>: echoes the prompt and streams
/// the continuation to stdout, then prints the prefill/decode timings on stderr. Stops quietly
/// (exit 0) when stdout's reader leaves.
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
        var file = new Option<string?>("--file", "-f") { Description = "Read the prompt from a file ('-': from stdin)" };
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
            string text = ReadPrompt(result.GetValue(promptArgument), result.GetValue(prompt), result.GetValue(file), io.In);
            if (text.Length == 0) throw new UsageException("the prompt is empty");
            int n = result.GetValue(nPredict);
            if (n == 0 || n < -1) throw new UsageException($"--n-predict must be positive or -1, not {n}");
            ModelArgs modelArgs = model.Read(result);
            JetSamplingOptions samplingOptions = sampling.Read(result);

            using JetModel m = await ModelLoader.LoadAsync(io, modelArgs, ct);
            JetTokenizer tokenizer = ModelLoader.RequireTokenizer(m);
            IReadOnlyList<int> ids = tokenizer.Encode(text);
            int context = ModelLoader.Context(m, modelArgs.CtxSize);
            ModelLoader.CheckContext(m, context, modelArgs.AllowLongContext);
            if (ids.Count > context)
                throw new JetException(JetStatus.ContextFull,
                    $"the prompt has {ids.Count} tokens, more than the context of {context} (raise -c/--ctx-size)");
            using JetSession session = m.CreateSession(new JetSessionOptions { Context = context, AllowLongContext = modelArgs.AllowLongContext });
            var options = new JetGenerationOptions { Sampling = samplingOptions, MaxTokens = n };

            var stats = new GenerationStats();
            JetGeneration generation = await GenerationRun.PrefillAsync(io, session, ids, options, stats, ct);
            io.Out.Write(text);
            try
            {
                await GenerationRun.GenerateAsync(io, session, generation, stats, piece => io.Out.Write(piece), ct);
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

    /// <summary>The prompt from exactly one of: the argument, -p, -f (a file, or "-" for <paramref name="stdin"/>).</summary>
    internal static string ReadPrompt(string? argument, string? option, string? file, TextReader stdin)
    {
        int given = (argument is not null ? 1 : 0) + (option is not null ? 1 : 0) + (file is not null ? 1 : 0);
        if (given == 0) throw new UsageException("no prompt: pass it as an argument, with -p TEXT, with -f FILE or with -f - (stdin)");
        if (given > 1) throw new UsageException("give the prompt only once (argument, -p or -f)");
        if (file == "-")
            return stdin.ReadToEnd();
        if (file is not null)
        {
            string full = Path.GetFullPath(file);
            if (!File.Exists(full)) throw new FileNotFoundException($"prompt file not found: {full}", full);
            return File.ReadAllText(full);
        }
        return argument ?? option!;
    }
}
