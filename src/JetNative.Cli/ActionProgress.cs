namespace JetNative.Cli;

/// <summary>An <see cref="IProgress{T}"/> that reports synchronously on the caller's thread.</summary>
internal sealed class ActionProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
