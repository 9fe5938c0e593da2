package limits

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	l := Limit{Max: 10, What: "a test document"}
	for _, tc := range []struct {
		in      string
		wantErr bool
	}{{"", false}, {"0123456789", false}, {"0123456789a", true}, {strings.Repeat("x", 100000), true}} {
		got, err := ReadAll(strings.NewReader(tc.in), l)
		if tc.wantErr != (err != nil) || err != nil && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%d bytes: err %v", len(tc.in), err)
		}
		if len(got) > 10 {
			t.Errorf("%d bytes: read %d, more than the limit", len(tc.in), len(got))
		}
	}
	_, err := ReadAll(strings.NewReader(strings.Repeat("x", 11)), l)
	if want := "more than the limit of 10 bytes (10 B) for a test document; if it is one, raise --max-input"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 700: "700 B", 1536: "1.5 KiB", 2 << 30: "2 GiB", 256 << 20: "256 MiB", 200000000: "190.7 MiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
	for s, want := range map[string]int64{"1000": 1000, "512Mi": 512 << 20, "2Gi": 2 << 30, "500M": 500000000, "1k": 1000} {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "x", "-1", "0", "1.5", "10Zi"} {
		if _, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) succeeded", s)
		}
	}
}

// TestContextReader: a read from a pipe that sends nothing gives up when the context ends; data
// that arrives is read as it is.
func TestContextReader(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := ContextReader(ctx, pr)
	go pw.Write([]byte("hello"))
	buf := make([]byte, 100)
	n, err := io.ReadAtLeast(r, buf, 5)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	start := time.Now()
	_, err = r.Read(buf)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("idle pipe: %v after %s", err, time.Since(start))
	}
	if _, err := r.Read(buf); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a read after the deadline: %v", err)
	}
	r.Close()

	var all bytes.Buffer
	data := bytes.Repeat([]byte("0123456789"), 300000)
	if _, err := io.Copy(&all, ContextReader(context.Background(), bytes.NewReader(data))); err != nil || !bytes.Equal(all.Bytes(), data) {
		t.Errorf("copy through: %v, %d bytes of %d", err, all.Len(), len(data))
	}
}
