package bundle

import "strings"

// Document is one admin document a capture fetches from each proxy.
type Document struct {
	// Name is its file name in the proxy's folder.
	Name string
	// AdminPath is the admin API path fetched.
	AdminPath string
	// Required: a proxy whose document cannot be fetched failed (a 404 of another is only
	// recorded).
	Required bool
	// Message is the envoy.admin.v3 message the document is the JSON of ("" for none).
	Message string
}

// Documents are what a capture fetches from each proxy, in order: server_info first (small,
// and it says the endpoint is Envoy's), then the config dump.
var Documents = []Document{
	{Name: "server_info.json", AdminPath: "server_info", Message: "envoy.admin.v3.ServerInfo"},
	{Name: "config_dump.json", AdminPath: "config_dump?include_eds=true", Required: true, Message: "envoy.admin.v3.ConfigDump"},
	{Name: "clusters.json", AdminPath: "clusters?format=json", Message: "envoy.admin.v3.Clusters"},
	{Name: "listeners.json", AdminPath: "listeners?format=json", Message: "envoy.admin.v3.Listeners"},
	{Name: "certs.json", AdminPath: "certs", Message: "envoy.admin.v3.Certificates"},
	{Name: "runtime.json", AdminPath: "runtime"}, // no message: Envoy writes it by hand
	{Name: "memory.json", AdminPath: "memory", Message: "envoy.admin.v3.Memory"},
	{Name: "stats.txt", AdminPath: "stats"},
}

// DocumentFor returns the bundle document that answers an admin API path: any config_dump
// (whatever its mask: the bundle's dump is the whole one, EDS included, and views read the
// sections they need, as from a file), or exactly one of the other documents' paths.
func DocumentFor(adminPath string) (Document, bool) {
	adminPath = strings.TrimPrefix(adminPath, "/")
	endpoint, _, _ := strings.Cut(adminPath, "?")
	for _, d := range Documents {
		if endpoint == "config_dump" && d.Name == "config_dump.json" || adminPath == d.AdminPath {
			return d, true
		}
	}
	return Document{}, false
}
