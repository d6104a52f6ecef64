// Package docs holds the project's reference documents. The metric catalogue
// itself is defined in exporter/names; this package's tests keep metrics.md
// in step with it and with what the code really writes.
package docs
