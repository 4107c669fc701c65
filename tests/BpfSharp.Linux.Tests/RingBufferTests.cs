using System.Buffers.Binary;
using BpfSharp.Isa;
using BpfSharp.Linux;
using Xunit;
using static BpfSharp.Linux.Tests.I;

namespace BpfSharp.Linux.Tests;

public class RingBufferTests
{
    /// <summary>
    /// XDP program: copies the first 16 packet bytes to the stack (helpers may not read packet memory directly),
    /// then bpf_ringbuf_output(rb, fp-16, size, 0); returns XDP_PASS. size must be at most 16.
    /// </summary>
    internal static RawInstruction[] CopyPacketPrefix(KernelMap rb, int size) => Prog(
        LdxW(R2, R1, 0),                 // data
        LdxW(R3, R1, 4),                 // data_end
        MovR(R4, R2), Add(R4, 16),
        JgtR(R4, R3, 11),                // shorter than 16 bytes: skip to the return
        LdxDW(R5, R2, 0), StxDW(R10, -16, R5),
        LdxDW(R5, R2, 8), StxDW(R10, -8, R5),
        LdMap(R1, rb),
        MovR(R2, R10), Add(R2, -16),
        Mov(R3, size),
        Mov(R4, 0),
        Call(BpfHelperIds.RingbufOutput),
        Mov(R0, 2),
        Exit());

    private static byte[] Packet(ulong marker)
    {
        byte[] p = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(p, marker);
        for (int i = 8; i < p.Length; i++) p[i] = (byte)(0xA0 + i);
        return p;
    }

    [KernelTheory]
    [InlineData(8)]
    [InlineData(13)]   // not a multiple of 8: the next record starts at the 8-aligned position
    [InlineData(1)]
    public void Records_arrive_in_order_with_their_exact_bytes(int size)
    {
        using var map = KernelMap.Create(BpfMapType.Ringbuf, 0, 0, LinuxSystem.PageSize * 4);
        using var ring = new RingBuffer(map);
        using var prog = KernelProgram.Load(CopyPacketPrefix(map, size), BpfProgramType.Xdp);
        for (ulong i = 0; i < 10; i++)
            prog.TestRun(Packet(i));
        var got = new List<byte[]>();
        Assert.Equal(10, ring.Consume(r => got.Add(r.ToArray())));
        for (int i = 0; i < 10; i++)
            Assert.Equal(Packet((ulong)i)[..size], got[i]);
        Assert.Equal(0, ring.Poll(_ => { }, 0));
        Assert.Equal(0, ring.PendingBytes);
    }

    [KernelFact]
    public void Full_buffer_keeps_exactly_capacity_over_record_size_and_wraps_after_consumption()
    {
        int page = LinuxSystem.PageSize;
        using var map = KernelMap.Create(BpfMapType.Ringbuf, 0, 0, page);
        using var ring = new RingBuffer(map);
        using var prog = KernelProgram.Load(CopyPacketPrefix(map, 8), BpfProgramType.Xdp);
        // Each record takes 8 (header) + 8 (payload) bytes. The kernel refuses a reservation that would put the
        // producer more than size-1 bytes ahead of the consumer (kernel/bpf/ringbuf.c), so a page holds
        // (page - 1) / 16 records; the rest fail inside the program.
        int capacity = (page - 1) / 16;
        for (ulong i = 0; i < (ulong)capacity + 10; i++)
            prog.TestRun(Packet(i));
        var first = new List<ulong>();
        ring.Consume(r => first.Add(BinaryPrimitives.ReadUInt64LittleEndian(r)));
        Assert.Equal(Enumerable.Range(0, capacity).Select(x => (ulong)x), first);

        // Produce again: positions now wrap around the end of the data area.
        for (ulong i = 1000; i < 1000 + (ulong)capacity / 2 + 3; i++)
            prog.TestRun(Packet(i));
        var second = new List<ulong>();
        ring.Consume(r => second.Add(BinaryPrimitives.ReadUInt64LittleEndian(r)));
        Assert.Equal(Enumerable.Range(1000, capacity / 2 + 3).Select(x => (ulong)x), second);
    }

    [KernelFact]
    public async Task Async_stream_yields_records_produced_after_it_started()
    {
        using var map = KernelMap.Create(BpfMapType.Ringbuf, 0, 0, LinuxSystem.PageSize * 16);
        using var ring = new RingBuffer(map);
        using var prog = KernelProgram.Load(CopyPacketPrefix(map, 8), BpfProgramType.Xdp);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var producer = Task.Run(async () =>
        {
            await Task.Delay(50);
            for (ulong i = 0; i < 100; i++)
                prog.TestRun(Packet(i));
        });
        var got = new List<ulong>();
        await foreach (byte[] rec in ring.ReadAllAsync(cancellation: cts.Token))
        {
            got.Add(BinaryPrimitives.ReadUInt64LittleEndian(rec));
            if (got.Count == 100)
                break;
        }
        await producer;
        Assert.Equal(Enumerable.Range(0, 100).Select(x => (ulong)x), got);
    }

    [KernelFact]
    public void Rejects_non_ringbuf_maps()
    {
        using var map = KernelMap.Create(BpfMapType.Array, 4, 4, 1);
        Assert.Throws<ArgumentException>(() => new RingBuffer(map));
    }
}
