using System.CommandLine;
using JetNative.Tokenization;

namespace JetNative.Cli.Commands;

/// <summary>
/// <c>jetnative chat</c>: an interactive conversation with the checkpoint's ChatML template. One
/// line of input is one user turn; <c>/reset</c> forgets the conversation, <c>/exit</c> (or end of
/// input) leaves. The session keeps the conversation's cache, so each turn prefills only its new
/// tokens. Works with stdin piped (one turn per line).
/// </summary>
internal static class ChatCommand
{
    public static Command Create(CliConsole io)
    {
        var system = new Option<string?>("--system", "-sys") { Description = "System message" };
        var nPredict = new Option<int>("--n-predict", "-n")
        {
            Description = "Most tokens per answer (-1 = until <|im_end|> or the context is full)",
            DefaultValueFactory = _ => 512,
        };
        var model = new ModelOptions();
        var sampling = new SamplingOptions();
        var command = new Command("chat", "Chat with the model (interactive; /reset, /exit)") { system, nPredict };
        model.AddTo(command);
        sampling.AddTo(command);

        command.SetAction(async (result, ct) =>
        {
            int n = result.GetValue(nPredict);
            if (n == 0 || n < -1) throw new UsageException($"--n-predict must be positive or -1, not {n}");
            ModelArgs modelArgs = model.Read(result);
            JetSamplingOptions samplingOptions = sampling.Read(result);
            using JetModel m = await ModelLoader.LoadAsync(io, modelArgs, ct);
            JetTokenizer tokenizer = ModelLoader.RequireTokenizer(m);
            int context = ModelLoader.Context(m, modelArgs.CtxSize);
            ModelLoader.CheckContext(m, context, modelArgs.AllowLongContext);
            using JetSession session = m.CreateSession(new JetSessionOptions { Context = context, AllowLongContext = modelArgs.AllowLongContext });
            var chat = new ChatLoop(io, session, tokenizer, samplingOptions, n, result.GetValue(system));
            await chat.RunAsync(ct);
            return ExitCodes.Ok;
        });
        return command;
    }
}

/// <summary>The read-answer loop of <see cref="ChatCommand"/>.</summary>
internal sealed class ChatLoop(CliConsole io, JetSession session, JetTokenizer tokenizer, JetSamplingOptions sampling,
    int maxTokens, string? systemMessage)
{
    private readonly List<(string Role, string Content)> _history = [];
    private readonly List<int> _held = []; // the tokens the session's sequence 0 holds

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Reset();
        io.Error.WriteLine("chat: type a message; /reset starts over, /exit leaves.");
        while (true)
        {
            io.Error.Write("> ");
            io.Error.Flush();
            if (io.OutputClosed) break;
            string? line = await ReadLineAsync(cancellationToken);
            if (line is null || line.Trim() == "/exit") break;
            string text = line.Trim();
            if (text.Length == 0) continue;
            if (text == "/reset")
            {
                Reset();
                io.Error.WriteLine("(conversation reset)");
                continue;
            }
            if (text.StartsWith('/'))
            {
                io.Error.WriteLine($"error: unknown command '{text}': use /reset or /exit");
                continue;
            }
            await AnswerAsync(text, cancellationToken);
        }
    }

    /// <summary>The next line of input; null at its end, or when stdin is closed or unreadable.</summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await io.In.ReadLineAsync(cancellationToken);
        }
        catch (IOException)
        {
            return null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }

    private void Reset()
    {
        _history.Clear();
        if (!string.IsNullOrEmpty(systemMessage)) _history.Add(("system", systemMessage));
        _held.Clear();
        session.Reset();
    }

    private async Task AnswerAsync(string userText, CancellationToken cancellationToken)
    {
        _history.Add(("user", userText));
        int[] all = tokenizer.Encode(tokenizer.ApplyChatTemplate(_history, addGenerationPrompt: true)).ToArray();
        // Prefill only what the session does not hold yet; if the re-rendered conversation does not
        // start with the held tokens (a different tokenization of an answer), start the cache over.
        if (!StartsWith(all, _held))
        {
            session.Reset();
            _held.Clear();
        }
        int[] fresh = all[_held.Count..];
        if (session.Position + fresh.Length > session.Context)
        {
            _history.RemoveAt(_history.Count - 1);
            io.Error.WriteLine($"error: the conversation no longer fits the context ({session.Context} tokens): /reset to start over, or raise -c");
            return;
        }
        var stats = new GenerationStats();
        var options = new JetGenerationOptions { Sampling = sampling, MaxTokens = maxTokens };
        JetGeneration generation = await GenerationRun.PrefillAsync(io, session, fresh, options, stats, cancellationToken);
        _held.AddRange(fresh);
        try
        {
            await GenerationRun.GenerateAsync(io, session, generation, stats, piece => io.Out.Write(piece), cancellationToken);
        }
        finally
        {
            io.Out.WriteLine();
            io.Out.Flush();
            // The session holds what was decoded (all of the answer, or all but its last token when
            // cancelled): keep the conversation in step with it.
            _held.AddRange(generation.Tokens.Take(session.Position - _held.Count));
            _history.Add(("assistant", generation.Text));
        }
        io.Error.WriteLine(stats.Summary());
    }

    private static bool StartsWith(int[] all, List<int> prefix)
    {
        if (prefix.Count > all.Length) return false;
        for (int i = 0; i < prefix.Count; i++)
            if (all[i] != prefix[i]) return false;
        return true;
    }
}
