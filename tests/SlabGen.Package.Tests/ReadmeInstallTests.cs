// README's Install section, followed as written: its shell commands run (the first part in the repository, the second
// in an empty folder), its program becomes the new project's Program.cs, and the run prints what the README says.
// Only '~/' is pointed at a temporary folder, and NuGet gets a package folder of its own, so nothing of the user's
// cache is read or written.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace SlabGen.Package.Tests;

[Collection(PackingCollection.Name)]
public sealed partial class ReadmeInstallTests(ITestOutputHelper output)
{
    [Fact]
    public void The_install_section_run_as_written_gives_a_project_that_builds_and_prints_what_the_readme_says()
    {
        string section = Section(File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md")), "## Install");
        string commands = Block(section, "sh");
        string program = Block(section, "csharp");
        string expected = Expected().Match(section) is { Success: true } m ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException("the section does not say what the run prints");
        int split = commands.IndexOf("\n# 2.", StringComparison.Ordinal);
        Assert.True(split > 0, "the commands are not split into the clone's part and the project's part");

        string root = Directory.CreateTempSubdirectory("slabgen-install-").FullName;
        try
        {
            string home = root + "/";
            Bash(RepositoryRoot(), commands[..split].Replace("~/", home, StringComparison.Ordinal), root);
            Bash(root, commands[split..].Replace("~/", home, StringComparison.Ordinal), root);
            string project = Path.Combine(root, "Game");
            Assert.True(File.Exists(Path.Combine(project, "Game.csproj")), "the commands made no Game project");
            Assert.Contains("Include=\"SlabGen\"", File.ReadAllText(Path.Combine(project, "Game.csproj")), StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(project, "Program.cs"), program);

            string text = Bash(project, "dotnet run -c Release", root);
            Assert.Contains(expected, text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The text of a '## ' section, up to the next one.</summary>
    private static string Section(string markdown, string heading)
    {
        int start = markdown.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README has no '{heading}' section");
        int end = markdown.IndexOf("\n## ", start + heading.Length + 2, StringComparison.Ordinal);
        return markdown[start..(end < 0 ? markdown.Length : end)];
    }

    /// <summary>The first fenced block of <paramref name="language"/> in <paramref name="text"/>.</summary>
    private static string Block(string text, string language)
    {
        int start = text.IndexOf("```" + language + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no ```{language} block");
        start += language.Length + 4;
        return text[start..text.IndexOf("```", start, StringComparison.Ordinal)];
    }

    private string Bash(string directory, string script, string root)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-euo");
        start.ArgumentList.Add("pipefail");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.Environment["NUGET_PACKAGES"] = Path.Combine(root, "packages");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string text = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "the commands did not finish in 5 minutes:\n" + script);
        string all = text + error.Result;
        output.WriteLine(all);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode} in {directory}:\n{script}\n{all}");
        return all;
    }

    [GeneratedRegex("`dotnet run -c Release` prints `([^`]+)`")]
    private static partial Regex Expected();

    private static string RepositoryRoot([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));
}
