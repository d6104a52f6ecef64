package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/minewatch/minewatch/exporter/encode"
	"github.com/minewatch/minewatch/exporter/sim"
)

func init() {
	c := app.Command("flowgen", "Simulate a campus or district from a scenario file and emit the flow exports its routers would send "+
		"(校园流量仿真): NetFlow v5/v9, IPFIX or sFlow, into a pcap file or to a UDP collector, plus the ground truth, "+
		"the matching ledger (资产台账) and pool intel list.\n\n"+
		"Example: minewatch flowgen --scenario exporter/scenarios/school-week.yaml --out school.pcap "+
		"--truth truth.jsonl --ledger ledger.yaml --intel pools.txt")
	var (
		scenario = c.Flag("scenario", "scenario YAML file").Required().ExistingFile()
		out      = c.Flag("out", "write the export datagrams into this pcap file (UDP to 127.0.0.1:2055 for NetFlow/IPFIX, :6343 for sFlow)").String()
		udp      = c.Flag("udp", "send NetFlow/IPFIX datagrams to this UDP address (sFlow goes to the same host, port 6343), e.g. 127.0.0.1:2055").String()
		speed    = c.Flag("speed", "with --udp: simulated seconds per real second (0: as fast as possible)").Default("0").Float64()
		truth    = c.Flag("truth", "write the ground truth here (JSON lines, one host each)").String()
		ledger   = c.Flag("ledger", "write the scenario's ledger (units and assets) here").String()
		intelOut = c.Flag("intel", "write the scenario's pool intel list here").String()
		quiet    = c.Flag("quiet", "no progress bar").Bool()
	)
	commands[c.FullCommand()] = func() error {
		if *out == "" && *udp == "" && *truth == "" && *ledger == "" && *intelOut == "" {
			return errors.New("flowgen: nothing to write; give --out, --udp, --truth, --ledger or --intel")
		}
		s, err := sim.Load(*scenario)
		if err != nil {
			return err
		}
		t0 := time.Now()
		var bar *progressbar.ProgressBar
		hosts, err := s.Hosts()
		if err != nil {
			return err
		}
		if !*quiet {
			bar = newBar(int64(len(hosts)), "仿真 simulating hosts", false)
		}
		res, err := sim.Generate(s, nil, func(done, total int) {
			if bar != nil {
				_ = bar.Set(done)
			}
		})
		if err != nil {
			return err
		}
		if bar != nil {
			_ = bar.Finish()
		}
		if err := writeFile(*truth, func(f *os.File) error { return sim.WriteTruth(f, res.Truth) }); err != nil {
			return err
		}
		if err := writeFile(*ledger, func(f *os.File) error { return sim.WriteLedger(f, s, res.Hosts) }); err != nil {
			return err
		}
		if err := writeFile(*intelOut, func(f *os.File) error { return sim.WriteIntel(f, s) }); err != nil {
			return err
		}
		var stats []sim.ExportStats
		switch {
		case *out != "":
			err = writeFile(*out, func(f *os.File) error {
				pc, err := encode.NewPcapWriter(f)
				if err != nil {
					return err
				}
				stats, err = sim.Export(s, res, sim.WritePcap(pc))
				return err
			})
		case *udp != "":
			stats, err = sendUDP(s, res, *udp, *speed)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %d hosts, %d flow records, %s simulated in %s\n", s.Name, len(res.Hosts), len(res.Records), s.Duration, time.Since(t0).Round(time.Millisecond))
		if len(stats) > 0 {
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "exporter\tprotocol\tsampling\trecords\tdatagrams")
			for _, st := range stats {
				fmt.Fprintf(tw, "%s\t%s\t1:%d\t%d\t%d\n", st.ID, st.Protocol, st.Sampling, st.Records, st.Datagrams)
			}
			return tw.Flush()
		}
		return nil
	}
}

func writeFile(path string, fn func(*os.File) error) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sendUDP sends the datagrams from the exporters' own addresses' point of view
// (the socket's source is local); with speed > 0 it paces them on the simulated clock.
func sendUDP(s *sim.Scenario, res *sim.Result, addr string, speed float64) ([]sim.ExportStats, error) {
	nf, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("--udp: %w", err)
	}
	sf := &net.UDPAddr{IP: nf.IP, Port: 6343}
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	start, real0 := s.Start.UnixMilli(), time.Now()
	return sim.Export(s, res, func(d *sim.Datagram) error {
		if speed > 0 {
			due := real0.Add(time.Duration(float64(d.ExportMs-start)/speed) * time.Millisecond)
			if w := time.Until(due); w > 0 {
				time.Sleep(w)
			}
		}
		to := nf
		if d.Port == 6343 {
			to = sf
		}
		_, err := conn.WriteToUDP(d.Payload, to)
		return err
	})
}
