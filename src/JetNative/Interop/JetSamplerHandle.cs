using System.Runtime.InteropServices;

namespace JetNative.Interop;

/// <summary>Owns a native <c>jet_sampler*</c>; released with <c>jet_sampler_free</c>.</summary>
internal sealed class JetSamplerHandle : SafeHandle
{
    /// <summary>Used by the interop marshaller for <c>out</c> parameters.</summary>
    public JetSamplerHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.jet_sampler_free(handle);
        return true;
    }
}
