package names

// Sector is a kind of unit in the ledger (DESIGN.md §3.2): the `sector`
// label of UnitInfo and a filter of the campaign's tables.
type Sector struct {
	ID     string
	Zh, En string
}

var sectors = []Sector{
	{"school", "学校", "school"},
	{"government", "政府机关", "government"},
	{"soe", "国有企业", "SOE"},
	{"netcafe", "网吧", "net café"},
	{"institution", "事业单位", "institution"},
	{"enterprise", "企业", "enterprise"},
	{"isp", "运营商", "ISP"},
}

// Sectors returns the sectors a unit may have, in the ledger's order.
func Sectors() []Sector { return append([]Sector(nil), sectors...) }

// SectorIDs returns the sector ids, in the ledger's order.
func SectorIDs() []string {
	out := make([]string, len(sectors))
	for i, s := range sectors {
		out[i] = s.ID
	}
	return out
}

// SectorLabel is the Chinese then English name of a sector ("学校 school");
// an unknown id comes back as it is.
func SectorLabel(id string) string {
	for _, s := range sectors {
		if s.ID == id {
			return s.Zh + " " + s.En
		}
	}
	return id
}
