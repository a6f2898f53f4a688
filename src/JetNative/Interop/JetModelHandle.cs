using System.Runtime.InteropServices;

namespace JetNative.Interop;

/// <summary>Owns a native <c>jet_model*</c>; released with <c>jet_model_free</c>.</summary>
internal sealed class JetModelHandle : SafeHandle
{
    /// <summary>Used by the interop marshaller for <c>out</c> parameters.</summary>
    public JetModelHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.jet_model_free(handle);
        return true;
    }
}
