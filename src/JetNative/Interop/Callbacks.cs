using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace JetNative.Interop;

/// <summary>
/// State of one native call: the caller's IProgress and token. A progress callback returns 0
/// (cancel) and the abort callback 1 (stop) once the token is cancelled or the IProgress threw;
/// the exception is kept and rethrown by the caller after the native call returns.
/// </summary>
internal sealed class CallbackState
{
    public IProgress<float>? Progress;
    public CancellationToken CancellationToken;
    public Exception? Error;

    public int ShouldAbort() => Error is not null || CancellationToken.IsCancellationRequested ? 1 : 0;

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

    /// <summary>Rethrows an exception a callback caught, keeping its stack trace.</summary>
    public void ThrowIfFailed()
    {
        if (Error is not null)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(Error).Throw();
    }
}

/// <summary>
/// The [UnmanagedCallersOnly] functions handed to native code. user_data is a GCHandle of a
/// <see cref="CallbackState"/> that lives for the duration of one native call.
/// </summary>
internal static unsafe class Callbacks
{
    public static delegate* unmanaged[Cdecl]<float, nint, int> Progress => &OnProgress;
    public static delegate* unmanaged[Cdecl]<nint, int> Abort => &OnAbort;

    private static CallbackState? Resolve(nint userData) =>
        userData == 0 ? null : GCHandle.FromIntPtr(userData).Target as CallbackState;

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
    private static int OnAbort(nint userData)
    {
        try
        {
            return Resolve(userData)?.ShouldAbort() ?? 0;
        }
        catch
        {
            return 1;
        }
    }
}
