using System.Runtime.CompilerServices;

// The tests observe the analyzer's per-instruction states (VerifierOptions.StepObserver) to check end-to-end soundness.
[assembly: InternalsVisibleTo("BpfSharp.Verifier.Tests")]

namespace BpfSharp.Verifier;
