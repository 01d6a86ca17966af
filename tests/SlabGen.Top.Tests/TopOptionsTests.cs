// The command line: what it accepts, what it refuses and how it says so, and the sort orders.
namespace SlabGen.Top.Tests;

public sealed class TopOptionsTests
{
    [Fact]
    public void Defaults_are_live_sorted_by_objects_every_second()
    {
        TopOptions options = TopOptions.Parse(["-p", "42"]);

        Assert.Equal(new TopOptions(42, null, false, false, SortKey.Total, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15)), options);
    }

    [Fact]
    public void Json_implies_once_and_long_names_work()
    {
        TopOptions options = TopOptions.Parse(["--name", "Game", "--json", "--sort", "c", "--delay", "0.5", "--timeout", "30"]);

        Assert.Equal(new TopOptions(null, "Game", true, true, SortKey.Memory, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(30)), options);
    }

    [Theory]
    [InlineData(new string[0], "-p <pid> or -n <name>")]
    [InlineData(new[] { "-p", "1", "-n", "x" }, "one of them")]
    [InlineData(new[] { "-p", "abc" }, "not 'abc'")]
    [InlineData(new[] { "-p", "0" }, "positive")]
    [InlineData(new[] { "-p" }, "-p wants a value")]
    [InlineData(new[] { "-p", "1", "-s", "zz" }, "unknown sort key 'zz'")]
    [InlineData(new[] { "-p", "1", "-d", "0" }, "between 0.1 and 3600")]
    [InlineData(new[] { "-p", "1", "--frobnicate" }, "unknown option '--frobnicate'")]
    public void Bad_command_lines_are_refused_naming_the_problem(string[] args, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => TopOptions.Parse(args));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_key_sorts_numbers_descending_and_names_ascending_with_ties_by_name()
    {
        CacheRow[] rows =
        [
            new("b", Live: 1, Active: 5, Total: 10, Cached: 4, SlotSize: 32, Slabs: 1, MemoryBytes: 4096),
            new("a", Live: 9, Active: 9, Total: 10, Cached: 0, SlotSize: 256, Slabs: 3, MemoryBytes: 12288),
            new("c", Live: 2, Active: 2, Total: 80, Cached: 0, SlotSize: 64, Slabs: 2, MemoryBytes: 8192),
        ];

        Assert.Equal("abc", Names(SortKey.Name));
        Assert.Equal("acb", Names(SortKey.Live));
        Assert.Equal("abc", Names(SortKey.Active));
        Assert.Equal("cab", Names(SortKey.Total));
        Assert.Equal("bac", Names(SortKey.Cached));
        Assert.Equal("acb", Names(SortKey.SlotSize));
        Assert.Equal("acb", Names(SortKey.Slabs));
        Assert.Equal("acb", Names(SortKey.Memory));
        Assert.Equal("abc", Names(SortKey.Use));

        string Names(SortKey key) => string.Concat(SortKeys.Order(rows, key).Select(static r => r.Name));
    }

    [Fact]
    public void Every_sort_key_has_a_letter_or_word_that_parses_back()
    {
        string[] words = ["n", "live", "a", "o", "t", "s", "l", "c", "u"];

        Assert.Equal(Enum.GetValues<SortKey>().Order(), words.Select(static w => SortKeys.Parse(w)!.Value).Order());
        Assert.Null(SortKeys.Parse("x"));
    }
}
