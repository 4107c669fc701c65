using BpfSharp.Testing;
using Xunit;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace BpfSharp.Verifier.Tests.Corpus;

/// <summary>
/// Runs the PREVAIL verifier's YAML test cases (../shared/verifier-corpus/prevail-test-data, Apache-2.0/MIT, see the
/// LICENSE files there) as code fragments and reports how often our verdict (accept/reject) matches the file's:
/// a case expects rejection when it lists messages. Our post states are not compared (different domains).
/// </summary>
public sealed class PrevailCorpusTests(ITestOutputHelper output)
{
    private static IEnumerable<PrevailCase> LoadCases(string directory)
    {
        foreach (string path in Directory.GetFiles(directory, "*.yaml").Order(StringComparer.Ordinal))
        {
            if (path.EndsWith("test-schema.yaml", StringComparison.Ordinal))
                continue;
            var stream = new YamlStream();
            using (var reader = new StreamReader(path))
                stream.Load(reader);
            foreach (YamlDocument doc in stream.Documents)
            {
                if (doc.RootNode is not YamlMappingNode root || !root.Children.ContainsKey("test-case"))
                    continue;
                List<string> Strings(string key) => root.Children.TryGetValue(key, out YamlNode? n) && n is YamlSequenceNode seq
                    ? seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToList() : [];
                var blocks = new List<KeyValuePair<string, string>>();
                if (root.Children[new YamlScalarNode("code")] is YamlMappingNode code)
                {
                    foreach (var (k, v) in code.Children)
                        blocks.Add(new(((YamlScalarNode)k).Value!, ((YamlScalarNode)v).Value ?? ""));
                }
                // <start> comes first, the other blocks in file order.
                blocks.Sort((a, b) => (a.Key == "<start>" ? 0 : 1).CompareTo(b.Key == "<start>" ? 0 : 1));
                var c = new PrevailCase
                {
                    File = Path.GetFileName(path),
                    Name = ((YamlScalarNode)root.Children[new YamlScalarNode("test-case")]).Value!,
                    ExpectRejection = Strings("messages").Count > 0,
                    Options = Strings("options"),
                };
                c.Translate(blocks, Strings("pre"));
                yield return c;
            }
        }
    }

    // PREVAIL's rules resemble the kernel's unprivileged mode in places (no pointer comparisons, no partial pointer
    // copies), so the agreement is measured in both modes.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Verdicts_agree_with_the_prevail_corpus(bool privileged)
    {
        string? directory = TestPaths.Shared("verifier-corpus/prevail-test-data");
        if (directory == null || !Directory.Exists(directory))
        {
            output.WriteLine("SKIPPED: ../shared/verifier-corpus/prevail-test-data not found");
            return;
        }
        int total = 0, unsupported = 0, compared = 0, agreed = 0, excludedByOption = 0;
        var perFile = new SortedDictionary<string, (int Compared, int Agreed)>(StringComparer.Ordinal);
        var disagreements = new List<string>();
        var unsupportedReasons = new Dictionary<string, int>();
        foreach (PrevailCase c in LoadCases(directory))
        {
            total++;
            // Options that change PREVAIL's semantics away from the kernel's (big-endian target, termination
            // proofs, rejecting possible division by zero, which eBPF defines).
            if (c.Options.Any(o => o is "big_endian" or "termination" or "!allow_division_by_zero"))
            {
                excludedByOption++;
                continue;
            }
            if (c.Unsupported != null || c.Program == null)
            {
                unsupported++;
                string reason = (c.Unsupported ?? "no program").Split(':')[0];
                unsupportedReasons[reason] = unsupportedReasons.GetValueOrDefault(reason) + 1;
                continue;
            }
            VerificationResult result = Verifier.Verify(c.Program, new VerifierOptions
            {
                ProgramType = ProgramType.Xdp, // PREVAIL's test context: data at 0, data_end at 4
                Maps = c.Maps,
                EntryRegisters = c.Entry,
                EntryStack = c.Stack,
                CodeFragment = true,
                Privileged = privileged,
                InstructionLimit = 100_000,
            });
            // PREVAIL reports an assumption that makes the rest unreachable.
            bool assumptionFailed = c.AssumePcs.Any(pc => result.WasReached(pc) && !result.WasReached(pc + 1));
            bool rejected = !result.Accepted || assumptionFailed;
            compared++;
            var (fc, fa) = perFile.GetValueOrDefault(c.File);
            if (rejected == c.ExpectRejection)
            {
                agreed++;
                perFile[c.File] = (fc + 1, fa + 1);
            }
            else
            {
                perFile[c.File] = (fc + 1, fa);
                disagreements.Add($"{c.File} '{c.Name}': expected {(c.ExpectRejection ? "reject" : "accept")}, we {(rejected ? "reject: " + (result.Error?.ToString() ?? "assumption makes code unreachable") : "accept")}");
            }
        }
        foreach (var (file, (fc, fa)) in perFile)
            output.WriteLine($"{file}: {fa}/{fc}");
        foreach (var (reason, n) in unsupportedReasons.OrderByDescending(x => x.Value))
            output.WriteLine($"unsupported: {reason} x{n}");
        foreach (string d in disagreements)
            output.WriteLine("DISAGREE " + d);
        double rate = compared == 0 ? 0 : 100.0 * agreed / compared;
        output.WriteLine($"PREVAIL corpus ({(privileged ? "privileged" : "unprivileged")}): {total} cases, {excludedByOption} excluded by option, {unsupported} not translatable, {compared} compared, {agreed} same verdict ({rate:F1}%)");
        Assert.True(compared > 0);
    }
}
