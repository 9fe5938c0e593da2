package formatter

import (
	"io"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/proxyctl/proxyctl/configdump"
)

// ClusterRow is a cluster's row of the cluster table. withName adds the NAME column `pc all`
// shows, with istioctl's quirk of also prefixing non-Istio names in the SERVICE FQDN column.
func ClusterRow(c *clusterv3.Cluster, withName bool) string {
	name := c.GetName()
	display := name
	if withName {
		display = "cluster/" + name
	}
	var fqdn, port, subset, direction string
	if configdump.IsSubsetKey(name) {
		k := configdump.ParseSubsetKey(name)
		fqdn, port, subset, direction = k.Host, strconv.Itoa(k.Port), k.Subset, k.Direction
		if subset == "" {
			subset = "-"
		}
	} else {
		fqdn, port, subset, direction = display, "-", "-", "-"
	}
	if withName {
		return row(display, fqdn, port, subset, direction, c.GetType().String(), describeManagement(c.GetMetadata()))
	}
	return row(fqdn, port, subset, direction, c.GetType().String(), describeManagement(c.GetMetadata()))
}

// ClusterTable writes the cluster view's table from rows made by ClusterRow.
func ClusterTable(w io.Writer, rows []string, withName bool) error {
	header := "SERVICE FQDN\tPORT\tSUBSET\tDIRECTION\tTYPE\tDESTINATION RULE"
	if withName {
		header = "NAME\t" + header
	}
	return writeTable(w, 5, header, rows)
}

// describeManagement names the Istio resource (name.namespace) that produced a config, from
// its "istio" filter metadata.
func describeManagement(md *corev3.Metadata) string {
	if md == nil {
		return ""
	}
	istio, ok := md.GetFilterMetadata()["istio"]
	if !ok {
		return ""
	}
	config, ok := istio.GetFields()["config"]
	if !ok {
		return ""
	}
	return renderConfig(config.GetStringValue())
}

// renderConfig turns /apis/networking.istio.io/VERSION/namespaces/NS/KIND/NAME into NAME.NS.
func renderConfig(path string) string {
	if strings.HasPrefix(path, "/apis/networking.istio.io/") {
		pieces := strings.Split(path, "/")
		if len(pieces) != 8 || pieces[4] != "namespaces" {
			return ""
		}
		return pieces[7] + "." + pieces[5]
	}
	return "<unknown>"
}
