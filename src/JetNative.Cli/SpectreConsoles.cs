using Spectre.Console;

namespace JetNative.Cli;

/// <summary>Spectre.Console consoles bound to a <see cref="CliConsole"/>'s streams.</summary>
internal static class SpectreConsoles
{
    /// <summary>For progress bars on stderr: ANSI only when stderr is a terminal.</summary>
    public static IAnsiConsole ForError(CliConsole io) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(io.Error),
        Ansi = io.ErrorIsTerminal ? AnsiSupport.Detect : AnsiSupport.No,
        ColorSystem = io.ErrorIsTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        Interactive = io.ErrorIsTerminal ? InteractionSupport.Yes : InteractionSupport.No,
    });

    /// <summary>
    /// Renders <paramref name="renderable"/> (a table) as plain text: no colours, no wrapping, no
    /// trailing spaces, and without the blank lines Spectre's markdown border puts above and below.
    /// </summary>
    public static string RenderPlain(Spectre.Console.Rendering.IRenderable renderable)
    {
        using var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(text),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 240;
        console.Write(renderable);
        var lines = text.ToString().Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0);
        return string.Join('\n', lines) + '\n';
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a progress bar on stderr when stderr is a terminal, else
    /// without one. The work gets an <see cref="IProgress{T}"/> of fractions in [0, 1].
    /// </summary>
    public static async Task<T> WithProgressAsync<T>(CliConsole io, string description, Func<IProgress<float>?, Task<T>> work)
    {
        if (!io.ErrorIsTerminal)
            return await work(null);
        return await ForError(io).Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                ProgressTask task = ctx.AddTask(Markup.Escape(description), maxValue: 1.0);
                var result = await work(new ActionProgress<float>(p => task.Value = Math.Clamp(p, 0f, 1f)));
                task.Value = 1.0;
                return result;
            });
    }
}
