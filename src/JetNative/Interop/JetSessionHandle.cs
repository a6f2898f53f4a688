using System.Runtime.InteropServices;

namespace JetNative.Interop;

/// <summary>
/// Owns a native <c>jet_session*</c>; released with <c>jet_session_free</c>. It holds a reference
/// on its model's handle (DangerousAddRef), so the model handle is released only after every
/// session made from it, whatever order the finalizers run in.
/// </summary>
internal sealed class JetSessionHandle : SafeHandle
{
    private JetModelHandle? _model;

    /// <summary>Used by the interop marshaller for <c>out</c> parameters.</summary>
    public JetSessionHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Keeps <paramref name="model"/> alive until this session handle is released.</summary>
    public void KeepAlive(JetModelHandle model)
    {
        bool added = false;
        model.DangerousAddRef(ref added);
        if (added)
            _model = model;
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.jet_session_free(handle);
        _model?.DangerousRelease();
        _model = null;
        return true;
    }
}
