using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace JetNative.Interop;

/// <summary>
/// State of one native call that reports progress: the caller's IProgress and token. A progress
/// callback returns 0 (cancel) once the token is cancelled or the IProgress threw; the exception
/// is kept and rethrown by the caller after the native call returns.
/// </summary>
internal sealed class CallbackState
{
    public IProgress<float>? Progress;
    public CancellationToken CancellationToken;
    public Func<int, bool>? OnToken;
    public Exception? Error;

    public int ReportProgress(float value)
    {
        if (Error is not null || CancellationToken.IsCancellationRequested)
            return 0;
        try
        {
            Progress?.Report(value);
            return 1;
        }
        catch (Exception e)
        {
            Error = e;
            return 0;
        }
    }

    public int ReportToken(int token)
    {
        if (Error is not null)
            return 0;
        try
        {
            return OnToken is null || OnToken(token) ? 1 : 0;
        }
        catch (Exception e)
        {
            Error = e;
            return 0;
        }
    }

    /// <summary>Rethrows an exception a callback caught, keeping its stack trace.</summary>
    public void ThrowIfFailed()
    {
        if (Error is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(Error).Throw();
    }
}

/// <summary>
/// The [UnmanagedCallersOnly] functions handed to native code. user_data is a GCHandle of a
/// <see cref="CallbackState"/> that lives for the duration of one native call. Session progress
/// (whose callback is fixed when the session is created, and copied by fork) uses user_data 0 and
/// the state of the call running on the current thread instead.
/// </summary>
internal static unsafe class Callbacks
{
    [ThreadStatic] private static CallbackState? _current;

    public static delegate* unmanaged[Cdecl]<float, nint, int> Progress => &OnProgress;
    public static delegate* unmanaged[Cdecl]<int, nint, int> Token => &OnToken;

    /// <summary>Makes <paramref name="state"/> the target of user_data-0 callbacks on this thread.</summary>
    public static CallbackState? SetCurrent(CallbackState? state)
    {
        CallbackState? previous = _current;
        _current = state;
        return previous;
    }

    private static CallbackState? Resolve(nint userData)
    {
        if (userData == 0)
            return _current;
        return GCHandle.FromIntPtr(userData).Target as CallbackState;
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    private static int OnProgress(float progress, nint userData)
    {
        try
        {
            return Resolve(userData)?.ReportProgress(progress) ?? 1;
        }
        catch
        {
            return 0;
        }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    private static int OnToken(int token, nint userData)
    {
        try
        {
            return Resolve(userData)?.ReportToken(token) ?? 1;
        }
        catch
        {
            return 0;
        }
    }
}
