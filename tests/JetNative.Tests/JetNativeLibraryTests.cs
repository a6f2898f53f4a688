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

    [Fact]
    public void AFolderGivenAsPathMeansTheLibraryInIt()
    {
        using var dir = new Support.TempFolder();
        IReadOnlyList<string> paths = JetNativeLibrary.CandidatePaths(dir.Path, null, dir.Path, null);
        Assert.Equal(Path.Combine(dir.Path, "libjet.so"), paths[0]);
    }

    [Fact]
    public void TheRepositoryBuildFoldersComeLast()
    {
        string app = AppContext.BaseDirectory;
        IReadOnlyList<string> paths = JetNativeLibrary.CandidatePaths(null, null, app, null);
        string root = Support.TestModels.RepoRoot;
        Assert.Equal(root, JetNativeLibrary.RepositoryRoot(app));
        int build = paths.ToList().IndexOf(Path.Combine(root, "build", "native", "libjet.so"));
        Assert.True(build > 0);
        Assert.All(paths.Skip(build), p => Assert.StartsWith(Path.Combine(root, "build"), p));
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
        File.WriteAllText(garbage, "not an ELF file");
        string missing = dir.FilePath("nowhere/libjet.so");
        var e = Assert.Throws<DllNotFoundException>(() => JetNativeLibrary.LoadFirst([missing, garbage]));
        Assert.Contains($"{missing} (not found)", e.Message);
        Assert.Contains($"{garbage} (cannot load", e.Message);
        Assert.Contains(JetNativeLibrary.EnvironmentVariable, e.Message);
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
