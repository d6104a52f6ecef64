// Command minewatch is the one command-line tool for everything a person runs
// by hand: replaying captures, simulating a campus, evaluating the scorer,
// the weekly review and the IP清零 tracker, recording case dispositions.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
)

var app = kingpin.New("minewatch", "minewatch: find and track the hosts that mine cryptocurrency (挖矿主机发现与IP清零跟踪).")

// commands maps a kingpin command's FullCommand() to the function that runs it.
// Each subcommand registers itself from its own file's init.
var commands = map[string]func() error{}

func main() {
	app.HelpFlag.Short('h')
	cmd := kingpin.MustParse(app.Parse(os.Args[1:]))
	run, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(os.Stderr, "minewatch: command %q is not implemented\n", cmd)
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "minewatch:", err)
		os.Exit(1)
	}
}
