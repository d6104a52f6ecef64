//go:build !linux

package ingestbench

import "errors"

// Pinning is a run with the sender and the receivers on separate CPUs
// (pin_linux.go); elsewhere there is none.
type Pinning struct {
	Sender    int   `json:"sender_cpu"`
	Receivers []int `json:"receiver_cpus"`
}

// Pin is Linux only.
func Pin() (*Pinning, error) { return nil, errors.New("pin: Linux only") }

// Unpin does nothing here.
func Unpin(*Pinning) error { return nil }

func onReceiverCPUs(start func() error) error { return start() }
