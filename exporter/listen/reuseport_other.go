//go:build !linux

package listen

import "errors"

func setReusePort(uintptr) error { return errors.New("SO_REUSEPORT is used on Linux only") }
