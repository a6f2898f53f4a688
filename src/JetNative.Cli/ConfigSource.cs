using JetNative.Search.Accounting;

namespace JetNative.Cli;

/// <summary>A config.json named on the command line: 2b, 4b, demo, a config.json or a checkpoint folder.</summary>
internal static class ConfigSource
{
    /// <summary>The config's text and a name for it; <paramref name="option"/> names the flag in errors.</summary>
    public static (string Json, string Label) Read(string value, string option)
    {
        if (JetNemotronConfigs.Named(value) is string builtIn) return (builtIn, $"Jet-Nemotron-{value.Trim().ToUpperInvariant()}");
        bool demo = value.Trim().Equals("demo", StringComparison.OrdinalIgnoreCase);
        string path = demo ? ModelLoader.DemoModelFolder : value;
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        if (!File.Exists(path))
            throw new FileNotFoundException(demo
                ? $"the embedded demo model is missing: {path}"
                : $"{option}: no built-in config, config.json or checkpoint folder called '{value}'", path);
        string label = Path.GetFileName(path) == "config.json" ? ModelLoader.DisplayName(Path.GetDirectoryName(Path.GetFullPath(path))!) : Path.GetFileName(path);
        return (File.ReadAllText(path), label);
    }
}
