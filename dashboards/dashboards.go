// Package dashboards holds minewatch's provisioned Grafana dashboards (Chinese titles,
// stable uids, every query through the minewatch datasource). Grafana reads the JSON
// files from this directory through deploy/grafana/provisioning/dashboards; the package
// embeds them so that tests and tools can read them from the binary too.
package dashboards

import (
	"embed"
	"io/fs"
)

//go:embed *.json
var files embed.FS

// Files returns the dashboard JSON files, one per dashboard.
func Files() fs.FS { return files }

// UIDs of the provisioned dashboards; links between them and alert emails use them.
const (
	UIDWall     = "minewatch-wall"     // 挖矿态势大屏
	UIDWeekly   = "minewatch-weekly"   // 每周研判
	UIDUnit     = "minewatch-unit"     // 单位详情
	UIDIP       = "minewatch-ip"       // IP详情
	UIDExporter = "minewatch-exporter" // 采集健康
)

// DatasourceUID is the uid of the provisioned minewatch datasource.
const DatasourceUID = "minewatch"
