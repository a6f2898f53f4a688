using JetNative.Interop;

namespace JetNative;

/// <summary>
/// A failure reported by the native engine: the <see cref="JetStatus"/> of the failed call and the
/// engine's own message (from <c>jet_last_error()</c>). Cancellation is reported as
/// <see cref="OperationCanceledException"/> instead.
/// </summary>
public sealed class JetException : Exception
{
    /// <summary>A failure of kind <paramref name="status"/> with the engine's (or the managed layer's) <paramref name="message"/>.</summary>
    public JetException(JetStatus status, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Status = status;
        NativeMessage = message;
    }

    /// <summary>What kind of failure it is.</summary>
    public JetStatus Status { get; }

    /// <summary>The message as the engine (or the managed layer) wrote it, without the status prefix.</summary>
    public string NativeMessage { get; }

    /// <summary>The message followed by the status name, e.g. "... (JET_ERR_FORMAT)".</summary>
    public override string Message => $"{NativeMessage} ({StatusName(Status)})";

    internal static string StatusName(JetStatus status) => status switch
    {
        JetStatus.Ok => "JET_OK",
        JetStatus.InvalidArgument => "JET_ERR_INVALID_ARGUMENT",
        JetStatus.Io => "JET_ERR_IO",
        JetStatus.Format => "JET_ERR_FORMAT",
        JetStatus.OutOfMemory => "JET_ERR_OUT_OF_MEMORY",
        JetStatus.ContextFull => "JET_ERR_CONTEXT_FULL",
        JetStatus.Cancelled => "JET_ERR_CANCELLED",
        JetStatus.Device => "JET_ERR_DEVICE",
        JetStatus.Unsupported => "JET_ERR_UNSUPPORTED",
        JetStatus.Internal => "JET_ERR_INTERNAL",
        _ => $"status {(int)status}",
    };

    /// <summary>
    /// Throws for a failed native call. Must run on the thread that made the call, right after it
    /// (the native message is per thread). JET_ERR_CANCELLED becomes OperationCanceledException.
    /// </summary>
    internal static void Check(JetStatus status, CancellationToken cancellationToken = default)
    {
        if (status == JetStatus.Ok)
            return;
        string message = LastNativeError();
        if (message.Length == 0)
            message = $"native call failed with {StatusName(status)}";
        if (status == JetStatus.Cancelled)
            throw new OperationCanceledException(message, cancellationToken);
        throw new JetException(status, message);
    }

    internal static unsafe string LastNativeError() =>
        System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)NativeMethods.jet_last_error()) ?? "";
}
