//go:build linux

package ingestbench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Pinning is a run with the sender and the receivers on separate CPUs
// (Pin): the sender (this process) on the first CPU it may use, every
// receiver on the others. Unpinned, the kernel moves the sender's and the
// receiver's threads over the same cores, the two evict each other's
// caches, and a receiver's figure depends on how it was scheduled against
// the sender as much as on its own cost; pinned, each receiver has the same
// cores to itself (one on a 2-core machine: the per-core figure) and a Go
// receiver sizes itself to them (GOMAXPROCS follows the affinity).
type Pinning struct {
	Sender    int   `json:"sender_cpu"`
	Receivers []int `json:"receiver_cpus"`
	sender    unix.CPUSet
	receivers unix.CPUSet
}

// pinned is the pinning in force (Pin), read by startProc.
var (
	pinMu  sync.Mutex
	pinned *Pinning
)

// Pin moves every thread of this process onto the first CPU of its
// affinity and has the receivers started from now on run on the rest. It
// needs two CPUs or more.
func Pin() (*Pinning, error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, fmt.Errorf("pin: %w", err)
	}
	p := &Pinning{Sender: -1}
	for c := 0; c < len(all)*8*int(unsafe.Sizeof(all[0])); c++ { // CPUSet is an array of words, a bit a CPU
		if !all.IsSet(c) {
			continue
		}
		if p.Sender < 0 {
			p.Sender = c
			p.sender.Set(c)
			continue
		}
		p.Receivers = append(p.Receivers, c)
		p.receivers.Set(c)
	}
	if len(p.Receivers) == 0 {
		return nil, fmt.Errorf("pin: this process may use one CPU only (%d): nothing to give the receivers", p.Sender)
	}
	if err := pinThreads(&p.sender); err != nil {
		return nil, err
	}
	pinMu.Lock()
	pinned = p
	pinMu.Unlock()
	return p, nil
}

// Unpin gives every thread of this process all the CPUs of the pinning
// back and starts receivers unpinned again.
func Unpin(p *Pinning) error {
	pinMu.Lock()
	pinned = nil
	pinMu.Unlock()
	var all unix.CPUSet
	all.Set(p.Sender)
	for _, c := range p.Receivers {
		all.Set(c)
	}
	return pinThreads(&all)
}

// pinThreads sets the affinity of every thread of this process. A thread
// inherits its creator's affinity, so threads made after are covered too;
// one made during the walk is caught by walking again until a walk finds
// none new.
func pinThreads(set *unix.CPUSet) error {
	done := map[int]bool{}
	for {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("pin: %w", err)
		}
		fresh := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			// A thread that ended meanwhile is no error.
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin thread %d: %w", tid, err)
			}
			done[tid], fresh = true, fresh+1
		}
		if fresh == 0 {
			return nil
		}
	}
}

// onReceiverCPUs runs start (which forks a receiver) on a thread whose
// affinity is the receivers' CPUs while pinned, so that the child inherits
// them from its first instruction: set after the start, the threads a
// receiver makes at once (Go's runtime, nfacctd's plugins) and its
// GOMAXPROCS would still see every CPU. The thread is locked for the
// while; the runtime makes new threads from its template thread meanwhile,
// not from a locked one, so no other thread gets the receivers' CPUs.
func onReceiverCPUs(start func() error) error {
	pinMu.Lock()
	p := pinned
	pinMu.Unlock()
	if p == nil {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.SchedSetaffinity(0, &p.receivers); err != nil {
		return fmt.Errorf("pin receiver: %w", err)
	}
	err := start()
	if rerr := unix.SchedSetaffinity(0, &p.sender); rerr != nil && err == nil {
		err = fmt.Errorf("pin sender back: %w", rerr)
	}
	return err
}
