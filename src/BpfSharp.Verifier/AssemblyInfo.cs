namespace BpfSharp.Verifier;
