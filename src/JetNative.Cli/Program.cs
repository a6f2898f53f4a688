using JetNative.Cli;

// Ctrl+C: the first one cancels the running generation cleanly (exit 130); a second one ends the
// process the usual way.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancel.IsCancellationRequested) return;
    e.Cancel = true;
    cancel.Cancel();
};
return await CliApp.RunAsync(args, CliConsole.FromSystem(), cancel.Token);
