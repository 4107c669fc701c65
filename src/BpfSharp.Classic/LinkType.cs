namespace BpfSharp.Classic;

/// <summary>Link-layer header types (the LINKTYPE_* values stored in pcap and pcapng files).</summary>
public enum LinkType : uint
{
    /// <summary>BSD loopback (DLT_NULL).</summary>
    Null = 0,
    /// <summary>Ethernet II / 802.3 (DLT_EN10MB).</summary>
    Ethernet = 1,
    /// <summary>Raw IPv4 or IPv6 with no link header (LINKTYPE_RAW).</summary>
    Raw = 101,
    /// <summary>Linux "cooked" capture v1 (LINKTYPE_LINUX_SLL).</summary>
    LinuxSll = 113,
}

/// <summary>Names for link types as tcpdump spells them (<c>EN10MB</c>, <c>RAW</c>, <c>LINUX_SLL</c>).</summary>
public static class LinkTypeNames
{
    /// <summary>Parses a tcpdump data-link name (case-insensitive) or a number.</summary>
    public static bool TryParse(string name, out LinkType linkType)
    {
        switch (name.ToUpperInvariant())
        {
            case "EN10MB" or "ETHERNET": linkType = LinkType.Ethernet; return true;
            case "RAW": linkType = LinkType.Raw; return true;
            case "LINUX_SLL" or "SLL": linkType = LinkType.LinuxSll; return true;
            case "NULL": linkType = LinkType.Null; return true;
        }
        if (uint.TryParse(name, out uint n))
        {
            linkType = (LinkType)n;
            return true;
        }
        linkType = default;
        return false;
    }

    /// <summary>The tcpdump name of a link type (<c>EN10MB</c>...), or its number.</summary>
    public static string Name(LinkType linkType) => linkType switch
    {
        LinkType.Ethernet => "EN10MB",
        LinkType.Raw => "RAW",
        LinkType.LinuxSll => "LINUX_SLL",
        LinkType.Null => "NULL",
        _ => ((uint)linkType).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
