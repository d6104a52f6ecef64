#include "textflag.h"

// func prefetchSpan(p, n uintptr)
TEXT ·prefetchSpan(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ	p+0(FP), AX
	MOVQ	n+8(FP), BX
	LEAQ	-1(AX)(BX*1), BX // the last byte
	ANDQ	$~63, AX         // the first line
loop:
	PREFETCHT0	(AX)
	ADDQ	$64, AX
	CMPQ	AX, BX
	JLS	loop
	RET
