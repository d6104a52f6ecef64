package eval

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
)

func rates(r *Result) []string {
	var out []string
	for _, x := range r.Rows {
		if !slices.Contains(out, x.Rate) {
			out = append(out, x.Rate)
		}
	}
	return out
}

func dur(s float64) string {
	if s < 0 {
		return "-"
	}
	if s < 120 {
		return fmt.Sprintf("%.0fs", s)
	}
	if s < 7200 {
		return fmt.Sprintf("%.1fm", s/60)
	}
	return fmt.Sprintf("%.1fh", s/3600)
}

// WriteTable prints the result as an aligned text table.
func WriteTable(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "scenario %s: %d hosts, evaluated in %s\n", r.Scenario, r.Hosts, r.Elapsed.Round(1e7))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate\tbehaviour\tminers\tdetected\tdetection\tFP hosts\tFP rate\tsuspect hosts\tprecision\tF1\tTTF median\tTTF p90\tTTF from 1st record median\tTTF from 1st record p90\t≤2h\tclass ok\tprobes\t")
	for _, x := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\t%d/%d\t%.2f%%\t%d (%.1f%%)\t%.3f\t%.3f\t%s\t%s\t%s\t%s\t%.0f%%\t%.0f%%\t%d\t\n",
			x.Rate, x.Behaviour, x.Miners, x.Detected, 100*x.DetectionRate, x.FPHosts, x.Negatives, 100*x.FPRate,
			x.SuspectHosts, 100*float64(x.SuspectHosts)/float64(max(1, x.Negatives)),
			x.Precision, x.F1, dur(x.TTFMedian), dur(x.TTFP90), dur(x.TTFRecordMedian), dur(x.TTFRecordP90), 100*x.Within2h, 100*x.ClassAccuracy, x.Probes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, rate := range rates(r) {
		if g := r.FPByGroup[rate]; len(g) > 0 {
			fmt.Fprintf(w, "false-positive hosts at %s by host group:", rate)
			for _, k := range slices.Sorted(maps.Keys(g)) {
				fmt.Fprintf(w, " [%s]=%d", k, g[k])
			}
			fmt.Fprintln(w)
		}
		if g := r.SuspectByGroup[rate]; len(g) > 0 {
			fmt.Fprintf(w, "suspect ordinary hosts at %s by host group and signals:", rate)
			for _, k := range slices.Sorted(maps.Keys(g)) {
				fmt.Fprintf(w, " [%s]=%d", k, g[k])
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}
