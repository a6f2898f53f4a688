namespace JetNative.Cli;

/// <summary>
/// The streams one run of the CLI talks to: generated text on <see cref="Out"/>; logs, progress,
/// timings and errors on <see cref="Error"/>; chat input from <see cref="In"/>. Tests pass
/// StringWriters; <see cref="FromSystem"/> gives the process's own streams.
/// </summary>
internal sealed class CliConsole
{
    public CliConsole(TextWriter output, TextWriter error, TextReader input, bool errorIsTerminal = false)
    {
        Out = output as ClosedPipeWriter ?? new ClosedPipeWriter(output);
        Error = error;
        In = input;
        ErrorIsTerminal = errorIsTerminal;
    }

    /// <summary>Stdout; writes after its reader left are dropped (<see cref="OutputClosed"/>).</summary>
    public ClosedPipeWriter Out { get; }

    /// <summary>True once stdout's reader left (a closed pipe): stop producing output, exit quietly.</summary>
    public bool OutputClosed => Out.Closed;
    public TextWriter Error { get; }
    public TextReader In { get; }

    /// <summary>True when stderr is an interactive terminal: only then are progress bars drawn.</summary>
    public bool ErrorIsTerminal { get; }

    public static CliConsole FromSystem()
    {
        var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        return new CliConsole(stdout, Console.Error, Console.In, !Console.IsErrorRedirected);
    }
}
