using System.Globalization;
using System.Text;
using BpfSharp.Isa;

namespace BpfSharp.Elf.Btf;

/// <summary>What happened to one CO-RE relocation.</summary>
public enum CoreRelocationOutcome
{
    /// <summary>The instruction now holds the target's value (possibly unchanged, when it equals the local value).</summary>
    Patched,
    /// <summary>
    /// No target candidate satisfied the relocation, so the instruction was replaced by a call to the invalid helper
    /// <see cref="CoreRelocator.PoisonHelperId"/>: the verifier rejects the program only if that instruction is reachable.
    /// </summary>
    Poisoned,
    /// <summary>
    /// The relocation is malformed or ambiguous, or the instruction does not hold what the compiler should have put
    /// there. libbpf refuses to load the program in this case; the instruction is left unchanged.
    /// </summary>
    Failed,
}

/// <summary>The result of one relocation.</summary>
/// <param name="Relocation">The relocation record (instruction index in the linked program).</param>
/// <param name="Outcome">Patched, poisoned or failed.</param>
/// <param name="LocalValue">The value computed against the object's own BTF (what the compiler emitted).</param>
/// <param name="TargetValue">The value computed against the target BTF (what the instruction now holds when patched).</param>
/// <param name="TargetTypeId">The matched target type's id (the candidate's root type), or 0 when none matched.</param>
/// <param name="Message">A readable account, e.g. <c>struct task_struct.pid (0:1) -&gt; [153] struct task_struct (0:83): 4 -&gt; 2592</c>, or the error.</param>
public readonly record struct CoreRelocationResult(CoreRelocation Relocation, CoreRelocationOutcome Outcome, ulong LocalValue,
    ulong TargetValue, int TargetTypeId, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"insn #{Relocation.InstructionIndex} {Relocation.Kind}: {Outcome}: {Message}";
}

/// <summary>The relocated instructions and what happened to each relocation.</summary>
public sealed class CoreRelocationReport
{
    internal CoreRelocationReport(RawInstruction[] instructions, CoreRelocationResult[] results)
    {
        Instructions = instructions;
        Results = results;
    }

    /// <summary>The instructions with every relocation applied (a new array; the input is not modified).</summary>
    public RawInstruction[] Instructions { get; }

    /// <summary>One result per relocation, in the order of the relocation list.</summary>
    public IReadOnlyList<CoreRelocationResult> Results { get; }

    /// <summary>True when no relocation <see cref="CoreRelocationOutcome.Failed"/> (poisoned ones are not failures: libbpf loads those).</summary>
    public bool Succeeded
    {
        get
        {
            foreach (var r in Results)
                if (r.Outcome == CoreRelocationOutcome.Failed) return false;
            return true;
        }
    }

    /// <summary>Throws when a relocation failed, naming each failure, so a loader can refuse the program like libbpf does.</summary>
    /// <exception cref="BpfObjectException">At least one relocation failed.</exception>
    public void ThrowIfFailed()
    {
        if (Succeeded) return;
        var sb = new StringBuilder("CO-RE relocation failed:");
        foreach (var r in Results)
            if (r.Outcome == CoreRelocationOutcome.Failed) sb.Append("\n  ").Append(r);
        throw new BpfObjectException(sb.ToString());
    }
}

/// <summary>
/// Applies CO-RE (compile once, run everywhere) relocations the way libbpf does: each relocation names a local type and
/// an access path ("0:1:2") in the object's BTF; the relocator finds target types with the same essential name (flavor
/// suffixes like <c>___v2</c> stripped) and a compatible kind, walks the same path by member name through structs,
/// unions (anonymous ones included) and arrays, and patches the instruction with the target's field offset, size,
/// existence, signedness, bitfield shifts, type id, type existence/match/size or enumerator existence/value.
/// Pure logic: no syscalls. The usual target is <see cref="Btf.LoadKernel"/> (parse it once and reuse it: it is
/// immutable and its name index is built on first use). Relocation never adds or removes instruction slots, so the
/// program's map, extern, func-info and line-info indexes stay valid for the relocated instructions.
/// </summary>
/// <remarks>
/// Outcomes follow libbpf: a relocation that no target type satisfies is not an error; the instruction is poisoned
/// (existence checks yield 0 instead), so a program that guards the access with <c>bpf_core_field_exists</c> still
/// loads. Malformed, ambiguous or mismatching relocations are <see cref="CoreRelocationOutcome.Failed"/>; libbpf
/// refuses to load such a program (<see cref="CoreRelocationReport.ThrowIfFailed"/>).
/// </remarks>
/// <example>
/// <code>
/// var obj = BpfObject.Load("prog.o");
/// var report = CoreRelocator.Apply(obj.Programs[0], obj.Btf!, Btf.LoadKernel());
/// report.ThrowIfFailed();
/// var insns = report.Instructions; // ready for map/extern patching and loading
/// </code>
/// </example>
public static class CoreRelocator
{
    /// <summary>The helper id a poisoned instruction calls (libbpf's "bad relo" marker, 0xbad2310).</summary>
    public const int PoisonHelperId = 0xbad2310;

    /// <summary>The longest access path accepted (libbpf's BPF_CORE_SPEC_MAX_LEN).</summary>
    public const int MaxAccessLength = 64;

    private const int MaxCompatDepth = 32;
    private const byte OpCall = 0x85, OpLdImm64 = 0x18;

    /// <summary>Relocates one linked program (its <see cref="ProgramSpec.CoreRelocations"/>) against <paramref name="targetBtf"/>.</summary>
    /// <param name="program">The program; its instructions are copied, not modified.</param>
    /// <param name="localBtf">The object's own BTF (<see cref="BpfObject.Btf"/>), which the relocation type ids refer to.</param>
    /// <param name="targetBtf">The BTF to adapt to, usually the running kernel's.</param>
    public static CoreRelocationReport Apply(ProgramSpec program, Btf localBtf, Btf targetBtf)
    {
        ArgumentNullException.ThrowIfNull(program);
        return Apply(program.Instructions, program.CoreRelocations, localBtf, targetBtf);
    }

    /// <summary>Relocates a copy of <paramref name="instructions"/> per <paramref name="relocations"/>.</summary>
    /// <param name="instructions">Instructions the relocation indexes refer to.</param>
    /// <param name="relocations">Relocations (type ids in <paramref name="localBtf"/>).</param>
    /// <param name="localBtf">The object's own BTF.</param>
    /// <param name="targetBtf">The BTF to adapt to.</param>
    public static CoreRelocationReport Apply(ReadOnlySpan<RawInstruction> instructions, IReadOnlyList<CoreRelocation> relocations,
        Btf localBtf, Btf targetBtf)
    {
        ArgumentNullException.ThrowIfNull(relocations);
        ArgumentNullException.ThrowIfNull(localBtf);
        ArgumentNullException.ThrowIfNull(targetBtf);
        var insns = instructions.ToArray();
        var results = new CoreRelocationResult[relocations.Count];
        for (int i = 0; i < results.Length; i++)
            results[i] = ApplyOne(insns, relocations[i], localBtf, targetBtf);
        return new CoreRelocationReport(insns, results);
    }

    /// <summary>
    /// Computes one relocation's local and target values without patching anything (what <see cref="Apply(ProgramSpec, Btf, Btf)"/>
    /// would write). <see cref="CoreRelocationOutcome.Poisoned"/> means no target satisfied it.
    /// </summary>
    public static CoreRelocationResult Resolve(CoreRelocation relocation, Btf localBtf, Btf targetBtf)
    {
        ArgumentNullException.ThrowIfNull(localBtf);
        ArgumentNullException.ThrowIfNull(targetBtf);
        try
        {
            var (res, text) = Calculate(relocation, localBtf, targetBtf);
            return new CoreRelocationResult(relocation, res.Poison ? CoreRelocationOutcome.Poisoned : CoreRelocationOutcome.Patched,
                res.OrigVal, res.NewVal, res.TargetTypeId, text);
        }
        catch (CoreException e)
        {
            return new CoreRelocationResult(relocation, CoreRelocationOutcome.Failed, 0, 0, 0, e.Message);
        }
        catch (OverflowException)
        {
            return new CoreRelocationResult(relocation, CoreRelocationOutcome.Failed, 0, 0, 0, $"offset of '{relocation.AccessString}' overflows");
        }
    }

    private static CoreRelocationResult ApplyOne(RawInstruction[] insns, CoreRelocation relo, Btf local, Btf target)
    {
        try
        {
            if ((uint)relo.InstructionIndex >= (uint)insns.Length)
                throw new CoreException($"instruction index {relo.InstructionIndex} is outside the program (0..{insns.Length - 1})");
            var (res, text) = Calculate(relo, local, target);
            bool poisoned = Patch(insns, relo.InstructionIndex, res, ref text);
            return new CoreRelocationResult(relo, poisoned ? CoreRelocationOutcome.Poisoned : CoreRelocationOutcome.Patched,
                res.OrigVal, res.NewVal, res.TargetTypeId, text);
        }
        catch (CoreException e)
        {
            return new CoreRelocationResult(relo, CoreRelocationOutcome.Failed, 0, 0, 0, e.Message);
        }
        catch (OverflowException)
        {
            return new CoreRelocationResult(relo, CoreRelocationOutcome.Failed, 0, 0, 0, $"offset of '{relo.AccessString}' overflows");
        }
    }

    // ---------------------------------------------------------------- specs

    private sealed class CoreException(string message) : Exception(message);

    /// <summary>One step of an access path: a named member of a composite, an array index, or an enumerator.</summary>
    private struct Accessor
    {
        public int TypeId;   // the composite/enum holding the member, or the array element type
        public int Index;    // member, element or enumerator index
        public string? Name; // member or enumerator name; null for array indexing
    }

    /// <summary>An access path resolved in one BTF (libbpf's bpf_core_spec).</summary>
    private sealed class Spec(Btf btf, int rootTypeId)
    {
        public readonly Btf Btf = btf;
        public readonly int RootTypeId = rootTypeId;
        public readonly List<Accessor> Access = new(4);  // named accessors (and array indexes)
        public readonly List<int> Raw = new(4);          // every index, anonymous members included
        public long BitOffset;

        public string Describe(CoreRelocationKind kind)
        {
            var root = Btf[RootTypeId];
            var sb = new StringBuilder();
            sb.Append('[').Append(RootTypeId).Append("] ").Append(KindWord(root)).Append(' ').Append(root.Name);
            if (IsFieldBased(kind) || IsEnumValueBased(kind))
            {
                for (int i = IsFieldBased(kind) ? 1 : 0; i < Access.Count; i++)
                {
                    var a = Access[i];
                    if (a.Name is null) sb.Append('[').Append(a.Index).Append(']');
                    else sb.Append(IsEnumValueBased(kind) ? "::" : ".").Append(a.Name);
                }
                sb.Append(" (");
                for (int i = 0; i < Raw.Count; i++) sb.Append(i == 0 ? "" : ":").Append(Raw[i]);
                sb.Append(')');
                if (IsFieldBased(kind)) sb.Append(" @ bit ").Append(BitOffset);
            }
            return sb.ToString();
        }
    }

    private static string KindWord(BtfType t) => t.Kind switch
    {
        BtfKind.Struct => "struct", BtfKind.Union => "union", BtfKind.Enum or BtfKind.Enum64 => "enum",
        BtfKind.Typedef => "typedef", BtfKind.Forward => "fwd", _ => t.Kind.ToString().ToLowerInvariant(),
    };

    private static bool IsFieldBased(CoreRelocationKind k) => k <= CoreRelocationKind.FieldRShiftU64;
    private static bool IsTypeBased(CoreRelocationKind k) =>
        k is CoreRelocationKind.TypeIdLocal or CoreRelocationKind.TypeIdTarget or CoreRelocationKind.TypeExists
            or CoreRelocationKind.TypeSize or CoreRelocationKind.TypeMatches;
    private static bool IsEnumValueBased(CoreRelocationKind k) => k is CoreRelocationKind.EnumValueExists or CoreRelocationKind.EnumValue;

    private static BtfType Skip(Btf btf, int id)
    {
        try
        {
            return btf.SkipModifiers(id);
        }
        catch (BpfObjectException e)
        {
            throw new CoreException(e.Message);
        }
    }

    private static long SizeOf(Btf btf, int id)
    {
        try
        {
            return (long)btf.GetSize(id);
        }
        catch (BpfObjectException e)
        {
            throw new CoreException(e.Message);
        }
    }

    private static BtfType TypeAt(Btf btf, int id, string what) =>
        id >= 0 && id < btf.Types.Count ? btf.Types[id] : throw new CoreException($"{what} type id {id} is out of range (0..{btf.Types.Count - 1})");

    private static bool IsAnyEnum(BtfType t) => t.Kind is BtfKind.Enum or BtfKind.Enum64;
    private static bool KindsCoreCompatible(BtfType a, BtfType b) => a.Kind == b.Kind || (IsAnyEnum(a) && IsAnyEnum(b));

    /// <summary>Parses the access string against the local BTF (libbpf's bpf_core_parse_spec).</summary>
    private static Spec ParseLocalSpec(Btf btf, CoreRelocation relo)
    {
        TypeAt(btf, relo.TypeId, "local");
        var spec = new Spec(btf, relo.TypeId);
        var parts = relo.AccessString.Split(':');
        if (relo.AccessString.Length == 0) throw new CoreException("empty access string");
        if (parts.Length > MaxAccessLength) throw new CoreException($"access string has {parts.Length} indexes, at most {MaxAccessLength} are supported");
        foreach (var p in parts)
        {
            if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                throw new CoreException($"access string '{relo.AccessString}' has a bad index '{p}'");
            spec.Raw.Add(v);
        }

        if (IsTypeBased(relo.Kind))
        {
            if (spec.Raw.Count != 1 || spec.Raw[0] != 0)
                throw new CoreException($"type relocation needs access string '0', has '{relo.AccessString}'");
            return spec;
        }

        var t = Skip(btf, relo.TypeId);
        int id = t.Id;
        if (IsEnumValueBased(relo.Kind))
        {
            if (t is not BtfEnum e || spec.Raw.Count > 1 || spec.Raw[0] >= e.Values.Count)
                throw new CoreException($"enumerator access '{relo.AccessString}' does not name a value of {t}");
            spec.Access.Add(new Accessor { TypeId = id, Index = spec.Raw[0], Name = e.Values[spec.Raw[0]].Name });
            return spec;
        }
        if (!IsFieldBased(relo.Kind))
            throw new CoreException($"unknown relocation kind {(uint)relo.Kind}");

        // The first index is pointer arithmetic on the root (p[N]); the rest walk members and elements.
        spec.Access.Add(new Accessor { TypeId = id, Index = spec.Raw[0] });
        spec.BitOffset = checked(spec.Raw[0] * SizeOf(btf, id) * 8);
        for (int i = 1; i < spec.Raw.Count; i++)
        {
            t = Skip(btf, id);
            id = t.Id;
            int idx = spec.Raw[i];
            if (t is BtfComposite c)
            {
                if (idx >= c.Members.Count)
                    throw new CoreException($"access index {idx} is past the {c.Members.Count} members of {t}");
                var m = c.Members[idx];
                spec.BitOffset += m.BitOffset;
                if (m.Name.Length != 0)
                    spec.Access.Add(new Accessor { TypeId = id, Index = idx, Name = m.Name });
                id = m.TypeId;
            }
            else if (t is BtfArray a)
            {
                var elem = Skip(btf, a.ElementTypeId);
                bool flex = IsFlexArray(btf, spec.Access[^1], a);
                if (!flex && (uint)idx >= a.Length)
                    throw new CoreException($"access index {idx} is past the {a.Length} elements of {t}");
                spec.Access.Add(new Accessor { TypeId = elem.Id, Index = idx });
                spec.BitOffset = checked(spec.BitOffset + idx * SizeOf(btf, elem.Id) * 8);
                id = elem.Id;
            }
            else
            {
                throw new CoreException($"access index {i} ({idx}) of '{relo.AccessString}' steps into {t}, which is neither a struct, union nor array");
            }
        }
        return spec;
    }

    /// <summary>A zero-length array that is the last member of a struct (a flexible array member): any index is fine.</summary>
    private static bool IsFlexArray(Btf btf, Accessor previous, BtfArray array)
    {
        if (previous.Name is null || array.Length > 0) return false;
        return btf.Types[previous.TypeId] is BtfComposite c && previous.Index == c.Members.Count - 1;
    }

    // ---------------------------------------------------------------- matching

    /// <summary>Matches the local spec against one candidate root type (libbpf's bpf_core_spec_match): 1 match, 0 no match.</summary>
    private static bool MatchSpec(Spec local, CoreRelocationKind kind, Btf targetBtf, int targetId, out Spec target)
    {
        target = new Spec(targetBtf, targetId);
        if (IsTypeBased(kind))
        {
            return kind == CoreRelocationKind.TypeMatches
                ? TypesMatch(local.Btf, local.RootTypeId, targetBtf, targetId, false, MaxCompatDepth)
                : TypesAreCompatible(local.Btf, local.RootTypeId, targetBtf, targetId, MaxCompatDepth);
        }

        var localAcc = local.Access[0];
        if (IsEnumValueBased(kind))
        {
            if (Skip(targetBtf, targetId) is not BtfEnum e) return false;
            var localName = localAcc.Name!.AsSpan(0, Btf.EssentialNameLength(localAcc.Name));
            for (int i = 0; i < e.Values.Count; i++)
            {
                var name = e.Values[i].Name;
                if (name.AsSpan(0, Btf.EssentialNameLength(name)).SequenceEqual(localName))
                {
                    target.Access.Add(new Accessor { TypeId = e.Id, Index = i, Name = name });
                    target.Raw.Add(i);
                    return true;
                }
            }
            return false;
        }

        for (int i = 0; i < local.Access.Count; i++)
        {
            localAcc = local.Access[i];
            if (i > 0)
            {
                if (localAcc.Name is not null)
                {
                    if (!MatchMember(local.Btf, localAcc, targetBtf, targetId, target, out targetId)) return false;
                    continue;
                }
                // Array indexing: the target must be an array at this point too, long enough (or flexible).
                if (Skip(targetBtf, targetId) is not BtfArray a) return false;
                if (!IsFlexArray(targetBtf, target.Access[^1], a) && (uint)localAcc.Index >= a.Length) return false;
                targetId = Skip(targetBtf, a.ElementTypeId).Id;
            }
            if (target.Raw.Count >= MaxAccessLength) throw new CoreException("target access path is too deep");
            target.Access.Add(new Accessor { TypeId = targetId, Index = localAcc.Index });
            target.Raw.Add(localAcc.Index);
            target.BitOffset = checked(target.BitOffset + localAcc.Index * SizeOf(targetBtf, targetId) * 8);
        }
        return true;
    }

    /// <summary>
    /// Finds the member named like the local accessor's member in the target composite, descending into anonymous
    /// members, and checks the two members' types are compatible (libbpf's bpf_core_match_member).
    /// </summary>
    private static bool MatchMember(Btf localBtf, Accessor localAcc, Btf targetBtf, int targetId, Spec spec, out int nextTargetId)
    {
        nextTargetId = 0;
        var localComposite = (BtfComposite)localBtf.Types[localAcc.TypeId];
        var localMember = localComposite.Members[localAcc.Index];
        if (Skip(targetBtf, targetId) is not BtfComposite tc) return false;
        targetId = tc.Id;
        for (int i = 0; i < tc.Members.Count; i++)
        {
            var m = tc.Members[i];
            if (spec.Raw.Count >= MaxAccessLength) throw new CoreException("target access path is too deep");
            spec.BitOffset += m.BitOffset;
            spec.Raw.Add(i);
            if (m.Name.Length == 0)
            {
                if (MatchMember(localBtf, localAcc, targetBtf, m.TypeId, spec, out nextTargetId)) return true;
            }
            else if (m.Name == localMember.Name)
            {
                if (!FieldsAreCompatible(localBtf, localMember.TypeId, targetBtf, m.TypeId, MaxCompatDepth))
                {
                    spec.BitOffset -= m.BitOffset;
                    spec.Raw.RemoveAt(spec.Raw.Count - 1);
                    return false;
                }
                spec.Access.Add(new Accessor { TypeId = targetId, Index = i, Name = m.Name });
                nextTargetId = m.TypeId;
                return true;
            }
            spec.BitOffset -= m.BitOffset;
            spec.Raw.RemoveAt(spec.Raw.Count - 1);
        }
        return false;
    }

    /// <summary>Whether a local field's type can be read as the target field's type (libbpf's bpf_core_fields_are_compat).</summary>
    private static bool FieldsAreCompatible(Btf localBtf, int localId, Btf targetBtf, int targetId, int depth)
    {
        for (; depth > 0; depth--)
        {
            var lt = Skip(localBtf, localId);
            var tt = Skip(targetBtf, targetId);
            if (lt is BtfComposite && tt is BtfComposite) return true;
            if (!KindsCoreCompatible(lt, tt)) return false;
            switch (lt)
            {
                case BtfReference { Kind: BtfKind.Pointer }:
                case BtfFloat:
                    return true;
                case BtfForward or BtfEnum:
                    return lt.Name.Length == 0 || tt.Name.Length == 0 || Btf.EssentialName(lt.Name) == Btf.EssentialName(tt.Name);
                case BtfInt li:
                    // Old-style bitfield integers (with a bit offset in the encoding) are not relocatable.
                    return li.BitOffset == 0 && ((BtfInt)tt).BitOffset == 0;
                case BtfArray la:
                    localId = la.ElementTypeId;
                    targetId = ((BtfArray)tt).ElementTypeId;
                    continue;
                default:
                    return false;
            }
        }
        throw new CoreException("field type compatibility check is too deep");
    }

    /// <summary>Loose type compatibility for TYPE_EXISTS / TYPE_SIZE / TYPE_ID_TARGET (libbpf's bpf_core_types_are_compat).</summary>
    private static bool TypesAreCompatible(Btf localBtf, int localId, Btf targetBtf, int targetId, int level)
    {
        if (!KindsCoreCompatible(localBtf.Types[localId], targetBtf.Types[targetId])) return false;
        for (int depth = MaxCompatDepth; depth > 0; depth--)
        {
            var lt = Skip(localBtf, localId);
            var tt = Skip(targetBtf, targetId);
            if (!KindsCoreCompatible(lt, tt)) return false;
            switch (lt)
            {
                case BtfVoid or BtfComposite or BtfEnum or BtfForward:
                    return true;
                case BtfInt li:
                    return li.BitOffset == 0 && ((BtfInt)tt).BitOffset == 0;
                case BtfReference lp: // pointer (modifiers were skipped)
                    localId = lp.TargetId;
                    targetId = ((BtfReference)tt).TargetId;
                    continue;
                case BtfArray la:
                    localId = la.ElementTypeId;
                    targetId = ((BtfArray)tt).ElementTypeId;
                    continue;
                case BtfFuncProto lf:
                {
                    var tf = (BtfFuncProto)tt;
                    if (lf.Parameters.Count != tf.Parameters.Count) return false;
                    for (int i = 0; i < lf.Parameters.Count; i++)
                    {
                        if (level <= 0) throw new CoreException("function prototype compatibility check is too deep");
                        if (!TypesAreCompatible(localBtf, Skip(localBtf, lf.Parameters[i].TypeId).Id, targetBtf,
                                Skip(targetBtf, tf.Parameters[i].TypeId).Id, level - 1))
                            return false;
                    }
                    localId = lf.ReturnTypeId;
                    targetId = tf.ReturnTypeId;
                    continue;
                }
                default:
                    return false;
            }
        }
        throw new CoreException("type compatibility check is too deep");
    }

    /// <summary>Names match when the local one is anonymous or both essential names are equal.</summary>
    private static bool NamesMatch(string local, string target) =>
        local.Length == 0 || local.AsSpan(0, Btf.EssentialNameLength(local)).SequenceEqual(target.AsSpan(0, Btf.EssentialNameLength(target)));

    /// <summary>Strict type matching for TYPE_MATCHES (libbpf's bpf_core_types_match).</summary>
    private static bool TypesMatch(Btf localBtf, int localId, Btf targetBtf, int targetId, bool behindPointer, int level)
    {
        for (int depth = MaxCompatDepth; depth > 0; depth--)
        {
            var lt = Skip(localBtf, localId);
            var tt = Skip(targetBtf, targetId);
            if (!NamesMatch(lt.Name, tt.Name)) return false;
            switch (lt)
            {
                case BtfVoid:
                    return tt.Kind == BtfKind.Void;
                case BtfForward lf:
                    if (tt is BtfForward tf) return lf.IsUnion == tf.IsUnion;
                    return tt is BtfComposite tc && tc.IsUnion == lf.IsUnion;
                case BtfEnum le:
                    return tt is BtfEnum te && EnumsMatch(le, te);
                case BtfComposite lc:
                    if (behindPointer)
                    {
                        if (lt.Kind == tt.Kind) return true;
                        return tt is BtfForward tfw && tfw.IsUnion == lc.IsUnion;
                    }
                    return lt.Kind == tt.Kind && CompositesMatch(localBtf, lc, targetBtf, (BtfComposite)tt, level);
                case BtfInt li:
                    return tt is BtfInt ti && li.Size == ti.Size && li.IsSigned == ti.IsSigned;
                case BtfReference lp: // pointer
                    if (tt.Kind != BtfKind.Pointer) return false;
                    behindPointer = true;
                    localId = lp.TargetId;
                    targetId = ((BtfReference)tt).TargetId;
                    continue;
                case BtfArray la:
                    if (tt is not BtfArray ta || la.Length != ta.Length) return false;
                    localId = la.ElementTypeId;
                    targetId = ta.ElementTypeId;
                    continue;
                case BtfFuncProto lfp:
                {
                    if (tt is not BtfFuncProto tfp || lfp.Parameters.Count != tfp.Parameters.Count) return false;
                    for (int i = 0; i < lfp.Parameters.Count; i++)
                    {
                        if (level <= 0) throw new CoreException("type match check is too deep");
                        if (!TypesMatch(localBtf, lfp.Parameters[i].TypeId, targetBtf, tfp.Parameters[i].TypeId, behindPointer, level - 1))
                            return false;
                    }
                    localId = lfp.ReturnTypeId;
                    targetId = tfp.ReturnTypeId;
                    continue;
                }
                default:
                    return false;
            }
        }
        throw new CoreException("type match check is too deep");
    }

    private static bool EnumsMatch(BtfEnum local, BtfEnum target)
    {
        if (local.Size != target.Size) return false;
        foreach (var lv in local.Values)
        {
            bool found = false;
            foreach (var tv in target.Values)
                if (NamesMatch(lv.Name, tv.Name)) { found = true; break; }
            if (!found) return false;
        }
        return true;
    }

    private static bool CompositesMatch(Btf localBtf, BtfComposite local, Btf targetBtf, BtfComposite target, int level)
    {
        if (local.Members.Count > target.Members.Count) return false;
        if (level <= 0) throw new CoreException("type match check is too deep");
        foreach (var lm in local.Members)
        {
            bool matched = false;
            foreach (var tm in target.Members)
            {
                if (!NamesMatch(lm.Name, tm.Name)) continue;
                if (!TypesMatch(localBtf, lm.TypeId, targetBtf, tm.TypeId, false, level - 1)) return false;
                matched = true;
                break;
            }
            if (!matched) return false;
        }
        return true;
    }

    // ---------------------------------------------------------------- values

    private struct RelocValue
    {
        public ulong OrigVal, NewVal;
        public int OrigSize, NewSize;        // memory size of the field (for load/store size adjustment)
        public int OrigTypeId, NewTypeId;    // the field's type (after modifiers)
        public bool Poison, Validate, FailMemSizeAdjust;
        public int TargetTypeId;
    }

    private sealed class PoisonException() : Exception("poison");

    private static (RelocValue Value, string Text) Calculate(CoreRelocation relo, Btf local, Btf target)
    {
        var localSpec = ParseLocalSpec(local, relo);
        var localText = localSpec.Describe(relo.Kind);
        if (relo.Kind == CoreRelocationKind.TypeIdLocal)
        {
            // The local id needs no candidates; it is re-emitted because linking may have shifted ids.
            var v = new RelocValue { OrigVal = (ulong)relo.TypeId, NewVal = (ulong)relo.TypeId, Validate = false };
            return (v, $"{localText}: local type id {relo.TypeId}");
        }
        var localType = local.Types[relo.TypeId];
        if (localType.Name.Length == 0)
            throw new CoreException($"{localText}: CO-RE relocation of an anonymous type is not supported");

        var essential = Btf.EssentialName(localType.Name);
        RelocValue best = default;
        Spec? bestSpec = null;
        int matches = 0, candidates = 0;
        foreach (var cand in target.FindByEssentialName(essential))
        {
            if (!KindsCoreCompatible(localType, cand)) continue;
            candidates++;
            if (!MatchSpec(localSpec, relo.Kind, target, cand.Id, out var candSpec)) continue;
            var res = CalculateValue(relo.Kind, localSpec, candSpec);
            if (matches == 0)
            {
                best = res;
                bestSpec = candSpec;
            }
            else if (candSpec.BitOffset != bestSpec!.BitOffset)
            {
                throw new CoreException($"{localText}: field offset ambiguity: {candSpec.Describe(relo.Kind)} vs {bestSpec.Describe(relo.Kind)}");
            }
            else if (res.Poison != best.Poison || (!res.Poison && res.NewVal != best.NewVal))
            {
                throw new CoreException($"{localText}: relocation decision ambiguity: [{cand.Id}] gives {(res.Poison ? "poison" : res.NewVal)}, " +
                    $"[{bestSpec.RootTypeId}] gives {(best.Poison ? "poison" : best.NewVal)}");
            }
            matches++;
        }
        if (matches == 0)
        {
            best = CalculateValue(relo.Kind, localSpec, null);
            var why = candidates == 0
                ? $"the target has no {KindWord(localType)} named '{essential}'"
                : $"none of the target's {candidates} {KindWord(localType)} '{essential}' candidate(s) matches";
            return (best, best.Poison ? $"{localText}: {why}, instruction poisoned" : $"{localText}: {why}: {best.OrigVal} -> {best.NewVal}");
        }
        best.TargetTypeId = bestSpec!.RootTypeId;
        var text = best.Poison
            ? $"{localText} -> {bestSpec.Describe(relo.Kind)}: cannot be satisfied, instruction poisoned"
            : $"{localText} -> {bestSpec.Describe(relo.Kind)}: {best.OrigVal} -> {best.NewVal}";
        return (best, text);
    }

    /// <summary>Local and target values of one relocation (libbpf's bpf_core_calc_relo); a null target spec means no candidate matched.</summary>
    private static RelocValue CalculateValue(CoreRelocationKind kind, Spec localSpec, Spec? targetSpec)
    {
        var r = new RelocValue { Validate = true };
        try
        {
            if (IsFieldBased(kind))
            {
                bool validate = true;
                r.OrigVal = FieldValue(kind, localSpec, out r.OrigSize, out r.OrigTypeId, ref validate);
                r.Validate = validate;
                bool unused = false;
                r.NewVal = FieldValue(kind, targetSpec, out r.NewSize, out r.NewTypeId, ref unused);
                if (r.OrigSize != r.NewSize)
                {
                    // Changing a load's size is only safe for pointers (a 32-bit kernel pointer is zero-extended) and
                    // unsigned integers; anything else would read a different value, so that load gets poisoned.
                    var o = localSpec.Btf.Types[r.OrigTypeId];
                    var n = targetSpec!.Btf.Types[r.NewTypeId];
                    bool ok = (o.Kind == BtfKind.Pointer && n.Kind == BtfKind.Pointer)
                        || (o is BtfInt oi && n is BtfInt ni && !oi.IsSigned && !ni.IsSigned);
                    r.FailMemSizeAdjust = !ok;
                }
            }
            else if (IsTypeBased(kind))
            {
                r.OrigVal = TypeValue(kind, localSpec);
                r.NewVal = TypeValue(kind, targetSpec);
            }
            else
            {
                r.OrigVal = EnumValue(kind, localSpec);
                r.NewVal = EnumValue(kind, targetSpec);
            }
        }
        catch (PoisonException)
        {
            r.Poison = true;
        }
        return r;
    }

    private static ulong FieldValue(CoreRelocationKind kind, Spec? spec, out int fieldSize, out int fieldTypeId, ref bool validate)
    {
        fieldSize = 0;
        fieldTypeId = 0;
        if (kind == CoreRelocationKind.FieldExists) return spec is null ? 0UL : 1UL;
        if (spec is null) throw new PoisonException();
        var acc = spec.Access[^1];
        var btf = spec.Btf;
        if (acc.Name is null)
        {
            // The path ends in an array element (or the root itself): only offset and size make sense.
            validate = true;
            long sz = SizeOf(btf, acc.TypeId);
            switch (kind)
            {
                case CoreRelocationKind.FieldByteOffset:
                    fieldSize = (int)sz;
                    fieldTypeId = acc.TypeId;
                    return (ulong)(spec.BitOffset / 8);
                case CoreRelocationKind.FieldByteSize:
                    return (ulong)sz;
                default:
                    throw new CoreException($"{kind} cannot be applied to an array element access");
            }
        }

        var holder = (BtfComposite)btf.Types[acc.TypeId];
        var member = holder.Members[acc.Index];
        var mt = Skip(btf, member.TypeId);
        long bitOff = spec.BitOffset;
        long bitSize = member.BitfieldSize;
        bool bitfield = bitSize > 0;
        long byteSize, byteOff;
        if (bitfield)
        {
            // The smallest naturally aligned load (of at least the declared type's size) that covers the bits.
            byteSize = SizeOf(btf, mt.Id);
            if (byteSize <= 0) throw new CoreException($"bitfield '{member.Name}' has a zero-size type");
            byteOff = bitOff / 8 / byteSize * byteSize;
            while (bitOff + bitSize - byteOff * 8 > byteSize * 8)
            {
                if (byteSize >= 8) throw new CoreException($"bitfield '{member.Name}' cannot be read with a 64-bit load");
                byteSize *= 2;
                byteOff = bitOff / 8 / byteSize * byteSize;
            }
        }
        else
        {
            byteSize = SizeOf(btf, mt.Id);
            byteOff = bitOff / 8;
            bitSize = byteSize * 8;
        }
        // Bitfield offsets and sizes are the compiler's choice, so only their signedness and right shift are checked.
        validate = !bitfield;
        switch (kind)
        {
            case CoreRelocationKind.FieldByteOffset:
                if (!bitfield) { fieldSize = (int)byteSize; fieldTypeId = mt.Id; }
                return (ulong)byteOff;
            case CoreRelocationKind.FieldByteSize:
                return (ulong)byteSize;
            case CoreRelocationKind.FieldSigned:
                validate = true;
                return (mt is BtfEnum { IsSigned: true } || mt is BtfInt { IsSigned: true }) ? 1UL : 0UL;
            case CoreRelocationKind.FieldLShiftU64:
                return btf.IsBigEndian
                    ? (ulong)((8 - byteSize) * 8 + (bitOff - byteOff * 8))
                    : (ulong)(64 - (bitOff + bitSize - byteOff * 8));
            case CoreRelocationKind.FieldRShiftU64:
                validate = true;
                return (ulong)(64 - bitSize);
            default:
                throw new CoreException($"unsupported field relocation kind {kind}");
        }
    }

    private static ulong TypeValue(CoreRelocationKind kind, Spec? spec)
    {
        if (spec is null)
            return kind is CoreRelocationKind.TypeExists or CoreRelocationKind.TypeMatches ? 0UL : throw new PoisonException();
        return kind switch
        {
            CoreRelocationKind.TypeIdLocal or CoreRelocationKind.TypeIdTarget => (ulong)spec.RootTypeId,
            CoreRelocationKind.TypeExists or CoreRelocationKind.TypeMatches => 1UL,
            CoreRelocationKind.TypeSize => (ulong)SizeOf(spec.Btf, spec.RootTypeId),
            _ => throw new CoreException($"unsupported type relocation kind {kind}"),
        };
    }

    private static ulong EnumValue(CoreRelocationKind kind, Spec? spec)
    {
        if (spec is null)
            return kind == CoreRelocationKind.EnumValueExists ? 0UL : throw new PoisonException();
        if (kind == CoreRelocationKind.EnumValueExists) return 1;
        var acc = spec.Access[0];
        var e = (BtfEnum)spec.Btf.Types[acc.TypeId];
        long v = e.Values[acc.Index].Value;
        // A 32-bit enumerator is stored as s32 and widened with sign extension, whatever the enum's signedness (as libbpf does).
        return e.Kind == BtfKind.Enum ? unchecked((ulong)(long)(int)v) : unchecked((ulong)v);
    }

    // ---------------------------------------------------------------- patching

    /// <summary>Writes the target value into the instruction (libbpf's bpf_core_patch_insn); returns true when it poisoned it.</summary>
    private static bool Patch(RawInstruction[] insns, int index, RelocValue res, ref string text)
    {
        var insn = insns[index];
        if (res.Poison)
        {
            Poison(insns, index);
            return true;
        }
        var cls = (OpClass)(insn.Opcode & 0x07);
        switch (cls)
        {
            case OpClass.Alu or OpClass.Alu64:
                if ((insn.Opcode & 0x08) != 0)
                    throw new CoreException($"{text}: insn #{index} is a register ALU operation, not an immediate one");
                if (res.Validate && unchecked((ulong)(long)insn.Imm) != res.OrigVal)
                    throw new CoreException($"{text}: unexpected insn #{index} (ALU) value: got {insn.Imm}, expected {res.OrigVal}");
                insns[index] = new RawInstruction(insn.Opcode, insn.Dst, insn.Src, insn.Offset, unchecked((int)res.NewVal));
                return false;
            case OpClass.Ldx or OpClass.St or OpClass.Stx:
            {
                if (res.Validate && unchecked((ulong)(long)insn.Offset) != res.OrigVal)
                    throw new CoreException($"{text}: unexpected insn #{index} (LDX/ST/STX) offset: got {insn.Offset}, expected {res.OrigVal}");
                if (res.NewVal > (ulong)short.MaxValue)
                    throw new CoreException($"{text}: insn #{index} (LDX/ST/STX) offset {res.NewVal} does not fit in 16 bits");
                if (res.FailMemSizeAdjust)
                {
                    text += $"; insn #{index} would change load size from {res.OrigSize} to {res.NewSize} bytes for a signed or non-integer field, instruction poisoned";
                    Poison(insns, index);
                    return true;
                }
                byte opcode = insn.Opcode;
                if (res.NewSize != res.OrigSize)
                {
                    int current = (insn.Opcode & 0x18) switch { 0x00 => 4, 0x08 => 2, 0x10 => 1, _ => 8 };
                    if (current != res.OrigSize)
                        throw new CoreException($"{text}: insn #{index} (LDX/ST/STX) accesses {current} bytes, expected {res.OrigSize}");
                    int sizeBits = res.NewSize switch { 4 => 0x00, 2 => 0x08, 1 => 0x10, 8 => 0x18, _ => -1 };
                    if (sizeBits < 0)
                        throw new CoreException($"{text}: insn #{index} (LDX/ST/STX) cannot access {res.NewSize} bytes");
                    opcode = (byte)((insn.Opcode & ~0x18) | sizeBits);
                    text += $"; access size {res.OrigSize} -> {res.NewSize} bytes";
                }
                insns[index] = new RawInstruction(opcode, insn.Dst, insn.Src, (short)res.NewVal, insn.Imm);
                return false;
            }
            case OpClass.Ld:
            {
                if (insn.Opcode != OpLdImm64 || index + 1 >= insns.Length || insn.Src != 0 || insn.Offset != 0
                    || insns[index + 1].Opcode != 0 || insns[index + 1].Dst != 0 || insns[index + 1].Src != 0 || insns[index + 1].Offset != 0)
                    throw new CoreException($"{text}: insn #{index} (LDIMM64) has an unexpected form");
                ulong imm = (uint)insn.Imm | ((ulong)(uint)insns[index + 1].Imm << 32);
                if (res.Validate && imm != res.OrigVal)
                    throw new CoreException($"{text}: unexpected insn #{index} (LDIMM64) value: got {imm}, expected {res.OrigVal}");
                insns[index] = new RawInstruction(insn.Opcode, insn.Dst, insn.Src, insn.Offset, unchecked((int)res.NewVal));
                var hi = insns[index + 1];
                insns[index + 1] = new RawInstruction(hi.Opcode, hi.Dst, hi.Src, hi.Offset, unchecked((int)(res.NewVal >> 32)));
                return false;
            }
            default:
                throw new CoreException($"{text}: insn #{index} (opcode 0x{insn.Opcode:x2}) cannot carry a CO-RE relocation");
        }
    }

    private static void Poison(RawInstruction[] insns, int index)
    {
        // Poison the second slot of an lddw too, so the verifier reports the bad call rather than "unknown opcode 00".
        if (insns[index].Opcode == OpLdImm64 && index + 1 < insns.Length)
            insns[index + 1] = new RawInstruction(OpCall, 0, 0, 0, PoisonHelperId);
        insns[index] = new RawInstruction(OpCall, 0, 0, 0, PoisonHelperId);
    }
}
