package flow

import "fmt"

var fmtSscan = func(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }
