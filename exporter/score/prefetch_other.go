//go:build !amd64 && !arm64

package score

// prefetch and prefetchSpan do nothing on processors without an assembly
// version: a prefetch is only a hint (prefetch_asm.go).
func prefetch(p uintptr)        {}
func prefetchSpan(p, n uintptr) {}
