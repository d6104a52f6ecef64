package vmtest

import (
	"sort"
	"time"

	"github.com/minewatch/minewatch/exporter/names"
)

// ConfirmedPools are series for the upward report of pools, over the
// seeded campaign's week 2026-W45 (Mon 2 Nov – Mon 9 Nov CST): pool
// endpoints the active prober confirmed (minewatch_pool_confirmed, written
// every 5 minutes from the first confirmation on, its value that moment)
// and the hosts that contacted them after (the exporter's pool contacts,
// which name a confirmed endpoint as ip:port).
//
//	203.0.113.50:14444   stratum, no TLS, confirmed 3 Nov 10:00; 10.2.0.9 (u-b) flagged 3 Nov 10:05 – 4 Nov 10:05,
//	                     96 contacts (+2 every 15 min, last 4 Nov 09:50), score 75
//	198.51.100.77:443    gulf.pool.example, stratum over TLS, confirmed 5 Nov 14:00 (and again without SNI
//	                     6 Nov 08:00); 10.1.0.8 (u-a) 24 contacts 5 Nov 14:05 – 19:50, score 40, not flagged
//	192.0.2.66:3333      xmr.pool.example (on the bureau's list by its domain), confirmed 4 Nov; 10.1.0.9 (u-a)
//	203.0.113.99:3333    cryptonote, confirmed 7 Nov 09:00, contacted by nobody since
//	203.0.113.200:3333   confirmed 20 Oct, contacted by nobody in W45
func ConfirmedPools() []string {
	var s Series
	end := At(2026, 11, 9, 0, 0)
	confirm := func(ep, domain, protocol, tls string, first, until time.Time) {
		s.Every(names.PoolConfirmed, float64(first.Unix()), first, until, 5*time.Minute,
			"endpoint", ep, "domain", domain, "protocol", protocol, "tls", tls)
	}
	contacts := func(ip, unit, pool, coin string, from, to time.Time, step float64) {
		n := 0.0
		for t := from; t.Before(to); t = t.Add(15 * time.Minute) {
			n += step
			s.Sample(names.PoolContacts, n, t, "ip", ip, "unit", unit, "pool", pool, "coin", coin)
		}
	}
	confirm("203.0.113.50:14444", "", "stratum", "false", At(2026, 11, 3, 10, 0), end)
	contacts("10.2.0.9", "u-b", "203.0.113.50:14444", "XMR", At(2026, 11, 3, 10, 5), At(2026, 11, 4, 10, 5), 2)
	s.Flag("10.2.0.9", "u-b", "active", At(2026, 11, 3, 10, 5), At(2026, 11, 4, 10, 5), 75)
	s.Every(names.HostSignalPoints, 30, At(2026, 11, 3, 10, 5), At(2026, 11, 4, 10, 5), 15*time.Minute, "ip", "10.2.0.9", "unit", "u-b", "signal", "stratum_profile")
	s.Every(names.HostSignalPoints, 55, At(2026, 11, 3, 10, 5), At(2026, 11, 4, 10, 5), 15*time.Minute, "ip", "10.2.0.9", "unit", "u-b", "signal", "pool_contact")

	confirm("198.51.100.77:443", "gulf.pool.example", "stratum", "true", At(2026, 11, 5, 14, 0), end)
	confirm("198.51.100.77:443", "", "stratum", "true", At(2026, 11, 6, 8, 0), end)
	contacts("10.1.0.8", "u-a", "198.51.100.77:443", "unknown", At(2026, 11, 5, 14, 5), At(2026, 11, 5, 20, 5), 1)
	s.Every(names.HostScore, 40, At(2026, 11, 5, 14, 5), At(2026, 11, 5, 20, 5), 15*time.Minute, "ip", "10.1.0.8", "unit", "u-a")

	confirm("192.0.2.66:3333", "xmr.pool.example", "stratum", "false", At(2026, 11, 4, 9, 0), end)
	contacts("10.1.0.9", "u-a", "192.0.2.66:3333", "XMR", At(2026, 11, 4, 9, 5), At(2026, 11, 4, 12, 5), 1)

	confirm("203.0.113.99:3333", "", "cryptonote", "false", At(2026, 11, 7, 9, 0), end)
	confirm("203.0.113.200:3333", "", "stratum", "false", At(2026, 10, 20, 9, 0), end)
	sort.Strings(s.Lines)
	return s.Lines
}
