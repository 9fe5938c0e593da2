package traffic

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

func TestDefaultMode(t *testing.T) {
	vo := []*listenerv3.Listener{listener(t, `{"name":"virtualOutbound","use_original_dst":true}`)}
	tests := []struct {
		node string
		ls   []*listenerv3.Listener
		want Mode
	}{
		{"sidecar~10.0.0.1~web-1.shop~shop.svc.cluster.local", nil, ModeOutbound},
		{"router~10.0.0.2~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local", vo, ModeGateway},
		{"waypoint~10.0.0.3~waypoint-1.ns~ns.svc.cluster.local", nil, ModeGateway},
		{"", vo, ModeOutbound},
		{"", nil, ModeGateway},
	}
	for _, tt := range tests {
		if got := defaultMode(tt.node, tt.ls); got != tt.want {
			t.Errorf("defaultMode(%q) = %s, want %s", tt.node, got, tt.want)
		}
		if modeReason(tt.node, tt.ls) == "" {
			t.Errorf("no reason for %q", tt.node)
		}
	}
}

func TestAddressDefaults(t *testing.T) {
	node := "sidecar~10.0.0.9~web-1.shop~shop.svc.cluster.local"
	tests := []struct {
		name string
		req  ExplainRequest
		want string
		ok   bool
	}{
		{"inbound: the proxy's own", ExplainRequest{Connection: Connection{Mode: ModeInbound}, Host: "10.1.1.1"}, "10.0.0.9", true},
		{"gateway: the proxy's own", ExplainRequest{Connection: Connection{Mode: ModeGateway}, Host: "a.com"}, "10.0.0.9", true},
		{"outbound: an IP host", ExplainRequest{Connection: Connection{Mode: ModeOutbound}, Host: "10.1.1.1:80"}, "10.1.1.1", true},
		{"outbound: a name needs a search", ExplainRequest{Connection: Connection{Mode: ModeOutbound}, Host: "a.com"}, "", false},
		{"--listener: not the proxy's", ExplainRequest{Connection: Connection{Mode: ModeGateway}, Listener: "main_internal", Host: "a"}, "", false},
	}
	for _, tt := range tests {
		a, _, ok := quickAddress(tt.req, node)
		if ok != tt.ok || (ok && a.String() != tt.want) {
			t.Errorf("%s: got %v %v, want %s %v", tt.name, a, ok, tt.want, tt.ok)
		}
	}
	if a, ok := vhostAddress([]string{"reviews", "reviews:9080", "10.96.0.7", "10.96.0.7:9080"}, "reviews", 9080); !ok || a.String() != "10.96.0.7" {
		t.Errorf("vhostAddress = %v %v", a, ok)
	}
	if _, ok := vhostAddress([]string{"ratings", "10.96.0.8"}, "reviews", 9080); ok {
		t.Error("an IP of a virtual host that does not serve the host")
	}
	if NodeIP(node) != "10.0.0.9" || NodeIP("router~not-an-ip~x") != "" || NodeIP("") != "" {
		t.Error("NodeIP")
	}
}
