package configdump

import (
	"testing"
	"unsafe"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// sharesMemory reports whether s's bytes lie inside buf.
func sharesMemory(s string, buf []byte) bool {
	if len(s) == 0 {
		return false
	}
	p, b := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&buf[0]))
	return p >= b && p < b+uintptr(len(buf))
}

// TestOrderKeysOwnTheirText: the sort keys of clusters and listeners do not point into the
// document (a view sorts them after giving back the pages of the resources), and keep their
// values.
func TestOrderKeysOwnTheirText(t *testing.T) {
	const cluster, addr, listener = "outbound|9080|v1|reviews.default.svc.cluster.local", "0.0.0.0", "virtualInbound"
	doc := []byte(cluster + addr + listener)
	name := bytesToString(doc[:len(cluster)])
	addrText := bytesToString(doc[len(cluster) : len(cluster)+len(addr)])
	k := ClusterOrder(name)
	if k.Host != "reviews.default.svc.cluster.local" || k.Subset != "v1" || k.Port != 9080 || k.Direction != "outbound" {
		t.Fatalf("ClusterOrder(%q) = %+v", name, k)
	}
	for _, s := range []string{k.Host, k.Subset, k.Direction} {
		if sharesMemory(s, doc) {
			t.Errorf("ClusterOrder's %q shares the document's memory", s)
		}
	}
	if plain := ClusterOrder(addrText); plain.Host != "0.0.0.0" || sharesMemory(plain.Host, doc) {
		t.Errorf("ClusterOrder of a plain name = %+v (shares the document: %v)", plain, sharesMemory(plain.Host, doc))
	}
	l := &listenerv3.Listener{
		Name: bytesToString(doc[len(cluster)+len(addr):]),
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: addrText, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 15006},
		}}},
	}
	lk := ListenerOrder(l)
	if lk.port != 15006 || lk.addr != "0.0.0.0" || lk.name != "virtualInbound" {
		t.Fatalf("ListenerOrder = %+v", lk)
	}
	for _, s := range []string{lk.addr, lk.name, lk.typ} {
		if sharesMemory(s, doc) {
			t.Errorf("ListenerOrder's %q shares the document's memory", s)
		}
	}
}
