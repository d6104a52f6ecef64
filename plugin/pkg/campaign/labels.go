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
