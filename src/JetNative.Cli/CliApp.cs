using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json;
using JetNative.Cli.Commands;

namespace JetNative.Cli;

/// <summary>
/// The <c>jetnative</c> command line: parses, runs one command, and turns every failure into one
/// <c>error: ...</c> line on stderr and an exit code (1 runtime, 2 usage, 130 cancelled), never a
/// stack trace. Tests call <see cref="RunAsync"/> in-process with their own streams.
/// </summary>
internal static class CliApp
{
    public static RootCommand BuildRoot(CliConsole io)
    {
        var root = new RootCommand("jetnative: run NVIDIA Jet-Nemotron language models with the JetNative engine")
        {
            GenerateCommand.Create(io),
            ChatCommand.Create(io),
            InfoCommand.Create(io),
            EvalCommand.Create(io),
            BenchCommand.Create(io),
            SearchCommand.Create(io),
            RandomCheckpointCommand.Create(io),
            QuantizeCommand.Create(io),
            GatewayCommand.Create(io),
            ServeCommand.Create(io),
        };
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CliConsole io, CancellationToken cancellationToken = default)
    {
        RootCommand root = BuildRoot(io);
        ParseResult result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            var names = new List<string>(); // the full path, e.g. "jetnative bench serve"
            for (SymbolResult? r = result.CommandResult; r is CommandResult c; r = c.Parent)
                names.Insert(0, c.Command is RootCommand ? "jetnative" : c.Command.Name);
            string command = string.Join(' ', names);
            io.Error.WriteLine($"error: {result.Errors[0].Message} (see '{command} --help')");
            return ExitCodes.Usage;
        }
        var config = new InvocationConfiguration
        {
            Output = io.Out,
            Error = io.Error,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null, // Ctrl+C is wired by Program into cancellationToken
        };
        try
        {
            return await result.InvokeAsync(config, cancellationToken);
        }
        catch (Exception e)
        {
            return Report(e, io, cancellationToken);
        }
        finally
        {
            io.Out.Flush();
        }
    }

    /// <summary>Writes the one-line message for <paramref name="e"/> and returns its exit code.</summary>
    internal static int Report(Exception e, CliConsole io, CancellationToken cancellationToken)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } agg) e = agg.InnerExceptions[0];
        (string message, int code) = e switch
        {
            UsageException => (e.Message, ExitCodes.Usage),
            OperationCanceledException when cancellationToken.IsCancellationRequested => ("cancelled", ExitCodes.Cancelled),
            JetException => (e.Message, ExitCodes.Runtime),
            FileNotFoundException f when f.FileName is not null && !e.Message.Contains(f.FileName) => ($"{e.Message}: {f.FileName}", ExitCodes.Runtime),
            JsonException => ($"invalid JSON: {e.Message}", ExitCodes.Runtime),
            DllNotFoundException => ($"the native engine (libjet.so) could not be loaded: {e.Message}", ExitCodes.Runtime),
            IOException or UnauthorizedAccessException or InvalidDataException or FormatException
                or NotSupportedException or ArgumentException or InvalidOperationException or OperationCanceledException
                => (e.Message, ExitCodes.Runtime),
            _ => ($"internal error ({e.GetType().Name}): {e.Message}", ExitCodes.Runtime),
        };
        io.Out.Flush();
        io.Error.WriteLine($"error: {OneLine(message)}");
        return code;
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
