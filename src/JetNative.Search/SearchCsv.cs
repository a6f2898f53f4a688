using System.Globalization;
using System.Text;

namespace JetNative.Search;

/// <summary>The results of a search as CSV (one header line, one line per candidate, invariant culture).</summary>
public static class SearchCsv
{
    /// <summary>The CSV's header line (column names).</summary>
    public const string Header =
        "key_dim,value_dim,heads,is_base,params,state_bytes,conv_bytes,cache_bytes,cache_mib,context,device," +
        "prefill_tok_s,prefill_sd,decode_tok_s,decode_sd,prefill_rel,decode_rel,pareto,error";

    /// <summary>The CSV of <paramref name="results"/>, measured on <paramref name="device"/>.</summary>
    public static string Write(IReadOnlyList<SearchResult> results, JetDevice device)
    {
        ArgumentNullException.ThrowIfNull(results);
        var sb = new StringBuilder(Header).Append('\n');
        var inv = CultureInfo.InvariantCulture;
        foreach (SearchResult r in results)
        {
            string N(double? v, string format) => v is double d ? d.ToString(format, inv) : "";
            string[] cells =
            [
                r.Dims.JetHeadKDim.ToString(inv), r.Dims.JetHeadVDim.ToString(inv), r.Dims.JetNumHeads.ToString(inv), r.IsBase ? "1" : "0",
                r.Parameters.ToString(inv), r.Cache.JetState.ToString(inv), r.Cache.JetConv.ToString(inv),
                r.Cache.Total.ToString(inv), (r.Cache.Total / 1048576.0).ToString("F3", inv), r.Cache.Context.ToString(inv), device == JetDevice.Cuda ? "cuda" : "cpu",
                N(r.Throughput?.Prefill.Mean, "F1"), N(r.Throughput?.Prefill.StdDev, "F1"),
                N(r.Throughput?.Decode.Mean, "F2"), N(r.Throughput?.Decode.StdDev, "F2"),
                N(r.PrefillRelative, "F4"), N(r.DecodeRelative, "F4"), r.OnParetoFront ? "1" : "0", Quote((r.Error ?? "").ReplaceLineEndings(" ")),
            ];
            sb.AppendJoin(',', cells).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Reads what <see cref="Write"/> wrote (to chart or print a saved search again).</summary>
    public static (IReadOnlyList<SearchResult> Rows, JetDevice Device) Read(string csv)
    {
        ArgumentNullException.ThrowIfNull(csv);
        string[] lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        if (lines.Length == 0 || lines[0] != Header)
            throw new InvalidDataException("not a jetnative search CSV (the first line is not the expected header)");
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<SearchResult>();
        JetDevice device = JetDevice.Cpu;
        for (int i = 1; i < lines.Length; i++)
        {
            List<string> c = SplitLine(lines[i]);
            if (c.Count != 19) throw new InvalidDataException($"line {i + 1}: {c.Count} cells, expected 19");
            try
            {
                long L(int k) => long.Parse(c[k], NumberStyles.Integer, inv);
                double? D(int k) => c[k].Length == 0 ? null : double.Parse(c[k], NumberStyles.Float, inv);
                device = c[10] == "cuda" ? JetDevice.Cuda : JetDevice.Cpu;
                long state = L(5), conv = L(6), total = L(7);
                Throughput? t = D(11) is double p && D(13) is double d ? new Throughput(new Rate(p, D(12) ?? 0), new Rate(d, D(14) ?? 0)) : null;
                rows.Add(new SearchResult
                {
                    Dims = new Accounting.JetBlockDims((int)L(0), (int)L(1), (int)L(2)),
                    IsBase = c[3] == "1",
                    Parameters = L(4),
                    // The CSV keeps the JetBlock parts and the total; the attention KV parts are not told apart.
                    Cache = new JetCacheBreakdown(device, L(9), total - state - conv, 0, state, conv, total, 0),
                    Throughput = t,
                    PrefillRelative = D(15),
                    DecodeRelative = D(16),
                    OnParetoFront = c[17] == "1",
                    Error = c[18].Length == 0 ? null : c[18],
                });
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"line {i + 1}: {e.Message}", e);
            }
        }
        return (rows, device);
    }

    private static List<string> SplitLine(string line)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else cell.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(ch);
        }
        cells.Add(cell.ToString());
        return cells;
    }

    private static string Quote(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) < 0 ? s : "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
