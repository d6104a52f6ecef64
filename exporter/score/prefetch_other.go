//go:build !amd64 && !arm64

package score

// prefetchSpan does nothing on processors without an assembly
// version: a prefetch is only a hint (prefetch_asm.go).
func prefetchSpan(p, n uintptr) {}
