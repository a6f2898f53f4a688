using System.Text;

namespace JetNative.Cli;

/// <summary>
/// Stdout that tolerates its reader leaving (<c>jetnative generate ... | head -c 10</c>): the first
/// write or flush that fails with an IOException (EPIPE) marks it <see cref="Closed"/>, and every
/// later write is dropped, so the command can stop generating and exit quietly.
/// </summary>
internal sealed class ClosedPipeWriter(TextWriter inner) : TextWriter
{
    /// <summary>True once a write or flush failed: the reader is gone.</summary>
    public bool Closed { get; private set; }

    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value) => Guard(() => inner.Write(value));

    public override void Write(string? value) => Guard(() => inner.Write(value));

    public override void Write(char[] buffer, int index, int count) => Guard(() => inner.Write(buffer, index, count));

    public override void WriteLine(string? value) => Guard(() => inner.WriteLine(value));

    public override void Flush() => Guard(inner.Flush);

    public override string ToString() => inner.ToString() ?? "";

    private void Guard(Action write)
    {
        if (Closed) return;
        try
        {
            write();
        }
        catch (IOException)
        {
            Closed = true;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Guard(inner.Dispose);
        base.Dispose(disposing);
    }
}
