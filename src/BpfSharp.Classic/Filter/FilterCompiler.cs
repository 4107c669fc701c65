namespace BpfSharp.Classic.Filter;

/// <summary>Compiles pcap-filter(7) expressions (the tcpdump filter language) into classic BPF.</summary>
public static class FilterCompiler
{
    /// <summary>The default snapshot length tcpdump uses; accepted packets return it.</summary>
    public const uint DefaultSnapLength = 262144;

    /// <summary>
    /// Compiles <paramref name="expression"/> for packets with link-layer header <paramref name="linkType"/>.
    /// </summary>
    /// <param name="expression">The filter, e.g. <c>tcp port 80 or 443</c>; empty accepts every packet.</param>
    /// <param name="linkType">Ethernet, Raw IP or Linux SLL.</param>
    /// <param name="optimize">Run the optimizer (tcpdump's default; <c>-O</c> turns it off).</param>
    /// <param name="snapLength">The value returned for accepted packets.</param>
    /// <returns>A program that passes <see cref="CbpfValidator"/> except for <c>protochain</c>, which loops
    /// backwards exactly as libpcap's does.</returns>
    /// <exception cref="FilterSyntaxException">The expression is not grammatical.</exception>
    /// <exception cref="FilterCompileException">The expression is grammatical but meaningless (unknown names,
    /// qualifiers that do not apply to the link type, a filter that rejects every packet...).</exception>
    public static CbpfInstruction[] Compile(string expression, LinkType linkType = LinkType.Ethernet,
        bool optimize = true, uint snapLength = DefaultSnapLength)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var root = FilterParser.Parse(expression);
        var gen = new CodeGen(linkType, snapLength);
        if (!optimize)
            return gen.Finish(root);
        var program = gen.Finish(root);
        var optimized = CbpfOptimizer.Optimize(program);
        if (optimized.Length == 1 && optimized[0].Code == (Bpf.RET | Bpf.K) && optimized[0].K == 0 && root is not null)
            throw new FilterCompileException("expression rejects all packets");
        return optimized;
    }
}
