using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using JetNative.Interop;
using Microsoft.Extensions.Logging;

namespace JetNative;

/// <summary>
/// Finds and loads the native engine (libjet) and checks that it speaks the C ABI this assembly
/// was generated for. Search order, like LLamaSharp's NativeLibraryConfig: the explicit
/// configuration (<see cref="Path"/> or <see cref="Configure"/>), the JETNATIVE_LIBRARY_PATH
/// environment variable, the package layout runtimes/{rid}/native/ beside the assembly and the
/// app, then the folder of the assembly and the app. Nothing else is searched. When all fail,
/// the exception lists every path tried and, for a file that exists but does not load, the
/// loader's reason (e.g. a missing libopenblas.so.0).
/// </summary>
public static partial class JetNativeLibrary
{
    /// <summary>Environment variable naming the native library file (or its folder).</summary>
    public const string EnvironmentVariable = "JETNATIVE_LIBRARY_PATH";

    private static readonly object Gate = new();
    private static string? _path;
    private static nint _handle;
    private static string? _loadedPath;
    private static ILogger? _logger;

    /// <summary>
    /// An explicit path to libjet (file or folder), tried first. Set it before the first use of
    /// the library; setting it afterwards throws InvalidOperationException.
    /// </summary>
    public static string? Path
    {
        get => _path;
        set
        {
            lock (Gate)
            {
                if (_handle != 0)
                    throw new InvalidOperationException(
                        $"the native library is already loaded from {_loadedPath}; set JetNativeLibrary.Path before the first use");
                _path = value;
            }
        }
    }

    /// <summary>
    /// Uses the libjet at <paramref name="path"/> (the file, or the folder holding it): the same as
    /// setting <see cref="Path"/>. Call it before the first use of the library; afterwards it throws
    /// InvalidOperationException.
    /// </summary>
    public static void Configure(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = path;
    }

    /// <summary>JET_API_VERSION this assembly was generated for.</summary>
    public static uint ApiVersion => NativeMethods.JET_API_VERSION;

    /// <summary>The file the native library was loaded from (loads it if needed).</summary>
    public static string LoadedPath
    {
        get { EnsureLoaded(); return _loadedPath!; }
    }

    /// <summary>The native library's version string, e.g. "0.1.0 (+cuda)".</summary>
    public static unsafe string Version
    {
        get { EnsureLoaded(); return Marshal.PtrToStringUTF8((nint)NativeMethods.jet_version_string()) ?? ""; }
    }

    /// <summary>Usable CUDA devices (0 when the library has no CUDA backend or there is no GPU).</summary>
    public static int CudaDeviceCount
    {
        get { EnsureLoaded(); return NativeMethods.jet_cuda_device_count(); }
    }

    /// <summary>
    /// Sends the engine's log lines to <paramref name="logger"/> (null restores the engine's default:
    /// warnings and errors to stderr). Process-wide.
    /// </summary>
    public static unsafe void SetLogger(ILogger? logger)
    {
        EnsureLoaded();
        lock (Gate)
        {
            _logger = logger;
            if (logger is null)
                NativeMethods.jet_set_log_callback(null, 0);
            else
                NativeMethods.jet_set_log_callback(&OnLog, 0);
        }
    }

    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    private static unsafe void OnLog(int level, byte* message, nint userData)
    {
        try
        {
            ILogger? logger = _logger;
            if (logger is null)
                return;
            LogLevel mapped = (JetLogLevel)level switch
            {
                JetLogLevel.Debug => LogLevel.Debug,
                JetLogLevel.Info => LogLevel.Information,
                JetLogLevel.Warn => LogLevel.Warning,
                _ => LogLevel.Error,
            };
            if (logger.IsEnabled(mapped))
                logger.Log(mapped, "{Message}", Marshal.PtrToStringUTF8((nint)message) ?? "");
        }
        catch
        {
            // An exception must never unwind into native code; a failing logger loses the line.
        }
    }

    // A module initializer, so the resolver is in place before any P/Invoke of this assembly runs.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterResolver()
    {
        NativeLibrary.SetDllImportResolver(typeof(JetNativeLibrary).Assembly, Resolve);
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != NativeMethods.LibraryName)
            return 0;
        try
        {
            EnsureLoaded();
            return _handle;
        }
        catch
        {
            return 0;  // the runtime then reports DllNotFoundException; EnsureLoaded has the details
        }
    }

    /// <summary>
    /// Loads the library if not yet loaded. Throws DllNotFoundException listing every path tried,
    /// or JetException (Unsupported) when the library's API version differs from this assembly's.
    /// </summary>
    public static void EnsureLoaded()
    {
        if (_handle != 0)
            return;
        lock (Gate)
        {
            if (_handle != 0)
                return;
            IReadOnlyList<string> candidates = CandidatePaths(_path, Environment.GetEnvironmentVariable(EnvironmentVariable),
                AppContext.BaseDirectory, AssemblyDirectory);
            (nint handle, string path) = LoadFirst(candidates);
            _loadedPath = path;
            Volatile.Write(ref _handle, handle);  // published last: readers outside the lock test _handle
        }
    }

    /// <summary>
    /// Loads the first candidate that exists and loads, checking its API version. Throws
    /// DllNotFoundException listing every candidate and why it failed, or JetException
    /// (Unsupported) for a library of another JET_API_VERSION.
    /// </summary>
    internal static (nint Handle, string Path) LoadFirst(IReadOnlyList<string> candidates)
    {
        var tried = new List<string>();
        foreach (string candidate in candidates)
        {
            if (!File.Exists(candidate))
            {
                tried.Add($"{candidate} (not found)");
                continue;
            }
            if (!TryLoad(candidate, out nint handle, out string reason))
            {
                tried.Add($"{candidate} (cannot load: {reason})");
                continue;
            }
            uint version = ReadApiVersion(handle, candidate);
            if (version != NativeMethods.JET_API_VERSION)
            {
                NativeLibrary.Free(handle);
                throw new JetException(JetStatus.Unsupported,
                    $"the native library {candidate} has JET_API_VERSION {version}, but this JetNative assembly " +
                    $"needs JET_API_VERSION {NativeMethods.JET_API_VERSION}; use the libjet built from the same sources");
            }
            return (handle, candidate);
        }
        throw new DllNotFoundException(
            $"cannot find the JetNative native library ({LibraryFileName}); set JetNativeLibrary.Path or " +
            $"{EnvironmentVariable}. Tried:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", tried));
    }

    /// <summary>
    /// Loads one file. On failure <paramref name="reason"/> is the system loader's own message: on
    /// Linux dlerror() (which names a missing dependency such as libopenblas.so.0; NativeLibrary.TryLoad
    /// drops it), elsewhere the message of NativeLibrary.Load's exception.
    /// </summary>
    private static bool TryLoad(string path, out nint handle, out string reason)
    {
        reason = "";
        if (OperatingSystem.IsLinux())
        {
            try
            {
                // dlerror() first: it binds that P/Invoke now (binding it after a failed dlopen would run
                // the runtime's own dlsym, which clears the message) and drops any older message.
                Dl.Error();
                handle = Dl.Open(path, Dl.Lazy);
                if (handle != 0)
                    return true;
                reason = Marshal.PtrToStringUTF8(Dl.Error()) ?? "dlopen failed without a message";
                return false;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // no glibc libdl (e.g. musl): NativeLibrary.Load's message below
            }
        }
        try
        {
            handle = NativeLibrary.Load(path);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            handle = 0;
            reason = e.Message;
            return false;
        }
    }

    /// <summary>glibc's dynamic loader (libc.so.6 has dlopen since glibc 2.34; libdl.so.2 before).</summary>
    private static partial class Dl
    {
        public const int Lazy = 1; // RTLD_LAZY, as NativeLibrary.Load

        [LibraryImport("libdl.so.2", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
        public static partial nint Open(string path, int flags);

        [LibraryImport("libdl.so.2", EntryPoint = "dlerror")]
        public static partial nint Error();
    }

    /// <summary>The folder of JetNative.dll; null in a single-file app (where AppContext.BaseDirectory serves).</summary>
    private static string? AssemblyDirectory
    {
        get
        {
#pragma warning disable IL3000 // empty in a single-file app: handled
            string location = typeof(JetNativeLibrary).Assembly.Location;
#pragma warning restore IL3000
            return string.IsNullOrEmpty(location) ? null : System.IO.Path.GetDirectoryName(location);
        }
    }

    private static unsafe uint ReadApiVersion(nint handle, string path)
    {
        if (!NativeLibrary.TryGetExport(handle, "jet_api_version", out nint export))
        {
            NativeLibrary.Free(handle);
            throw new JetException(JetStatus.Unsupported,
                $"the native library {path} has no jet_api_version export: it is not a JetNative engine");
        }
        return ((delegate* unmanaged[Cdecl]<uint>)export)();
    }

    /// <summary>libjet.so, libjet.dylib or jet.dll: the engine's file name on this platform.</summary>
    internal static string LibraryFileName => LibraryFileNameFor(CurrentPlatform);

    /// <summary>runtimes/ folder name of this platform, e.g. linux-x64.</summary>
    internal static string RuntimeId => RuntimeIdFor(CurrentPlatform, RuntimeInformation.ProcessArchitecture);

    /// <summary>Windows, OSX or Linux (any other Unix is treated as Linux).</summary>
    internal static OSPlatform CurrentPlatform =>
        OperatingSystem.IsWindows() ? OSPlatform.Windows : OperatingSystem.IsMacOS() ? OSPlatform.OSX : OSPlatform.Linux;

    /// <summary>The engine's file name on <paramref name="os"/>: jet.dll (Windows), libjet.dylib (macOS), else libjet.so.</summary>
    internal static string LibraryFileNameFor(OSPlatform os) =>
        os == OSPlatform.Windows ? "jet.dll" : os == OSPlatform.OSX ? "libjet.dylib" : "libjet.so";

    /// <summary>The NuGet runtime identifier of <paramref name="os"/> and <paramref name="architecture"/>, e.g. win-x64, osx-arm64, linux-x64.</summary>
    internal static string RuntimeIdFor(OSPlatform os, Architecture architecture)
    {
        string name = os == OSPlatform.Windows ? "win" : os == OSPlatform.OSX ? "osx" : "linux";
        return $"{name}-{architecture.ToString().ToLowerInvariant()}";
    }

    /// <summary>Every place the library is looked for, in order (duplicates removed).</summary>
    internal static IReadOnlyList<string> CandidatePaths(string? explicitPath, string? environmentPath,
        string appDirectory, string? assemblyDirectory)
    {
        var list = new List<string>();
        void Add(string? path)
        {
            if (string.IsNullOrWhiteSpace(path))
                return;
            path = System.IO.Path.GetFullPath(path);
            if (Directory.Exists(path))
                path = System.IO.Path.Combine(path, LibraryFileName);
            if (!list.Contains(path))
                list.Add(path);
        }
        Add(explicitPath);
        Add(environmentPath);
        string runtimes = System.IO.Path.Combine("runtimes", RuntimeId, "native", LibraryFileName);
        if (!string.IsNullOrEmpty(assemblyDirectory))
            Add(System.IO.Path.Combine(assemblyDirectory, runtimes));
        Add(System.IO.Path.Combine(appDirectory, runtimes));
        if (!string.IsNullOrEmpty(assemblyDirectory))
            Add(System.IO.Path.Combine(assemblyDirectory, LibraryFileName));
        Add(System.IO.Path.Combine(appDirectory, LibraryFileName));
        return list;
    }
}
