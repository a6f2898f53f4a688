using System.Runtime.InteropServices;
using Xunit;

namespace JetNative.Tests;

public sealed class JetNativeLibraryTests
{
    [Fact]
    public void CandidatesFollowTheDocumentedOrder()
    {
        using var app = new Support.TempFolder();
        IReadOnlyList<string> paths = JetNativeLibrary.CandidatePaths("/opt/x/libjet.so", "/env/libjet.so", app.Path, null);
        Assert.Equal("/opt/x/libjet.so", paths[0]);
        Assert.Equal("/env/libjet.so", paths[1]);
        Assert.Equal(Path.Combine(app.Path, "runtimes", JetNativeLibrary.RuntimeId, "native", "libjet.so"), paths[2]);
        Assert.Equal(Path.Combine(app.Path, "libjet.so"), paths[3]);
        Assert.Equal(4, paths.Count);  // no JetNative.sln above a temp folder
    }

    public static TheoryData<OSPlatform, Architecture, string, string> Platforms => new()
    {
        { OSPlatform.Windows, Architecture.X64, "jet.dll", "win-x64" },
        { OSPlatform.Windows, Architecture.Arm64, "jet.dll", "win-arm64" },
        { OSPlatform.Linux, Architecture.X64, "libjet.so", "linux-x64" },
        { OSPlatform.Linux, Architecture.Arm64, "libjet.so", "linux-arm64" },
        { OSPlatform.OSX, Architecture.Arm64, "libjet.dylib", "osx-arm64" },
        { OSPlatform.OSX, Architecture.X64, "libjet.dylib", "osx-x64" },
    };

    [Theory]
    [MemberData(nameof(Platforms))]
    public void TheFileNameAndRuntimeIdFollowThePlatform(OSPlatform os, Architecture arch, string file, string rid)
    {
        Assert.Equal(file, JetNativeLibrary.LibraryFileNameFor(os));
        Assert.Equal(rid, JetNativeLibrary.RuntimeIdFor(os, arch));
    }

    [Fact]
    public void ThisPlatformsNamesAreThoseOfItsRuntimeFolder()
    {
        // The names the loader searches for here are the ones the runtime package uses
        // (runtimes/linux-x64/native/libjet.so, runtimes/win-x64/native/jet.dll).
        Assert.Equal(JetNativeLibrary.LibraryFileNameFor(JetNativeLibrary.CurrentPlatform), JetNativeLibrary.LibraryFileName);
        Assert.Equal(OperatingSystem.IsWindows() ? "jet.dll" : OperatingSystem.IsMacOS() ? "libjet.dylib" : "libjet.so",
            JetNativeLibrary.LibraryFileName);
        Assert.StartsWith(OperatingSystem.IsWindows() ? "win-" : OperatingSystem.IsMacOS() ? "osx-" : "linux-", JetNativeLibrary.RuntimeId);
        Assert.Equal(JetNativeLibrary.RuntimeIdFor(JetNativeLibrary.CurrentPlatform, RuntimeInformation.ProcessArchitecture),
            JetNativeLibrary.RuntimeId);
    }

    [Fact]
    public void AFolderGivenAsPathMeansTheLibraryInIt()
    {
        using var dir = new Support.TempFolder();
        IReadOnlyList<string> paths = JetNativeLibrary.CandidatePaths(dir.Path, null, dir.Path, null);
        Assert.Equal(Path.Combine(dir.Path, "libjet.so"), paths[0]);
    }

    [Fact]
    public void NothingButTheConfigurationAndThePackageLayoutIsSearched()
    {
        // From inside the checkout (the test binaries sit below JetNative.sln): no build folder of
        // the repository is a candidate, only the runtimes/ layout and the app folder.
        string app = AppContext.BaseDirectory;
        IReadOnlyList<string> paths = JetNativeLibrary.CandidatePaths(null, null, app, null);
        Assert.Equal([Path.Combine(app, "runtimes", JetNativeLibrary.RuntimeId, "native", "libjet.so"), Path.Combine(app, "libjet.so")], paths);
    }

    [Fact]
    public void TheTestsFindTheLibraryByConfigurationOrBesideThemselves()
    {
        JetNativeLibrary.EnsureLoaded();
        string? env = Environment.GetEnvironmentVariable(JetNativeLibrary.EnvironmentVariable);
        string expected = env is { Length: > 0 } ? Path.GetFullPath(env) : Path.Combine(AppContext.BaseDirectory, "libjet.so");
        Assert.Equal(expected, JetNativeLibrary.LoadedPath);
    }

    [Fact]
    public void ConfigureIsTheExplicitPath()
    {
        JetNativeLibrary.EnsureLoaded();
        Assert.Throws<ArgumentException>(() => JetNativeLibrary.Configure(" "));
        var e = Assert.Throws<InvalidOperationException>(() => JetNativeLibrary.Configure("/elsewhere/libjet.so"));
        Assert.Contains(JetNativeLibrary.LoadedPath, e.Message);
    }

    [Fact]
    public void TheLoadedLibraryReportsItsVersion()
    {
        JetNativeLibrary.EnsureLoaded();
        Assert.True(File.Exists(JetNativeLibrary.LoadedPath));
        Assert.Matches(@"^\d+\.\d+\.\d+", JetNativeLibrary.Version);
        Assert.True(JetNativeLibrary.CudaDeviceCount >= 0);
    }

    [Fact]
    public void PathCannotChangeOnceLoaded()
    {
        JetNativeLibrary.EnsureLoaded();
        var e = Assert.Throws<InvalidOperationException>(() => JetNativeLibrary.Path = "/elsewhere/libjet.so");
        Assert.Contains(JetNativeLibrary.LoadedPath, e.Message);
    }

    [Fact]
    public void WhenNothingLoadsEveryPathTriedIsListed()
    {
        using var dir = new Support.TempFolder();
        string garbage = dir.FilePath("libjet.so");
        File.WriteAllText(garbage, string.Concat(Enumerable.Repeat("not an ELF file. ", 16)));
        string missing = dir.FilePath("nowhere/libjet.so");
        var e = Assert.Throws<DllNotFoundException>(() => JetNativeLibrary.LoadFirst([missing, garbage]));
        Assert.Contains($"{missing} (not found)", e.Message);
        Assert.Contains($"{garbage} (cannot load: ", e.Message);
        Assert.Contains("invalid ELF header", e.Message); // the loader's reason, not just "failed"
        Assert.Contains(JetNativeLibrary.EnvironmentVariable, e.Message);
    }

    [Fact]
    public void ALibraryWhoseDependencyIsMissingIsNamedWithTheLoadersReason()
    {
        string? cc = new[] { "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang" }.FirstOrDefault(File.Exists);
        if (cc is null || !OperatingSystem.IsLinux())
            Assert.Skip("needs a C compiler (cc) on Linux to build a fake libjet");
        using var dir = new Support.TempFolder();
        // libjet.so linked against libjetmissingdep.so, which is then deleted (as libopenblas.so.0
        // is absent on a machine without OpenBLAS).
        File.WriteAllText(dir.FilePath("dep.c"), "int jet_dep(void) { return 1; }\n");
        File.WriteAllText(dir.FilePath("fake.c"), "int jet_dep(void);\nunsigned jet_api_version(void) { return (unsigned)jet_dep(); }\n");
        string dep = dir.FilePath("libjetmissingdep.so"), lib = dir.FilePath("libjet.so");
        Compile(cc, ["-shared", "-fPIC", "-o", dep, dir.FilePath("dep.c")]);
        Compile(cc, ["-shared", "-fPIC", "-o", lib, dir.FilePath("fake.c"), "-L" + dir.Path, "-ljetmissingdep"]);
        File.Delete(dep);
        var e = Assert.Throws<DllNotFoundException>(() => JetNativeLibrary.LoadFirst([lib]));
        Assert.Contains($"{lib} (cannot load: ", e.Message);
        Assert.Contains("libjetmissingdep.so: cannot open shared object file", e.Message);
    }

    private static void Compile(string cc, string[] arguments)
    {
        using var p = System.Diagnostics.Process.Start(cc, arguments);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    [Fact]
    public void ALibraryOfAnotherApiVersionIsRefused()
    {
        string? cc = new[] { "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang" }.FirstOrDefault(File.Exists);
        if (cc is null || !OperatingSystem.IsLinux())
            Assert.Skip("needs a C compiler (cc) on Linux to build a fake libjet");
        using var dir = new Support.TempFolder();
        File.WriteAllText(dir.FilePath("fake.c"), "unsigned jet_api_version(void) { return 999; }\n");
        string lib = dir.FilePath("libjet.so");
        using (var p = System.Diagnostics.Process.Start(cc, ["-shared", "-fPIC", "-o", lib, dir.FilePath("fake.c")]))
        {
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }
        var e = Assert.Throws<JetException>(() => JetNativeLibrary.LoadFirst([lib]));
        Assert.Equal(JetStatus.Unsupported, e.Status);
        Assert.Contains("JET_API_VERSION 999", e.Message);
        Assert.Contains($"JET_API_VERSION {JetNativeLibrary.ApiVersion}", e.Message);
        Assert.Contains(lib, e.Message);
    }

    [Fact]
    public void EngineLogLinesReachTheLogger()
    {
        string folder = Support.TestModels.RequireFolder("tiny-jet-b");
        var logger = new ListLogger();
        JetNativeLibrary.SetLogger(logger);
        try
        {
            using JetModel model = JetModel.Load(folder);
        }
        finally
        {
            JetNativeLibrary.SetLogger(null);
        }
        Assert.Contains(logger.Lines, l => l.Level == Microsoft.Extensions.Logging.LogLevel.Information && l.Text.Contains(folder));
    }
}

/// <summary>Keeps what is logged (thread-safe).</summary>
internal sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
{
    private readonly List<(Microsoft.Extensions.Logging.LogLevel Level, string Text)> _lines = new();

    public IReadOnlyList<(Microsoft.Extensions.Logging.LogLevel Level, string Text)> Lines
    {
        get { lock (_lines) return _lines.ToArray(); }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId,
        TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
            _lines.Add((logLevel, formatter(state, exception)));
    }
}
