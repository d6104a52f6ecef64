package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/minewatch/minewatch/exporter/demo"
)

// `minewatch demo`: the whole stack on loopback, no Docker, no root.
func init() {
	c := app.Command("demo", "Run the whole stack on loopback (演示): VictoriaMetrics, vmalert, Alertmanager, a mail catcher, "+
		"the exporter and the campus simulator. A simulated week ending now is exported, decoded and scored into "+
		"VictoriaMetrics at full speed; then the simulator feeds the live exporter in real time, vmalert fires on the "+
		"miners and Alertmanager emails the unit leads. Prints the weekly review, the tracker and the emails, then "+
		"keeps running until Ctrl-C (or --exit-after). The Debian binaries come from PATH or .cache/debs "+
		"(`make demo` fetches them without root).")
	var o demo.Options
	c.Flag("scenario", "campus scenario (YAML)").Default("exporter/scenarios/school-week.yaml").ExistingFileVar(&o.Scenario)
	c.Flag("workdir", "where data, configs and logs go (emptied first)").Default(".cache/demo").StringVar(&o.Workdir)
	c.Flag("live", "simulated time fed to the live exporter in real time after the accelerated part").Default("20m").DurationVar(&o.Live)
	c.Flag("wait-mail", "how long to wait for the first alert emails before printing the summary").Default("6m").DurationVar(&o.WaitMail)
	c.Flag("exit-after", "stop everything this long after the summary (0: run until Ctrl-C)").DurationVar(&o.ExitAfter)
	commands[c.FullCommand()] = func() error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		o.Progress = barProgress(false)
		return demo.Run(ctx, o)
	}
}
