// The run's ratio tables as SVG charts (OxyPlot's SVG exporter: no native graphics library): goals.svg, each goal's
// measured ratio as a share of what it asks (1 is exactly the goal), and peers.svg, the batch cases' times under every
// native allocator of the run side by side. A full run writes them to docs/benchmarks/ of the repository, where the
// README shows them; a quick run to BenchmarkDotNet's results folder.
using BenchmarkDotNet.Reports;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace SlabGen.Benchmarks;

internal static class Charts
{
    private static readonly OxyColor[] JobColors =
        [OxyColor.FromRgb(0x4e, 0x79, 0xa7), OxyColor.FromRgb(0xf2, 0x8e, 0x2b), OxyColor.FromRgb(0x59, 0xa1, 0x4f), OxyColor.FromRgb(0xe1, 0x57, 0x59), OxyColor.FromRgb(0x76, 0xb7, 0xb2)];

    /// <summary>docs/benchmarks/ of the repository for a full run; the results folder for a quick one.</summary>
    public static string DefaultDirectory(bool quick)
    {
        string results = Path.Combine("BenchmarkDotNet.Artifacts", "results");
        if (quick)
        {
            return results;
        }

        for (string? directory = Environment.CurrentDirectory; directory is not null; directory = Path.GetDirectoryName(directory))
        {
            if (File.Exists(Path.Combine(directory, "SlabGen.sln")))
            {
                return Path.Combine(directory, "docs", "benchmarks");
            }
        }

        return results;
    }

    /// <summary>Writes the charts into <paramref name="directory"/>; returns the files written.</summary>
    public static IReadOnlyList<string> Write(IReadOnlyList<GoalResult> goals, IEnumerable<Summary> summaries, string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        GoalResult[] measured = [.. goals.Where(static g => g.Measured)];
        if (measured.Length > 0)
        {
            written.Add(Export(GoalsChart(measured), Path.Combine(directory, "goals.svg"), 40 + 24 * measured.Length));
        }

        BenchmarkReport[] batch = [.. summaries.SelectMany(static s => s.Reports)
            .Where(static r => r.BenchmarkCase.Descriptor.Type.Name == nameof(BatchBenchmarks) && r.ResultStatistics is not null)];
        if (batch.Length > 0)
        {
            int cases = batch.Select(Goals.Name).Distinct().Count();
            written.Add(Export(PeersChart(batch), Path.Combine(directory, "peers.svg"), 80 + 16 * batch.Length + 10 * cases));
        }

        return written;
    }

    /// <summary>Each goal's measured ratio over the ratio it asks: green at or past 1, red short of it.</summary>
    internal static PlotModel GoalsChart(IReadOnlyList<GoalResult> goals)
    {
        var model = new PlotModel { Title = "Goals: the measured ratio over the ratio asked (1 = the goal; right is better)", TitleFontSize = 13 };
        var labels = new CategoryAxis { Position = AxisPosition.Left, GapWidth = 0.3, FontSize = 10 };
        var bars = new BarSeries { LabelFormatString = "{0:0.00}", LabelPlacement = LabelPlacement.Outside, FontSize = 9 };
        foreach (GoalResult goal in goals.Reverse())
        {
            labels.Labels.Add($"{goal.Target} {Goals.Describe(goal.Factor)} {goal.Peer}  [{goal.Group}]");
            bars.Items.Add(new BarItem(goal.OfGoal) { Color = goal.Met ? OxyColor.FromRgb(0x59, 0xa1, 0x4f) : OxyColor.FromRgb(0xe1, 0x57, 0x59) });
        }

        model.Axes.Add(labels);
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Minimum = 0, MaximumPadding = 0.15, MajorGridlineStyle = LineStyle.Dot, FontSize = 10 });
        model.Series.Add(bars);
        model.PlotMargins = LeftMargin(labels.Labels);
        model.Annotations.Add(new LineAnnotation { Type = LineAnnotationType.Vertical, X = 1, Color = OxyColors.Black, Text = "goal", FontSize = 10 });
        return model;
    }

    /// <summary>The batch cases' mean time per operation, one bar per job (glibc and each native peer).</summary>
    internal static PlotModel PeersChart(IReadOnlyList<BenchmarkReport> reports)
    {
        var model = new PlotModel { Title = "ns per operation (batches: per object) under each allocator of the run; shorter is faster", TitleFontSize = 13 };
        string[] cases = [.. reports.Select(Goals.Name).Distinct()];
        string[] jobs = [.. reports.Select(static r => r.BenchmarkCase.Job.Id).Distinct()];
        var labels = new CategoryAxis { Position = AxisPosition.Left, GapWidth = 0.4, FontSize = 10 };
        labels.Labels.AddRange(cases.Reverse());
        model.Axes.Add(labels);
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Minimum = 0, MaximumPadding = 0.15, Title = "ns", MajorGridlineStyle = LineStyle.Dot, FontSize = 10 });
        for (int j = 0; j < jobs.Length; j++)
        {
            var bars = new BarSeries { Title = jobs[j], FillColor = JobColors[j % JobColors.Length], LabelFormatString = "{0:0.0}", LabelPlacement = LabelPlacement.Outside, FontSize = 8 };
            foreach (string name in cases.Reverse())
            {
                BenchmarkReport? report = reports.FirstOrDefault(r => Goals.Name(r) == name && r.BenchmarkCase.Job.Id == jobs[j]);
                bars.Items.Add(new BarItem(report?.ResultStatistics?.Mean ?? double.NaN));
            }

            model.Series.Add(bars);
        }

        model.Legends.Add(new Legend
        {
            LegendPosition = LegendPosition.TopCenter, LegendPlacement = LegendPlacement.Outside,
            LegendOrientation = LegendOrientation.Horizontal, LegendFontSize = 11, LegendItemOrder = LegendItemOrder.Normal,
        });
        model.PlotMargins = LeftMargin(labels.Labels);
        return model;
    }

    /// <summary>Room on the left for the longest category label (about 6 pixels a character at font size 10).</summary>
    private static OxyThickness LeftMargin(IEnumerable<string> labels) =>
        new(20 + 6 * labels.Max(static l => l.Length), double.NaN, double.NaN, double.NaN);

    private static string Export(PlotModel model, string path, int height)
    {
        model.Padding = new OxyThickness(8, 24, 16, 8);
        using (FileStream file = File.Create(path))
        {
            new SvgExporter { Width = 1200, Height = Math.Max(300, height) }.Export(model, file);
        }

        return Path.GetFullPath(path);
    }
}
