// The one package, end to end: pack src/SlabGen into a temporary feed, then build fresh console projects that
// reference it by version, with their own package folder (nothing from the repository leaks in). The runtime,
// the generator and the analyzers must all arrive through the one PackageReference.
using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using Xunit.Abstractions;

namespace SlabGen.Package.Tests;

[Collection(PackingCollection.Name)]
public sealed class PackageTests(PackageFixture package, ITestOutputHelper output) : IClassFixture<PackageFixture>
{
    [Fact]
    public void The_package_holds_the_runtime_generator_analyzers_code_fixes_and_readme()
    {
        using ZipArchive archive = ZipFile.OpenRead(package.PackagePath);
        var entries = archive.Entries.Select(static e => e.FullName).ToHashSet();

        Assert.Contains("lib/net10.0/SlabGen.dll", entries);
        Assert.Contains("lib/net10.0/SlabGen.xml", entries);
        Assert.Contains("analyzers/dotnet/cs/SlabGen.Generators.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/SlabGen.Analyzers.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/SlabGen.Analyzers.CodeFixes.dll", entries);
        Assert.Contains("README.md", entries);
        Assert.Contains("LICENSE", entries);
        Assert.Contains("docs/diagnostics/SLAB001.md", entries);
        Assert.Contains("docs/diagnostics/SLAB105.md", entries);
    }

    [Fact]
    public void Every_relative_link_of_the_packed_readme_and_guides_resolves_inside_the_package()
    {
        using ZipArchive archive = ZipFile.OpenRead(package.PackagePath);
        var entries = archive.Entries.Select(static e => e.FullName).ToHashSet();
        var broken = new List<string>();
        int links = 0;
        foreach (ZipArchiveEntry page in archive.Entries.Where(static e => e.FullName.EndsWith(".md", StringComparison.Ordinal)))
        {
            using var reader = new StreamReader(page.Open());
            string text = reader.ReadToEnd();
            string folder = Path.GetDirectoryName(page.FullName)!.Replace('\\', '/');
            foreach (System.Text.RegularExpressions.Match link in System.Text.RegularExpressions.Regex.Matches(text, @"\]\(([^)#\s]+)(#[^)]*)?\)"))
            {
                string target = link.Groups[1].Value;
                if (target.Contains("://", StringComparison.Ordinal))
                {
                    continue;
                }

                links++;
                string resolved = Path.GetFullPath(Path.Combine("/", folder, target)).TrimStart('/').Replace('\\', '/');
                if (!entries.Contains(resolved))
                {
                    broken.Add($"{page.FullName}: {target}");
                }
            }
        }

        Assert.True(links > 20, $"only {links} relative links found");
        Assert.True(broken.Count == 0, "links to files the package lacks:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void The_package_is_MIT_licensed_and_names_no_invented_web_address()
    {
        using ZipArchive archive = ZipFile.OpenRead(package.PackagePath);
        ZipArchiveEntry nuspec = archive.Entries.Single(static e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var reader = new StreamReader(nuspec.Open());
        string text = reader.ReadToEnd();

        Assert.Contains("<license type=\"expression\">MIT</license>", text, StringComparison.Ordinal);
        Assert.DoesNotContain("<projectUrl>", text, StringComparison.Ordinal);

        // The only addresses allowed are those NuGet itself writes: the nuspec schema and the licence's page.
        string[] allowed = ["http://schemas.microsoft.com/packaging/2012/06/nuspec.xsd", "https://licenses.nuget.org/MIT"];
        string[] addresses = [.. System.Text.RegularExpressions.Regex.Matches(text, @"https?://[^\s<""]+").Select(static m => m.Value)];
        Assert.All(addresses, a => Assert.Contains(a, allowed));
        Assert.DoesNotContain(" url=", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_core_package_has_no_AspNetCore_dependency_and_the_integration_package_brings_it()
    {
        string core = Nuspec(package.PackagePath);
        string aspNetCore = Nuspec(package.AspNetCorePackagePath);

        Assert.DoesNotContain("AspNetCore", core, StringComparison.Ordinal);
        Assert.Contains($"<dependency id=\"SlabGen\" version=\"{package.Version}\"", aspNetCore, StringComparison.Ordinal);
        Assert.Contains("<frameworkReference name=\"Microsoft.AspNetCore.App\" />", aspNetCore, StringComparison.Ordinal);
        Assert.Contains("<license type=\"expression\">MIT</license>", aspNetCore, StringComparison.Ordinal);
        Assert.DoesNotContain("<projectUrl>", aspNetCore, StringComparison.Ordinal);
        using ZipArchive archive = ZipFile.OpenRead(package.AspNetCorePackagePath);
        var entries = archive.Entries.Select(static e => e.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/SlabGen.AspNetCore.dll", entries);
        Assert.Contains("README.md", entries);
        Assert.Contains("LICENSE", entries);
    }

    private static string Nuspec(string packagePath)
    {
        using ZipArchive archive = ZipFile.OpenRead(packagePath);
        using var reader = new StreamReader(archive.Entries.Single(static e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        return reader.ReadToEnd();
    }

    [Fact]
    public void The_slabtop_tool_package_installs_as_a_dotnet_tool_with_licence_and_readme()
    {
        using (ZipArchive archive = ZipFile.OpenRead(package.ToolPackagePath))
        {
            var entries = archive.Entries.Select(static e => e.FullName).ToHashSet();
            Assert.Contains("tools/net10.0/any/DotnetToolSettings.xml", entries);
            Assert.Contains("tools/net10.0/any/SlabGen.Top.dll", entries);
            Assert.Contains("LICENSE", entries);
            Assert.Contains("README.md", entries);
            using var nuspec = new StreamReader(archive.Entries.Single(static e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            string text = nuspec.ReadToEnd();
            Assert.Contains("<license type=\"expression\">MIT</license>", text, StringComparison.Ordinal);
            Assert.Contains("<packageType name=\"DotnetTool\" />", text, StringComparison.Ordinal);
            Assert.DoesNotContain("<projectUrl>", text, StringComparison.Ordinal);
        }

        (int exit, string help) = package.Execute(package.InstallTool(), "--help");

        Assert.True(exit == 0, help);
        Assert.Contains("usage: slabtop (-p <pid> | -n <name>)", help, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fresh_project_gets_a_working_slab_cache_struct_from_the_package()
    {
        string project = package.NewProject("Works", """
            using SlabGen;

            SlabRef<Bullet> b = Bullet.New(3, 4);
            long sum = b.Value.X + b.Value.Y;
            Bullet.Free(b);
            System.Console.WriteLine($"sum={sum} cache={Bullet.Cache.Name}");

            [SlabCache(Name = "bullet", Checked = true)]
            public partial struct Bullet
            {
                public long X, Y;
                public Bullet(long x, long y) { X = x; Y = y; }
            }
            """);

        (int exit, string text) = package.Dotnet(project, "run", "-c", "Release");

        output.WriteLine(text);
        Assert.True(exit == 0, text);
        Assert.Contains("sum=7 cache=bullet", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_package_page_readme_links_nowhere_and_its_example_runs_as_written()
    {
        using ZipArchive archive = ZipFile.OpenRead(package.PackagePath);
        using var reader = new StreamReader(archive.GetEntry("README.md")!.Open());
        string readme = reader.ReadToEnd();
        Assert.Equal(File.ReadAllText(Path.Combine(Root(), "src", "SlabGen", "PACKAGE.md")), readme);
        Assert.DoesNotMatch(@"\]\(", readme); // nuget.org resolves no relative link, and there is no web address
        Assert.Contains("docs/diagnostics/SLABnnn.md", readme, StringComparison.Ordinal);

        int start = readme.IndexOf("```csharp\n", StringComparison.Ordinal) + "```csharp\n".Length;
        string program = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        string project = package.NewProject("PackagePage", "using System;\n" + program);
        (int exit, string text) = package.Dotnet(project, "run", "-c", "Release");

        output.WriteLine(text);
        Assert.True(exit == 0, text);
        Assert.Contains("bullet at (13, 4), 1 live in cache 'Bullet'", text, StringComparison.Ordinal);
    }

    private static string Root([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));

    [Fact]
    public void Vmalloc_in_an_interrupt_context_method_fails_the_build_with_its_rule()
    {
        string project = package.NewProject("Fails", """
            using SlabGen;

            unsafe
            {
                new Game().Frame();
            }

            public unsafe class Game
            {
                [InterruptContext]
                public void Frame() => Kmem.Vfree(Kmem.Vmalloc(4096));
            }
            """);

        (int exit, string text) = package.Dotnet(project, "build", "-c", "Release");

        output.WriteLine(text);
        Assert.NotEqual(0, exit);
        Assert.Contains("error SLAB101", text, StringComparison.Ordinal);
    }
}

/// <summary>Packs SlabGen once for all tests, into a temporary feed with a version of its own.</summary>
public sealed class PackageFixture : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("slabgen-package-").FullName;
    private readonly string _version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}";

    public PackageFixture()
    {
        string feed = Path.Combine(_root, "feed");
        (int exit, string text) = Run(RepositoryRoot(), "pack", Path.Combine(RepositoryRoot(), "src", "SlabGen", "SlabGen.csproj"),
            "-c", "Release", "-o", feed, $"-p:Version={_version}");
        Assert.True(exit == 0, text);
        PackagePath = Path.Combine(feed, $"SlabGen.{_version}.nupkg");
        (exit, text) = Run(RepositoryRoot(), "pack", Path.Combine(RepositoryRoot(), "src", "SlabGen.Top", "SlabGen.Top.csproj"),
            "-c", "Release", "-o", feed, $"-p:Version={_version}");
        Assert.True(exit == 0, text);
        ToolPackagePath = Path.Combine(feed, $"SlabGen.Top.{_version}.nupkg");
        (exit, text) = Run(RepositoryRoot(), "pack", Path.Combine(RepositoryRoot(), "src", "SlabGen.AspNetCore", "SlabGen.AspNetCore.csproj"),
            "-c", "Release", "-o", feed, $"-p:Version={_version}");
        Assert.True(exit == 0, text);
        AspNetCorePackagePath = Path.Combine(feed, $"SlabGen.AspNetCore.{_version}.nupkg");
        File.WriteAllText(Path.Combine(_root, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
    }

    public string PackagePath { get; }

    /// <summary>The ASP.NET Core integration's package, in the same feed.</summary>
    public string AspNetCorePackagePath { get; }

    /// <summary>The version every package of the feed has.</summary>
    public string Version => _version;

    /// <summary>The slabtop tool's package, in the same feed.</summary>
    public string ToolPackagePath { get; }

    /// <summary>Installs the slabtop tool from the feed into a folder of its own and gives the command's path.</summary>
    public string InstallTool()
    {
        string tools = Path.Combine(_root, "tools");
        (int exit, string text) = Run(_root, "tool", "install", "SlabGen.Top", "--version", _version, "--tool-path", tools,
            "--configfile", Path.Combine(_root, "NuGet.config"));
        Assert.True(exit == 0, text);
        return Path.Combine(tools, OperatingSystem.IsWindows() ? "slabtop.exe" : "slabtop");
    }

    /// <summary>A console project referencing the package, outside the repository (so none of its build files apply).</summary>
    public string NewProject(string name, string program)
    {
        string directory = Path.Combine(_root, name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <AllowUnsafeBlocks>true</AllowUnsafeBlocks>
                <Nullable>enable</Nullable>
                <RestorePackagesPath>{Path.Combine(_root, "packages")}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="SlabGen" Version="{_version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), program);
        return directory;
    }

    public (int Exit, string Output) Dotnet(string directory, params string[] arguments) => Run(directory, arguments);

    /// <summary>Runs <paramref name="program"/> with <paramref name="arguments"/>, as <see cref="Dotnet"/> runs dotnet.</summary>
    public (int Exit, string Output) Execute(string program, params string[] arguments) => Run(_root, program, arguments);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static (int Exit, string Output) Run(string directory, params string[] arguments) => Run(directory, "dotnet", arguments);

    private static (int Exit, string Output) Run(string directory, string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string text = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), program + " " + string.Join(' ', arguments) + " did not finish in 5 minutes");
        return (process.ExitCode, text + error.Result);
    }

    private static string RepositoryRoot([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));
}

/// <summary>The test classes that pack the repository's projects, run one at a time: two packs of one project at once would share its obj folder.</summary>
[CollectionDefinition(Name)]
public sealed class PackingCollection
{
    public const string Name = "packing";
}
