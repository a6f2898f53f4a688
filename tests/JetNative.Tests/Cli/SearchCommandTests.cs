using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Cli;

/// <summary><c>jetnative search</c> in-process: a small, fast search on the demo model on CPU, and its errors.</summary>
public sealed class SearchCommandTests
{
    [Fact]
    public async Task A_small_search_on_the_demo_model_prints_the_table_and_saves_csv_and_chart()
    {
        CliRunner.RequireDemoModel();
        using var tmp = new TempFolder();
        string csv = tmp.FilePath("s.csv"), svg = tmp.FilePath("s.svg");
        CliResult r = await CliRunner.RunAsync("search", "--base", "demo", "-c", "16", "-n", "2", "-r", "1", "-t", "2",
            "--candidates", "64/256/2,32/256/4", "--csv", csv, "--chart", svg);
        r.AssertOk();
        Assert.Contains("64/128/4 (base)", r.Out);
        Assert.Contains("32/256/4", r.Out);
        Assert.Contains("pareto", r.Out);
        Assert.Contains("[3/3]", r.Error); // progress
        string[] lines = File.ReadAllLines(csv);
        Assert.Equal(4, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.DoesNotContain(",,", l.Split(',')[10] + ",")); // prefill measured
        Assert.Contains("<svg", File.ReadAllText(svg));

        string png = tmp.FilePath("again.png");
        CliResult again = await CliRunner.RunAsync("search", "--replot", csv, "--chart", png);
        again.AssertOk();
        Assert.Contains("64/128/4 (base)", again.Out);
        Assert.True(new FileInfo(png).Length > 1000);
    }

    [Fact]
    public async Task Replotting_a_file_that_is_not_a_search_is_a_clear_error()
    {
        using var tmp = new TempFolder();
        File.WriteAllText(tmp.FilePath("x.csv"), "a,b\n1,2\n");
        CliResult r = await CliRunner.RunAsync("search", "--replot", tmp.FilePath("x.csv"));
        r.AssertError(1, "not a jetnative search CSV");
    }

    [Fact]
    public async Task A_dry_run_of_the_2B_shows_the_cache_accounting()
    {
        using var tmp = new TempFolder();
        CliResult r = await CliRunner.RunAsync("search", "--dry-run", "--device", "cuda", "--csv", tmp.FilePath("s.csv"));
        r.AssertOk();
        Assert.Contains("cache @ 65536: 158.38 MiB per sequence", r.Out);
        Assert.Contains("7168.00 MiB", r.Out);   // Qwen3-1.7B at 64K
        Assert.Contains("1792.00 MiB", r.Out);   // the 2B's dims as full attention
        Assert.Contains("candidates:  28", r.Out);
        Assert.Contains("192/192/8", r.Out);
        Assert.False(File.Exists(tmp.FilePath("s.csv")), "a dry run measures nothing and must write no CSV");
        Assert.DoesNotContain("table saved", r.Error);
    }

    [Fact]
    public async Task An_impossible_budget_is_a_clear_error()
    {
        CliResult r = await CliRunner.RunAsync("search", "--dry-run", "--device", "cuda", "--budget", "100MiB");
        r.AssertError(2, "impossible budget");
    }

    [Fact]
    public async Task A_config_without_jetblocks_is_a_clear_error()
    {
        using var tmp = new TempFolder(TestModels.TinyJetB);
        string config = tmp.FilePath("config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"jet\"", "\"attn\""));
        CliResult r = await CliRunner.RunAsync("search", "--dry-run", "--base", config);
        r.AssertError(2, "no JetBlock layers");
    }

    [Theory]
    [InlineData("--candidates", "96/256", "dK/dV/heads")]
    [InlineData("--candidates", "128/256/12", "does not meet the constraint")]
    [InlineData("--budget", "lots", "--budget")]
    [InlineData("--heads", "4,x", "--heads")]
    [InlineData("--chart", "out.jpg", ".png or .svg")]
    [InlineData("--tolerance", "1.5", "--tolerance")]
    [InlineData("--base", "/nonexistent/config.json", "no built-in config")]
    public async Task Bad_options_are_clear_errors(string option, string value, string message)
    {
        CliResult r = await CliRunner.RunAsync("search", "--dry-run", "--device", "cuda", option, value);
        Assert.NotEqual(0, r.ExitCode);
        r.AssertError(r.ExitCode, message);
    }
}
