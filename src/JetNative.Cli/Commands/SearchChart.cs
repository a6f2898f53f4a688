using System.Globalization;
using JetNative.Search;

using ScottPlot;

namespace JetNative.Cli.Commands;

/// <summary>
/// The chart of a search (ScottPlot): decode tok/s against prefill tok/s, both relative to the
/// base, one labelled point per measured candidate; the Pareto front in colour, the base as a star.
/// </summary>
internal static class SearchChart
{
    public static void Save(IReadOnlyList<SearchResult> rows, string label, JetDevice device, string path)
    {
        var measured = rows.Where(r => r.Throughput is not null).ToList();
        if (measured.Count == 0) throw new InvalidOperationException("no candidate was measured: there is nothing to chart");
        bool relative = measured.All(r => r.PrefillRelative is not null);
        double X(SearchResult r) => relative ? r.DecodeRelative!.Value : r.Throughput!.Decode.Mean;
        double Y(SearchResult r) => relative ? r.PrefillRelative!.Value : r.Throughput!.Prefill.Mean;

        var plot = new Plot();
        void Series(IEnumerable<SearchResult> points, Color color, MarkerShape shape, float size, string legend)
        {
            var list = points.ToList();
            if (list.Count == 0) return;
            var s = plot.Add.ScatterPoints(list.Select(X).ToArray(), list.Select(Y).ToArray(), color);
            s.MarkerShape = shape;
            s.MarkerSize = size;
            s.LegendText = legend;
        }
        Series(measured.Where(r => !r.OnParetoFront), Colors.Gray, MarkerShape.FilledCircle, 9, "candidate");
        Series(measured.Where(r => r.OnParetoFront), Colors.OrangeRed, MarkerShape.FilledCircle, 11, "Pareto front (params, prefill, decode)");
        Series(measured.Where(r => r.IsBase), Colors.Navy, MarkerShape.OpenDiamond, 18, "base");
        foreach (SearchResult r in measured)
        {
            var text = plot.Add.Text($"{r.Dims}  {Units.Count(r.Parameters)}", X(r), Y(r));
            text.LabelFontSize = 11;
            text.LabelOffsetX = 8;
            text.LabelOffsetY = -6;
        }
        string where = device == JetDevice.Cuda ? "CUDA" : "CPU";
        long context = measured[0].Cache.Context;
        plot.Title($"JetBlock search on {label} @ {context.ToString(CultureInfo.InvariantCulture)} tokens ({where}); labels: dK/dV/heads, params");
        plot.XLabel(relative ? "decode tok/s relative to the base" : "decode tok/s");
        plot.YLabel(relative ? "prefill tok/s relative to the base" : "prefill tok/s");
        plot.ShowLegend(Edge.Bottom);
        plot.Axes.Margins(0.3, 0.15);
        if (path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase)) plot.SaveSvg(path, 1000, 650);
        else plot.SavePng(path, 1000, 650);
    }
}
