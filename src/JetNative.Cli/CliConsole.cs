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

    /// <summary>
    /// The process's streams. Stdout is written through its file descriptor (not .NET's console
    /// stream, which drops EPIPE silently) when it is a pipe or a socket, so a closed pipe surfaces as an IOException that
    /// <see cref="ClosedPipeWriter"/> turns into <see cref="OutputClosed"/>. A stdin that was closed
    /// at launch reads as empty.
    /// </summary>
    public static CliConsole FromSystem()
    {
        Stream stdoutStream = StdoutIsPipe()
            ? new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0)
            : Console.OpenStandardOutput();
        var stdout = new StreamWriter(stdoutStream) { AutoFlush = true };
        TextReader stdin = StdinWasClosed() ? TextReader.Null : Console.In;
        return new CliConsole(stdout, Console.Error, stdin, !Console.IsErrorRedirected);
    }

    /// <summary>
    /// True when stdout is a pipe or a socket (Linux): only those can lose their reader, and only
    /// for those is a FileStream right (a regular file would be written with pwrite at the
    /// stream's own offset, not the descriptor's, overwriting what a shell appends after us).
    /// </summary>
    private static bool StdoutIsPipe()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            string? target = new FileInfo("/proc/self/fd/1").LinkTarget;
            return target is not null && (target.StartsWith("pipe:", StringComparison.Ordinal) || target.StartsWith("socket:", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// True when the process started with descriptor 0 closed (<c>jetnative chat &lt;&amp;-</c>): the
    /// runtime then reuses descriptor 0 for the read end of a pipe of its own, whose write end this
    /// process holds, and reading it would wait forever. Linux only (reads /proc/self/fd); false elsewhere.
    /// </summary>
    internal static bool StdinWasClosed()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            string? zero = new FileInfo("/proc/self/fd/0").LinkTarget;
            if (zero is null || !zero.StartsWith("pipe:", StringComparison.Ordinal)) return false;
            foreach (string fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                if (Path.GetFileName(fd) == "0") continue;
                // The write end of the same pipe, held by this process (a dup of stdin is read-only).
                if (new FileInfo(fd).LinkTarget == zero && OpenForWriting(Path.GetFileName(fd))) return true;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return false;
    }

    /// <summary>True when descriptor <paramref name="fd"/> is open write-only (its octal flags in /proc/self/fdinfo).</summary>
    private static bool OpenForWriting(string fd)
    {
        foreach (string line in File.ReadLines($"/proc/self/fdinfo/{fd}"))
        {
            if (!line.StartsWith("flags:", StringComparison.Ordinal)) continue;
            int flags = Convert.ToInt32(line["flags:".Length..].Trim(), 8);
            return (flags & 3) == 1; // O_WRONLY
        }
        return false;
    }
}
