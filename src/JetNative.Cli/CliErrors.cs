namespace JetNative.Cli;

/// <summary>Exit codes of <c>jetnative</c>.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>A runtime failure: missing or corrupt model, engine error, I/O error.</summary>
    public const int Runtime = 1;
    /// <summary>Bad usage: unknown option, bad option value, missing argument.</summary>
    public const int Usage = 2;
    /// <summary>Cancelled by Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}

/// <summary>Bad command-line usage (exit code 2): an option value out of range, a missing input.</summary>
internal sealed class UsageException(string message) : Exception(message);
