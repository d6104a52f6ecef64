// Package logging builds the exporter's logger with Prometheus' promslog, so
// its lines look like every Prometheus exporter's (level, source, ts).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/prometheus/common/promslog"
)

// Configuration is the `log:` section of the exporter's config file.
type Configuration struct {
	Level  string // debug | info | warn | error
	Format string // logfmt | json
}

// Levels and Formats are the accepted values (promslog's own lists).
var (
	Levels  = promslog.LevelFlagOptions
	Formats = promslog.FormatFlagOptions
)

// DefaultConfiguration returns promslog's defaults: info, logfmt.
func DefaultConfiguration() Configuration {
	return Configuration{Level: promslog.NewLevel().String(), Format: Formats[0]}
}

// Validate says what is wrong with a value, naming the accepted ones.
func (c Configuration) Validate() (level, format error) {
	if !slices.Contains(Levels, c.Level) {
		level = fmt.Errorf("%q is not one of %s", c.Level, strings.Join(Levels, " | "))
	}
	if !slices.Contains(Formats, c.Format) {
		format = fmt.Errorf("%q is not one of %s", c.Format, strings.Join(Formats, " | "))
	}
	return level, format
}

// New returns a logger writing to w (os.Stderr when nil).
func New(c Configuration, w io.Writer) (*slog.Logger, error) {
	lvl, f := promslog.NewLevel(), promslog.NewFormat()
	if err := lvl.Set(c.Level); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	if err := f.Set(c.Format); err != nil {
		return nil, fmt.Errorf("log.format: %w", err)
	}
	return promslog.New(&promslog.Config{Level: lvl, Format: f, Writer: w}), nil
}
