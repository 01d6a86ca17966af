// The frame times of every variant, frame by frame, as an SVG chart (OxyPlot's SVG exporter, as the benchmark charts):
// a collection shows as a spike in the variant that pays for it.
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace SlabGen.Samples.Particles.Compare;

internal static class FrameChart
{
    private static readonly OxyColor[] Colors =
        [OxyColor.FromRgb(0x59, 0xa1, 0x4f), OxyColor.FromRgb(0xe1, 0x57, 0x59), OxyColor.FromRgb(0xf2, 0x8e, 0x2b), OxyColor.FromRgb(0x4e, 0x79, 0xa7)];

    /// <summary>Writes the chart of <paramref name="results"/> to <paramref name="path"/>; returns its full path.</summary>
    public static string Write(IReadOnlyList<VariantResult> results, string mode, string path)
    {
        var model = new PlotModel { Title = $"Frame time, frame by frame ({mode} GC); lower is better, spikes are hitches", TitleFontSize = 13 };
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "frame", Minimum = 0, FontSize = 10 });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "ms", Minimum = 0, MajorGridlineStyle = LineStyle.Dot, FontSize = 10 });
        for (int v = 0; v < results.Count; v++)
        {
            var line = new LineSeries { Title = results[v].Variant, Color = Colors[v % Colors.Length], StrokeThickness = 1 };
            double[] frames = results[v].FrameMs;
            for (int i = 0; i < frames.Length; i++)
            {
                line.Points.Add(new DataPoint(i, frames[i]));
            }

            model.Series.Add(line);
        }

        model.Legends.Add(new Legend
        {
            LegendPosition = LegendPosition.TopCenter, LegendPlacement = LegendPlacement.Outside,
            LegendOrientation = LegendOrientation.Horizontal, LegendFontSize = 11,
        });
        model.Padding = new OxyThickness(8, 24, 16, 8);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using (FileStream file = File.Create(path))
        {
            new SvgExporter { Width = 1200, Height = 420 }.Export(model, file);
        }

        return Path.GetFullPath(path);
    }
}
