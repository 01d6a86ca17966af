// The generated project the analyzer speed guard and the benchmark suite's analyzer cost (--analyzers) compile: ordinary
// game and server code, 40 lines a class, one file per 50 classes: fields, properties, loops, LINQ outside the frame,
// strings, lambdas, and one interrupt-context method per class whose helper chain ends in a lock three calls down and
// whose body allocates once (so every class has one SLAB104 and one SLAB107).
using System.Globalization;
using System.Text;

namespace SlabGen.Tests.Shared;

internal static class GeneratedProject
{
    /// <summary>The files of a project of <paramref name="classes"/> classes: a path and the text of each.</summary>
    public static IEnumerable<(string Path, string Text)> Files(int classes)
    {
        var source = new StringBuilder("using SlabGen;\n");
        int files = 0;
        for (int c = 0; c < classes; c++)
        {
            source.Append(CultureInfo.InvariantCulture, $$"""
            public sealed class System{{c}}
            {
                private readonly object _gate = new();
                private readonly System.Collections.Generic.List<int> _items = new();
                private float _x, _y, _speed = 1.5f;
                public int Count => _items.Count;
                public float Speed { get => _speed; set => _speed = value < 0 ? 0 : value; }
                public void Load(int n)
                {
                    for (int i = 0; i < n; i++)
                    {
                        _items.Add(i * 3 + 1);
                    }

                    var evens = System.Linq.Enumerable.ToList(System.Linq.Enumerable.Where(_items, static i => i % 2 == 0));
                    string label = "loaded " + evens.Count;
                    System.Func<int, int> twice = x => x * 2 + n;
                    _ = twice(label.Length);
                }
                [InterruptContext]
                public void Frame(float dt)
                {
                    _x += _speed * dt;
                    _y -= _speed * dt * 0.5f;
                    if (_x > 100) { _x = 0; }
                    int sum = 0;
                    foreach (int item in _items) { sum += item; }
                    Step(sum);
                    var marks = new int[4];
                    _ = marks;
                }
                private void Step(int sum) { if (sum > 10) { Apply(sum); } }
                private void Apply(int sum) { _x += sum * 0.001f; Commit(); }
                private void Commit() { lock (_gate) { _y = _x; } }
                public override string ToString() => $"System{{c}} at {_x}, {_y}";
                private static int Helper(int a, int b) => a > b ? a - b : b - a;
                public static int Distance(int a, int b) => Helper(a, b) + Helper(b, a);
            }

            """);
            if (c % 50 == 49 || c == classes - 1)
            {
                yield return ($"File{files++}.cs", source.ToString());
                source.Clear().Append("using SlabGen;\n");
            }
        }
    }
}
