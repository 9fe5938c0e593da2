package gendump

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestAdminDocuments: each generated admin document is the JSON of its envoy.admin.v3 message
// (strictly: no unknown field), describes the same proxy as the config dump, and is
// deterministic.
func TestAdminDocuments(t *testing.T) {
	o := Options{Services: 30, Seed: 1}
	dump := parseDump(t, generate(t, Write, o))
	node := dump.bootstrap.GetBootstrap().GetNode()
	cases := []struct {
		name  string
		write func(*bytes.Buffer, Options) error
		msg   proto.Message
		check func(t *testing.T, m proto.Message)
	}{
		{"server_info", func(b *bytes.Buffer, o Options) error { return WriteServerInfo(b, o) }, &adminv3.ServerInfo{}, func(t *testing.T, m proto.Message) {
			si := m.(*adminv3.ServerInfo)
			if si.GetNode().GetId() != node.GetId() || si.GetState() != adminv3.ServerInfo_LIVE || !strings.Contains(si.GetVersion(), "/1.32.3-dev/") {
				t.Errorf("node %q (dump's %q), state %s, version %q", si.GetNode().GetId(), node.GetId(), si.GetState(), si.GetVersion())
			}
		}},
		{"certs", func(b *bytes.Buffer, o Options) error { return WriteCerts(b, o) }, &adminv3.Certificates{}, func(t *testing.T, m proto.Message) {
			c := m.(*adminv3.Certificates)
			if len(c.GetCertificates()) == 0 || c.GetCertificates()[0].GetCertChain()[0].GetSerialNumber() == "" {
				t.Errorf("certificates %v", c)
			}
		}},
		{"listeners", func(b *bytes.Buffer, o Options) error { return WriteListeners(b, o) }, &adminv3.Listeners{}, func(t *testing.T, m proto.Message) {
			if n := len(m.(*adminv3.Listeners).GetListenerStatuses()); n != len(dump.listeners.GetDynamicListeners())+len(dump.listeners.GetStaticListeners()) {
				t.Errorf("%d listener statuses, the dump has %d dynamic and %d static listeners", n, len(dump.listeners.GetDynamicListeners()), len(dump.listeners.GetStaticListeners()))
			}
		}},
		{"memory", func(b *bytes.Buffer, o Options) error { return WriteMemory(b, o) }, &adminv3.Memory{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := tc.write(&a, o); err != nil {
				t.Fatal(err)
			}
			tc.write(&b, o)
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("not deterministic")
			}
			if err := protojson.Unmarshal(a.Bytes(), tc.msg); err != nil {
				t.Fatalf("%v\n%.500s", err, a.String())
			}
			if tc.check != nil {
				tc.check(t, tc.msg)
			}
		})
	}
	// /runtime has no message: Envoy writes its JSON by hand.
	var runtime bytes.Buffer
	if err := WriteRuntime(&runtime, o); err != nil || !json.Valid(runtime.Bytes()) || !strings.Contains(runtime.String(), `"final_value": "false"`) {
		t.Errorf("runtime: %v\n%s", err, runtime.String())
	}
	var stats bytes.Buffer
	if err := WriteStats(&stats, o); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&stats)
	lines := 0
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ": ")
		if !ok || name == "" || strings.Trim(value, "0123456789") != "" {
			t.Fatalf("stats line %q", sc.Text())
		}
		lines++
	}
	if lines < 100 {
		t.Errorf("%d stats lines", lines)
	}
}
