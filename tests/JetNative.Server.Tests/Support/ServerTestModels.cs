using JetNative.Tokenization;
using Xunit;

namespace JetNative.Server.Tests.Support;

/// <summary>The demo model (models/jetnative-demo, with a tokenizer), loaded once per run; the repo root.</summary>
internal static class ServerTestModels
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);
    private static readonly Lazy<JetModel> DemoModel = new(() => JetModel.Load(DemoFolder, new JetModelOptions { Threads = 2 }));
    private static readonly Lazy<JetTokenizer> DemoTokenizer = new(() => JetTokenizer.FromFolder(DemoFolder));

    public static string RepoRoot => Root.Value;

    public static string DemoFolder => Path.Combine(RepoRoot, "models", "jetnative-demo");

    /// <summary>The demo model (skips the test when it is absent).</summary>
    public static JetModel Demo
    {
        get
        {
            RequireDemo();
            return DemoModel.Value;
        }
    }

    /// <summary>The demo model's tokenizer only (no engine needed).</summary>
    public static JetTokenizer Tokenizer
    {
        get
        {
            RequireDemo();
            return DemoTokenizer.Value;
        }
    }

    private static void RequireDemo()
    {
        if (!File.Exists(Path.Combine(DemoFolder, "config.json")))
            Assert.Skip($"needs the demo model ({DemoFolder})");
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "JetNative.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"JetNative.sln not found above {AppContext.BaseDirectory}");
    }
}
