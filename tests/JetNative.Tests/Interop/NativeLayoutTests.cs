using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using JetNative.Interop;
using Xunit;

namespace JetNative.Tests.Interop;

/// <summary>The generated managed structs against clang's layout of jet.h (from the generator).</summary>
public sealed class NativeLayoutTests
{
    public static TheoryData<string> StructNames()
    {
        var data = new TheoryData<string>();
        foreach (NativeStructLayout s in NativeLayout.Structs)
            data.Add(s.CName);
        return data;
    }

    private static NativeStructLayout Find(string cName) => NativeLayout.Structs.Single(s => s.CName == cName);

    [Fact]
    public void EveryParamsAndInfoStructIsInTheTable()
    {
        string[] names = NativeLayout.Structs.Select(s => s.CName).ToArray();
        Assert.Contains("jet_model_params", names);
        Assert.Contains("jet_model_info", names);
        Assert.Contains("jet_session_params", names);
        Assert.Contains("jet_sampler_params", names);
        Assert.Contains("jet_cache_breakdown", names);
    }

    [Theory]
    [MemberData(nameof(StructNames))]
    public void ManagedSizeMatchesClang(string cName)
    {
        NativeStructLayout layout = Find(cName);
        MethodInfo sizeOf = typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(layout.ManagedType);
        Assert.Equal(layout.Size, (int)sizeOf.Invoke(null, null)!);
        Assert.Equal(layout.Size, Marshal.SizeOf(layout.ManagedType));
    }

    [Theory]
    [MemberData(nameof(StructNames))]
    public void ManagedFieldOffsetsMatchClang(string cName)
    {
        NativeStructLayout layout = Find(cName);
        FieldInfo[] fields = layout.ManagedType.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance);
        Assert.Equal(layout.Fields.Length, fields.Length);
        foreach (NativeFieldLayout f in layout.Fields)
            Assert.Equal(f.Offset, (int)Marshal.OffsetOf(layout.ManagedType, f.ManagedName));
    }

    [Theory]
    [MemberData(nameof(StructNames))]
    public void StructsStartWithTheirSize(string cName)
    {
        NativeStructLayout layout = Find(cName);
        Assert.Equal(("size", 0), (layout.Fields[0].CName, layout.Fields[0].Offset));
    }

    [Fact]
    public void ApiVersionOfTheBindingsIsTheLibrarys()
    {
        Assert.Equal(NativeMethods.JET_API_VERSION, JetNativeLibrary.ApiVersion);
        JetNativeLibrary.EnsureLoaded();
        Assert.Equal(NativeMethods.JET_API_VERSION, NativeMethods.jet_api_version());
    }

    [Fact]
    public unsafe void EveryStatusHasTheNativeName()
    {
        JetNativeLibrary.EnsureLoaded();
        foreach (JetStatus status in Enum.GetValues<JetStatus>())
        {
            string native = Marshal.PtrToStringUTF8((nint)NativeMethods.jet_status_name(status))!;
            Assert.Equal(JetException.StatusName(status), native);
        }
    }

    [Fact]
    public void GeneratedEnumsHaveTheHeaderValues()
    {
        Assert.Equal(0, (int)JetStatus.Ok);
        Assert.Equal(6, (int)JetStatus.Cancelled);
        Assert.Equal(9, (int)JetStatus.Internal);
        Assert.Equal(2, (int)JetLayerType.Jet);
        Assert.Equal(2, (int)JetLogitsMode.All);
        Assert.Equal(1, (int)JetDevice.Cuda);
    }
}
