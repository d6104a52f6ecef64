package models

// AppID is the Grafana plugin id of the app that bundles the datasource
// (plugin/src/plugin.json): its pages are at /a/<AppID>/ below Grafana's root URL.
const AppID = "minewatch-campaign-app"

// CasesPath is the path of the app's case pages below Grafana's root URL:
// CasesPath + a case id (docs/app-api.md) is that case's page.
const CasesPath = "/a/" + AppID + "/cases/"

// DetectedCasePrefix starts the id of a case the app's API names by unit
// and IP (a flagged IP, whether or not the store holds a case for it yet).
const DetectedCasePrefix = "d~"

// DetectedCaseID is that id, d~<unit>~<ip>: the API answers it with the IP's
// case, the store's once one exists (so a link made before the first
// disposition keeps working after it).
func DetectedCaseID(unit, ip string) string { return DetectedCasePrefix + unit + "~" + ip }
