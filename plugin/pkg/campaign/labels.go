package campaign

// Chinese labels of the codes the tables carry, shown first where bureau
// staff read (CLI tables and blocks). The codes themselves stay in JSON, CSV
// and the datasource's frames, where dashboards and scripts match on them.
// Sectors are named by exporter/names, which owns them.

import "github.com/minewatch/minewatch/exporter/names"

var classLabels = map[string]string{
	"active":         "主动挖矿",
	"passive":        "被动(木马)",
	"research":       "科研",
	"false-positive": "误报",
	"unknown":        "未定",
}

// ClassLabel is "主动挖矿 active" for "active" (detector classes and
// disposition classes); an unknown class is shown as is.
func ClassLabel(c string) string {
	if l, ok := classLabels[c]; ok {
		return l + " " + c
	}
	return c
}

// textLabels are the columns whose codes the text renderings label in Chinese.
var textLabels = map[string]func(string) string{
	"sector":            names.SectorLabel,
	"class":             ClassLabel,
	"disposition_class": ClassLabel,
	"disposition":       func(s string) string { return labelled(StageLabel(s), s) },
	"power_class":       func(s string) string { return labelled(PowerClassLabel(PowerClass(s)), s) },
	"kind":              KindLabel,
}

// PowerClassLabel is the Chinese name of a power class.
func PowerClassLabel(c PowerClass) string {
	switch c {
	case PowerGPU:
		return "显卡矿机"
	case PowerCPU:
		return "CPU电脑"
	}
	return string(c)
}

func labelled(zh, code string) string {
	if zh == code || code == "" {
		return code
	}
	return zh + " " + code
}

// CodeLabels lists, for a column whose cells are codes (state, class,
// disposition_class, disposition, sector, kind), every code with its label
// ("挖矿中 mining"), nil for other columns. The datasource turns these into
// value mappings, so panels show the labels while filters, overrides and
// alert rules keep matching the codes.
func CodeLabels(key string) map[string]string {
	m := map[string]string{}
	switch key {
	case "state":
		for _, s := range AllStates() {
			m[string(s)] = labelled(StateLabel(s), string(s))
		}
	case "class", "disposition_class":
		for c := range classLabels {
			m[c] = ClassLabel(c)
		}
	case "disposition", "stage":
		for _, s := range []string{StageLocated, StageReported, StageClosed} {
			m[s] = labelled(StageLabel(s), s)
		}
	case "sector":
		for _, id := range names.SectorIDs() {
			m[id] = names.SectorLabel(id)
		}
	case "kind":
		for k := range kindLabels {
			m[k] = KindLabel(k)
		}
	default:
		return nil
	}
	return m
}

// ColumnHeader is the header the campaign's tables give a column key
// ("单位 unit" for unit), "" for a key no table has: the datasource names
// the label columns of raw MetricsQL tables with it.
func ColumnHeader(key string) string {
	for _, cols := range [][]Field{TrackerTable(nil).Fields, ReviewTableOf(nil, false).Fields, PoolTable(nil).Fields} {
		for _, f := range cols {
			if f.Key == key {
				return f.Header
			}
		}
	}
	return ""
}

// AllStates lists the four states in the order of a case's life.
func AllStates() []State { return []State{StateMining, StateQuiet, StateCleared, StateRelapsed} }

// BoolLabel is how a yes/no column reads where people read it: 是 yes, 否 no.
func BoolLabel(b bool) string {
	if b {
		return "是 yes"
	}
	return "否 no"
}

// kindLabels name the asset ledger's device kinds (the codes are
// exporter/ledger.Kinds; a test keeps every one of them named here). The
// kind reaches Grafana as the kind label of minewatch_host_info.
var kindLabels = map[string]string{
	"server":          "服务器",
	"gpu-workstation": "显卡工作站",
	"pc":              "个人电脑",
	"lab-pc":          "实验室电脑",
	"other":           "其他设备",
}

// KindLabel is "显卡工作站 gpu-workstation" for the asset kind
// "gpu-workstation"; a kind the ledger does not know is shown as is.
func KindLabel(k string) string {
	if l, ok := kindLabels[k]; ok {
		return l + " " + k
	}
	return k
}
