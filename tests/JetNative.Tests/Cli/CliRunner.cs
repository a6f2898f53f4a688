using JetNative.Cli;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Cli;

/// <summary>The result of one in-process run of <c>jetnative</c>.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Error)
{
    /// <summary>The stderr lines.</summary>
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Asserts the CLI failed the way it must: exit code, and exactly one <c>error:</c> line, no stack trace.</summary>
    public void AssertError(int exitCode, string messagePart)
    {
        Assert.True(ExitCode == exitCode, $"exit code {ExitCode}, expected {exitCode}; stderr: {Error}");
        string[] errors = ErrorLines.Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToArray();
        Assert.True(errors.Length == 1, $"expected one 'error:' line, stderr was: {Error}");
        Assert.Contains(messagePart, errors[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", Error, StringComparison.Ordinal);
    }

    public void AssertOk()
    {
        Assert.True(ExitCode == 0, $"exit code {ExitCode}; stderr: {Error}");
        Assert.DoesNotContain("error:", Error, StringComparison.Ordinal);
    }
}

/// <summary>Runs the CLI's entry point in-process with captured stdout/stderr and the given stdin.</summary>
internal static class CliRunner
{
    public static async Task<CliResult> RunAsync(string[] args, string stdin = "", CancellationToken ct = default)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var input = new StringReader(stdin);
        int code = await CliApp.RunAsync(args, new CliConsole(output, error, input), ct);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(args, "", default);

    /// <summary>The demo model's folder next to the CLI (its default model); skips when the checkout has none.</summary>
    public static string RequireDemoModel()
    {
        TestModels.RequireFolder("demo");
        string besideCli = ModelLoader.DemoModelFolder;
        Assert.SkipUnless(Directory.Exists(besideCli),
            $"the demo model was not copied next to the CLI ({besideCli}): rebuild after models/jetnative-demo appeared");
        return besideCli;
    }
}
