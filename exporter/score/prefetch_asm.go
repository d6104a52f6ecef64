//go:build amd64 || arm64

package score

// prefetchSpan asks the processor to bring every cache line of the n bytes
// (n > 0) at p towards its first-level cache, and returns at once: a hint,
// never a fault (p may be any address; nothing is read, so no data race
// either). Go has no prefetch for user code, so these are a few
// instructions of assembly (prefetch_amd64.s, prefetch_arm64.s);
// prefetch_other.go elsewhere.
//
//go:noescape
func prefetchSpan(p, n uintptr)
