package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// clientGoFailures are the messages client-go's port-forward reports through
// utilruntime.HandleError (k8s.io/client-go/tools/portforward, handleConnection), as
// kubelets word their reasons.
var clientGoFailures = []struct {
	name, msg string
	want      error  // the kind of the explanation, nil for none
	says      string // part of the explanation
	unsent    bool
}{
	{"refused", "an error occurred forwarding %d -> 15000: error forwarding port 15000 to pod x, uid 1: failed to connect to localhost:15000 inside namespace \"x\", IPv4: dial tcp4 127.0.0.1:15000: connect: connection refused",
		ErrNotListening, "nothing is listening on port 15000 in pod p in namespace n", false},
	{"data stream reset", "error creating forwarding stream for port %d -> 15000: Stream reset",
		ErrNoAnswer, "the kubelet reset the port-forward's connection to port 15000 of pod p in namespace n before it was set up", true},
	{"error stream reset", "error creating error stream for port %d -> 15000: Stream reset",
		ErrNoAnswer, "before it was set up (error creating error stream", true},
	{"other", "an error occurred forwarding %d -> 15000: something else",
		nil, "port-forward to pod p in namespace n: an error occurred forwarding", false},
	{"another port", "an error occurred forwarding 1 -> 15000: connection refused", nil, "", false},
	{"no port", "error copying from remote stream to local connection: broken pipe", nil, "", false},
}

func TestForwardFailures(t *testing.T) {
	for i, tc := range clientGoFailures {
		t.Run(tc.name, func(t *testing.T) {
			f := &Forwarder{local: uint16(40000 + i)}
			msg := tc.msg
			if strings.Contains(msg, "%d") {
				msg = fmt.Sprintf(msg, f.local)
			}
			failures.record(context.Background(), errors.New(msg), "")
			reqErr := io.EOF
			if got := f.Unsent(reqErr); got != tc.unsent {
				t.Fatalf("Unsent = %v, want %v", got, tc.unsent)
			}
			if tc.unsent {
				if f.Unsent(reqErr) {
					t.Fatal("Unsent twice for one failure: it must take the failure from the log")
				}
				failures.record(context.Background(), errors.New(msg), "") // the retry's failure
			}
			err := f.explainFailure("pod p in namespace n", 15000)(reqErr)
			switch {
			case tc.says == "":
				// Nothing of this port's own: the request's EOF is explained as a closed connection.
				if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), "closed the connection to port 15000 before any answer") {
					t.Errorf("explained as %v", err)
				}
			case !strings.Contains(fmt.Sprint(err), tc.says):
				t.Errorf("explained as %v, want %q", err, tc.says)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("explained as %v, not %v", err, tc.want)
			}
		})
	}
}

// TestAdminClientSendsUnsentAgain: a request the forward says never reached the pod is sent
// once more, and only once.
func TestAdminClientSendsUnsentAgain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		drops     int32 // connections closed before an answer
		unsent    bool
		wantCalls int32
		wantErr   bool
	}{
		{"dropped once, unsent", 1, true, 2, false},
		{"dropped twice, unsent", 2, true, 2, true},
		{"dropped once, sent", 1, false, 1, true},
		{"answered", 0, true, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conns, asked atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if conns.Add(1) <= tc.drops {
					c, _, _ := w.(http.Hijacker).Hijack()
					c.Close()
					return
				}
				_, _ = io.WriteString(w, `{"configs":[]}`)
			}))
			defer srv.Close()
			c, err := NewAdminClient(srv.URL, 0)
			if err != nil {
				t.Fatal(err)
			}
			c.unsent = func(error) bool { asked.Add(1); return tc.unsent }
			body, err := c.Open(context.Background(), "config_dump")
			if err == nil {
				data, _ := io.ReadAll(body)
				body.Close()
				if string(data) != `{"configs":[]}` {
					t.Errorf("body %q", data)
				}
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want an error: %v", err, tc.wantErr)
			}
			if got := conns.Load(); got != tc.wantCalls {
				t.Errorf("%d requests reached the server, want %d", got, tc.wantCalls)
			}
			if tc.drops > 0 && asked.Load() != 1 {
				t.Errorf("unsent asked %d times, want once", asked.Load())
			}
		})
	}
}
